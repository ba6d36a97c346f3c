// Render performance of the page in headless Chromium: epoch switch time and frames per second
// while playing, at 100,000 and 1,000,000 points (synthetic positions), against a real `ttvis serve`.
//
//   node benchmarks/render_bench.mjs [--sizes 100000,1000000]
//
// Chromium here renders WebGL in software (SwiftShader, --disable-gpu): a GPU machine is faster.
// "switch" = the synchronous work of an epoch change once the epoch's data is loaded (decoded arrays ->
// point buffers -> draw call up to the start of the animated transition); target < 16 ms at 100k.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { PYTHON, REPO, launch, openPage, startServe } from "../tests/webview/harness.mjs";

const sizes = (process.argv.includes("--sizes") ? process.argv[process.argv.indexOf("--sizes") + 1] : "100000,1000000").split(",").map(Number);
const EPOCHS = 5;

function makeRun(n) {
  const dir = path.join(REPO, "benchmarks", "_data", `render${n}`, "run");
  const code = `import sys; sys.path.insert(0, ${JSON.stringify(path.join(REPO, "benchmarks"))})
from server_epoch import make_run; from pathlib import Path; make_run(Path(${JSON.stringify(dir)}), ${n}, d=8, epochs=${EPOCHS})`;
  const r = spawnSync(PYTHON, ["-c", code], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return dir;
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const browser = await launch();
console.log("points      first load   switch median (max)   fps playing");
for (const n of sizes) {
  const run = makeRun(n);
  const server = await startServe(path.dirname(run));
  const { page } = await openPage(browser, `${server.url}&run=${encodeURIComponent(run)}`, { width: 1200, height: 900 });
  const t0 = Date.now();
  const go = async (e) => {
    await page.evaluate((e) => { const s = document.getElementById("epoch"); s.value = String(e - 1); s.dispatchEvent(new Event("input")); }, e);
    await page.waitForFunction((e) => window.__ttvis.drawn?.epoch === e, e, { timeout: 120_000 }).catch(async (err) => {
      throw new Error(`${err.message}: page at ${JSON.stringify(await page.evaluate(() => [window.__ttvis.drawn, document.getElementById("status").textContent, document.getElementById("epoch").value, document.getElementById("epoch").max]))}`);
    });
    return page.evaluate(() => window.__ttvis.lastPrepareMs);
  };
  for (let e = 1; e <= EPOCHS; e++) await go(e); // load every epoch once (network + decode)
  const firstLoad = (Date.now() - t0) / EPOCHS;
  const switches = [];
  for (let rep = 0; rep < 2; rep++) for (let e = 1; e <= EPOCHS; e++) switches.push(await go(e));
  await go(1);
  const fps = await page.evaluate(async () => {
    let frames = 0, run = true;
    const tick = () => { frames++; if (run) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    document.getElementById("play").click();
    const t = performance.now();
    await new Promise((r) => setTimeout(r, 4000));
    run = false;
    document.getElementById("play").click();
    return (frames * 1000) / (performance.now() - t);
  });
  console.log(`${String(n).padEnd(11)} ${(firstLoad / 1000).toFixed(2).padStart(7)} s   ${median(switches).toFixed(1).padStart(8)} ms (${Math.max(...switches).toFixed(1)})   ${fps.toFixed(1).padStart(8)}`);
  await page.close();
  server.stop();
}
await browser.close();
