// The live view: the server follows a run while it is being recorded (`ttvis/watch`), and the page shows a
// "live" badge, grows the slider with each new epoch, follows the newest when it is at the newest, and stays
// where the user went back to otherwise. Real headless Chromium against a real `ttvis serve --trust` over
// folders that are empty when the watch starts; the digits run is recorded into them by a background
// Python process while the page is open.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { PYTHON, REPO, launch, openPage, rpc, startServe } from "./harness.mjs";

const SHOTS = path.join(REPO, "out", "screenshots");
mkdirSync(SHOTS, { recursive: true });
// a fast method configuration (the watch's method must be one fitted epoch by epoch)
const WATCH = { method: "DVI", params: { max_epochs: 3, first_epochs: 6 }, run: { device: "cpu", resolution: 32 } };
let server, browser, root, ctl;
const recorders = [];

before(async () => {
  root = mkdtempSync(path.join(tmpdir(), "ttvis-live-"));
  server = await startServe(root, { trust: true });
  browser = await launch();
  ctl = await browser.newPage(); // a page of the server's, for the test's own requests (rpc)
  await ctl.goto(server.url);
}, { timeout: 120_000 });

after(async () => {
  for (const p of recorders) if (p.exitCode === null) p.kill("SIGKILL");
  await browser?.close();
  server?.stop();
});

/** Record the digits run (4 epochs) into `run` in a background process; with `gate`, it stops after
 * epoch `gate.after` until the file `gate.file` exists. Resolves when it is started; `.done` when it ends. */
function record(run, gate) {
  const code = gate
    ? `import os, time
from ttvis.demo.digits import record_digits_run
def hold(epoch, total, metrics):
    while epoch == ${gate.after} and not os.path.exists(${JSON.stringify(gate.file)}):
        time.sleep(0.1)
record_digits_run(${JSON.stringify(run)}, epochs=4, on_epoch=hold)`
    : `from ttvis.demo.digits import record_digits_run; record_digits_run(${JSON.stringify(run)}, epochs=4)`;
  const proc = spawn(PYTHON, ["-c", code], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  proc.stderr.on("data", (d) => (err += d));
  proc.done = new Promise((resolve, reject) => proc.on("exit", (c) => (c === 0 ? resolve() : reject(new Error(`recording failed (${c}): ${err}`)))));
  recorders.push(proc);
  return proc;
}

/** Start watching `run` (an empty folder) and open the page on it; the page keeps a history of the
 * slider's epoch lists and of the epochs drawn (window.__lists, window.__drawn). */
async function watchAndOpen(run) {
  mkdirSync(run);
  const job = await rpc(ctl, server, "ttvis/watch", { path: run, ...WATCH });
  assert.equal(job.method, "DVI");
  const { page, errors } = await openPage(browser, `${server.url}&run=${encodeURIComponent(run)}&method=DVI`);
  await page.evaluate(() => {
    window.__lists = [];
    window.__drawn = [];
    window.__sample = () => {
      const t = window.__ttvis;
      const l = JSON.stringify(t.epochs ?? []);
      if (l !== window.__lists.at(-1)) window.__lists.push(l);
      const e = t.drawn?.epoch;
      if (e !== undefined && e !== window.__drawn.at(-1)) window.__drawn.push(e);
    };
    setInterval(window.__sample, 20);
  });
  return { job, page, errors };
}

const badge = (page) => page.evaluate(() => ({ shown: !document.getElementById("live").hidden, text: document.getElementById("live").textContent }));
const statusText = (page) => page.textContent("#status");

test("a run followed while it is recorded: a live badge, every epoch once, the view follows the newest", async () => {
  const run = path.join(root, "live1");
  const { job, page, errors } = await watchAndOpen(run);
  try {
    // nothing recorded yet: the watch says what it waits for, and the badge shows
    await page.waitForFunction(() => !document.getElementById("live").hidden, null, { timeout: 30_000 });
    assert.equal((await badge(page)).text, "live");
    await page.waitForFunction(() => /^Following DVI live/.test(document.getElementById("status").textContent), null, { timeout: 30_000 });
    assert.equal(await page.$("#status.error"), null);

    const rec = record(run);
    await page.waitForFunction(() => window.__ttvis.drawn?.epoch === 4 && JSON.stringify(window.__ttvis.epochs) === "[1,2,3,4]",
      null, { timeout: 240_000 }).catch(async (e) => {
      throw new Error(`${e.message}; ${JSON.stringify(await page.evaluate(() => [window.__lists, window.__drawn, document.getElementById("status").textContent]))}`);
    });
    await rec.done;
    const { lists, drawn } = await page.evaluate(() => (window.__sample(), { lists: window.__lists.map((l) => JSON.parse(l)), drawn: window.__drawn }));
    // the slider only ever grew: each list is the one before it plus new epochs, none twice
    for (const [k, l] of lists.entries()) {
      assert.deepEqual(l, [...new Set(l)].sort((a, b) => a - b), `slider list ${JSON.stringify(l)} is ascending, each epoch once`);
      if (k) assert.deepEqual(l.slice(0, lists[k - 1].length), lists[k - 1], `the slider grew: ${JSON.stringify(lists)}`);
    }
    assert.deepEqual(lists.at(-1), [1, 2, 3, 4]);
    assert.deepEqual(drawn, [...drawn].sort((a, b) => a - b), `the view only moved forward: ${JSON.stringify(drawn)}`);
    assert.equal(drawn.at(-1), 4, `drawn ${JSON.stringify(drawn)}, slider ${JSON.stringify(lists)}, now ${JSON.stringify(await page.evaluate(() => window.__ttvis.drawn))}`);
    assert.equal(await page.textContent("#epochLabel"), "epoch 4 / 4");
    assert.equal(await page.getAttribute("#epoch", "max"), "3");
    assert.equal(await page.evaluate(() => window.__ttvis.drawn.total), 1797);
    assert.equal((await badge(page)).shown, true, "still followed");
    await page.screenshot({ path: path.join(SHOTS, "webview-live.png") });

    // stop following: the badge goes, the status says how it ended
    await rpc(ctl, server, "ttvis/cancel", { job: job.job });
    await page.waitForFunction(() => document.getElementById("live").hidden, null, { timeout: 30_000 });
    await page.waitForFunction(() => /^Live view of DVI ended: stopped following after 4 new epoch/.test(document.getElementById("status").textContent),
      null, { timeout: 30_000 });
    assert.equal(await page.evaluate(() => window.__ttvis.live), false);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test("a user who went back to an earlier epoch stays there while the slider grows", async () => {
  const run = path.join(root, "live2");
  const gate = { after: 3, file: path.join(root, "live2.go") };
  const { job, page, errors } = await watchAndOpen(run);
  try {
    const rec = record(run, gate); // epochs 1-3 now, epoch 4 once the test says so
    await page.waitForFunction(() => window.__ttvis.drawn?.epoch === 3 && JSON.stringify(window.__ttvis.epochs) === "[1,2,3]",
      null, { timeout: 240_000 });
    assert.equal((await badge(page)).shown, true);
    // back to epoch 2 before epoch 4 exists
    await page.evaluate(() => {
      const s = document.getElementById("epoch");
      s.value = "1";
      s.dispatchEvent(new Event("input"));
    });
    await page.waitForFunction(() => window.__ttvis.drawn?.epoch === 2, null, { timeout: 30_000 });
    writeFileSync(gate.file, "go");
    await page.waitForFunction(() => JSON.stringify(window.__ttvis.epochs) === "[1,2,3,4]", null, { timeout: 240_000 });
    await rec.done;
    await page.waitForTimeout(1500); // time for any (wrong) jump to happen
    assert.equal(await page.evaluate(() => window.__ttvis.drawn.epoch), 2, "the view stays where the user put it");
    assert.equal(await page.textContent("#epochLabel"), "epoch 2 / 4");
    assert.equal(await page.getAttribute("#epoch", "max"), "3", "the slider reaches the new epoch");
    assert.equal(await page.inputValue("#epoch"), "1");
    assert.deepEqual(await page.evaluate(() => (window.__sample(), window.__drawn.slice(-2))), [3, 2]);
    // the next step forward reaches the new epoch
    await page.click("#next");
    await page.click("#next");
    await page.waitForFunction(() => window.__ttvis.drawn?.epoch === 4, null, { timeout: 30_000 });
    await rpc(ctl, server, "ttvis/cancel", { job: job.job });
    await page.waitForFunction(() => document.getElementById("live").hidden, null, { timeout: 30_000 });
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});
