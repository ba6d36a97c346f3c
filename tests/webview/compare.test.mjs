// The compare view (real headless Chromium against a real `ttvis serve`): two sides in one page, each with
// its own territories and numbers, one slider driving both over the epochs both have, linked hover and
// selection, the same filters and colour mode on both, and the compare state saved and restored (URL hash;
// VS Code's webview state, which the extension's serializer reads back). Two methods on one run (a test
// method with an inverse map beside UMAP, which has none), and one method on two runs of different size and
// epochs. Every expectation comes from the server's own answers (`rpc`).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { PYTHON, REPO, decodeWire, launch, makeRun, openPage, rpc, startServe, vsCodeStandIn } from "./harness.mjs";

const SHOTS = process.env.UPDATE_SCREENSHOTS ? path.join(REPO, "docs") : path.join(REPO, "out", "screenshots");
mkdirSync(SHOTS, { recursive: true });
const ENV = { TTVIS_METHOD_MODULES: path.join(REPO, "tests/python/test_method_seam.py") };
const [WITH, WITHOUT] = ["TestPlane", "UMAP"]; // with an inverse map (territories, PPR), and without
let server, browser, run, small;

/** A copy of `run` beside it with its first 1500 samples and epochs 1-3 only, and no model (the prediction
 * head is then fitted per epoch), with TestPlane's results; returns its folder. */
function makeSmallRun(run) {
  const dst = path.join(path.dirname(run), "small");
  const code = `import json, shutil
import numpy as np
from pathlib import Path
from ttvis.pipeline import visualize
src, dst, n = Path(${JSON.stringify(run)}), Path(${JSON.stringify(dst)}), 1500
for k in ("representation", "prediction", "label", "sprites"):
    (dst / "dataset" / k).mkdir(parents=True)
for e in (1, 2, 3):
    for k in ("representation", "prediction"):
        np.save(dst / f"dataset/{k}/{e}.npy", np.load(src / f"dataset/{k}/{e}.npy")[:n])
np.save(dst / "dataset/label/labels.npy", np.load(src / "dataset/label/labels.npy")[:n])
for i in range(n):
    shutil.copy(src / f"dataset/sprites/{i}.png", dst / f"dataset/sprites/{i}.png")
info = json.loads((src / "dataset/info.json").read_text())
info.pop("model", None)
(dst / "dataset/info.json").write_text(json.dumps(info))
index = json.loads((src / "index.json").read_text())
(dst / "index.json").write_text(json.dumps({k: [i for i in v if i < n] for k, v in index.items()}))
visualize(str(dst), "TestPlane", {"zoom": 2}, run={"device": "cpu", "resolution": 64})`;
  const r = spawnSync(PYTHON, ["-c", code], { encoding: "utf8", timeout: 300_000, env: { ...process.env, ...ENV } });
  if (r.status !== 0) throw new Error(`making the small run failed: ${r.stderr}`);
  return dst;
}

before(async () => {
  ({ run } = makeRun(4, [[WITH, { zoom: 2 }, { device: "cpu", resolution: 64 }], [WITHOUT, { n_epochs: 30 }, { device: "cpu" }]], ENV));
  small = makeSmallRun(run);
  server = await startServe(path.dirname(run), { env: ENV });
  browser = await launch();
}, { timeout: 400_000 });

after(async () => {
  await browser?.close();
  server?.stop();
});

const compareUrl = (a, m, b, n) => `${server.url}&run=${encodeURIComponent(a)}&method=${m}&compareRun=${encodeURIComponent(b)}&compareMethod=${n}`;
const fmt = (v) => (typeof v === "number" ? v.toFixed(2) : "–");

/** Wait until both sides have drawn epoch `e`. */
const bothAt = (page, e) => page.waitForFunction((e) => window.__ttvis.drawn?.epoch === e && window.__ttvis.drawnB?.epoch === e, e, { timeout: 60_000 });

async function gotoEpoch(page, k) {
  await page.evaluate((k) => {
    const s = document.getElementById("epoch");
    s.value = String(k);
    s.dispatchEvent(new Event("input"));
  }, k);
}

/** A point of plot `key` (window.__ttvis[key]) well inside its canvas, among indices from..to. */
async function pointInside(page, key, selector, from = 0, to = Infinity) {
  const box = await page.locator(selector).boundingBox();
  const info = await page.evaluate(({ key, from, to, w, h }) => {
    const plot = window.__ttvis[key];
    const filtered = new Set(plot.get("filteredPoints"));
    const n = plot.get("points").length;
    for (let i = from; i < Math.min(n, to); i += 7) {
      const [x, y] = plot.getScreenPosition(i);
      if (x > 60 && y > 140 && x < w - 60 && y < h - 60 && filtered.has(i)) return { i, x, y };
    }
  }, { key, from, to, w: box.width, h: box.height });
  assert.ok(info, `a point of ${key} inside the canvas`);
  return { i: info.i, x: box.x + info.x, y: box.y + info.y };
}

/** The plot's points (normalised coordinates) against `ttvis/epoch`'s projection over its scale. */
function assertPositions(points, r) {
  const xy = decodeWire(r.projection);
  const [x0, y0, x1, y1] = r.scale;
  for (let i = 0; i < points.length; i += 97) {
    assert.ok(Math.abs(points[i][0] - (((xy[2 * i] - x0) / (x1 - x0)) * 2 - 1)) < 1e-4, `point ${i}: x`);
    assert.ok(Math.abs(points[i][1] - (((xy[2 * i + 1] - y0) / (y1 - y0)) * 2 - 1)) < 1e-4, `point ${i}: y`);
  }
}

test("two methods on one run side by side: each its own territories and numbers, one slider for both", async () => {
  const { page, errors } = await openPage(browser, compareUrl(run, WITH, run, WITHOUT), { width: 1400, height: 800 });
  try {
    await bothAt(page, 4);
    assert.equal(await page.evaluate(() => document.body.classList.contains("compare")), true);
    assert.equal(await page.isVisible("#side"), false, "the debugging side panels step aside");
    assert.equal(await page.textContent("#titleA"), `digits · ${WITH}`);
    assert.equal(await page.textContent("#titleB"), `digits · ${WITHOUT}`);
    assert.equal(await page.textContent("#compareNote"), "", "same epochs, same samples: nothing to say");
    const [boxA, boxB] = [await page.locator("#plot").boundingBox(), await page.locator("#plotB").boundingBox()];
    assert.ok(boxA.x + boxA.width <= boxB.x + 1 && boxA.width > 400 && boxB.width > 400, "two plots side by side");
    assert.deepEqual(await page.evaluate(() => [!!window.__ttvis.plot.get("backgroundImage"), !!window.__ttvis.plotB.get("backgroundImage")]),
      [true, false], "territories on the side with an inverse map only");

    // each side's own numbers: the epoch's NPR (and PPR, or why there is none) and the run's temporal measures
    const desc = await rpc(page, server, "ttvis/describe", { path: run });
    for (const [box, method] of [["#metrics", WITH], ["#metricsB", WITHOUT]]) {
      const { metrics: m } = await rpc(page, server, "ttvis/epoch", { path: run, method, epoch: 4 });
      const t = desc.methods[method].eval?.temporal ?? {};
      const text = await page.locator(box).innerText();
      assert.match(text, new RegExp(`NPR train ${fmt(m.npr_train)} · test ${fmt(m.npr_test)}`), `${method}: ${text}`);
      assert.match(text, method === WITH ? new RegExp(`PPR train ${fmt(m.ppr_train)} · test ${fmt(m.ppr_test)}`) : /PPR no inverse map/);
      assert.match(text, new RegExp(`temporal rank ${fmt(t.ranking_first)}/${fmt(t.ranking_mean)} · stab ${fmt(t.stability)}`));
    }

    // one slider, and the previous/next buttons, drive both sides
    assert.deepEqual(await page.evaluate(() => window.__ttvis.compare.epochs), [1, 2, 3, 4]);
    await gotoEpoch(page, 1);
    await bothAt(page, 2);
    assert.equal(await page.textContent("#epochLabel"), "epoch 2 / 4");
    await page.waitForTimeout(700); // the transition
    for (const [key, method] of [["plot", WITH], ["plotB", WITHOUT]]) {
      const pts = await page.evaluate((key) => window.__ttvis[key].get("points").map((p) => [p[0], p[1]]), key);
      assertPositions(pts, await rpc(page, server, "ttvis/epoch", { path: run, method, epoch: 2 }));
    }
    await page.click("#next");
    await bothAt(page, 3);
    await page.click("#prev");
    await bothAt(page, 2);

    // linked hover: the same sample is highlighted on the other side, with its tooltip
    const a = await pointInside(page, "plot", "#plot");
    await page.mouse.move(a.x, a.y);
    await page.waitForFunction((i) => window.__ttvis.hovered === i && window.__ttvis.hoveredB === i, a.i, { timeout: 10_000 });
    assert.equal(await page.evaluate(() => window.__ttvis.plotB.get("hoveredPoint")), a.i);
    assert.ok(await page.isVisible("#tooltipB"));
    assert.match(await page.textContent("#tooltipB"), new RegExp(`#${a.i}\\b`));
    await page.mouse.move(5, 5);
    await page.waitForFunction(() => window.__ttvis.hoveredB === null, null, { timeout: 10_000 });
    const b = await pointInside(page, "plotB", "#plotB");
    await page.mouse.move(b.x, b.y);
    await page.waitForFunction((i) => window.__ttvis.hoveredB === i && window.__ttvis.hovered === i, b.i, { timeout: 10_000 });
    assert.equal(await page.evaluate(() => window.__ttvis.plot.get("hoveredPoint")), b.i);
    assert.match(await page.textContent("#tooltip"), new RegExp(`#${b.i}\\b`));
    await page.screenshot({ path: path.join(SHOTS, "webview-compare.png") });
    await page.mouse.move(5, 5);

    // linked selection: made on the left, or on the right
    await page.fill("#search", "42");
    await page.press("#search", "Enter");
    await page.waitForFunction(() => window.__ttvis.selection?.index === 42 && window.__ttvis.compare.trajectory === 4, null, { timeout: 20_000 });
    assert.deepEqual(await page.evaluate(() => window.__ttvis.plotB.get("selectedPoints")), [42]);
    await page.evaluate(() => window.__ttvis.plotB.select([100, 5, 17]));
    await page.waitForFunction(() => window.__ttvis.selection?.list === 3, null, { timeout: 20_000 });
    assert.deepEqual(await page.evaluate(() => [...window.__ttvis.plot.get("selectedPoints")].sort((x, y) => x - y)), [5, 17, 100]);
    assert.deepEqual(await page.$$eval("#detail .sel-row", (rs) => rs.map((r) => Number(r.dataset.index))), [5, 17, 100]);
    await page.keyboard.press("Escape");
    await page.waitForFunction(() => document.getElementById("detail").hidden, null, { timeout: 5_000 });
    assert.deepEqual(await page.evaluate(() => [window.__ttvis.plot.get("selectedPoints"), window.__ttvis.plotB.get("selectedPoints")]), [[], []]);

    // the same filters and colour mode on both sides
    const e2 = await rpc(page, server, "ttvis/epoch", { path: run, method: WITHOUT, epoch: 2 });
    const train = decodeWire(e2.train), label = decodeWire(e2.label), pred = decodeWire(e2.predicted);
    await page.selectOption("#split", "test");
    const tests = train.filter((t) => !t).length;
    await page.waitForFunction((n) => window.__ttvis.drawn?.visible === n && window.__ttvis.drawnB?.visible === n, tests, { timeout: 30_000 });
    assert.equal(await page.evaluate(() => window.__ttvis.plotB.get("filteredPoints").length), tests);
    await page.selectOption("#split", "all");
    await page.selectOption("#colorBy", "correctness");
    await page.waitForFunction(() => window.__ttvis.plotB.get("points")[0][2] !== undefined && window.__ttvis.drawnB?.visible === 1797, null, { timeout: 30_000 });
    await page.waitForTimeout(300);
    const z = await page.evaluate(() => [window.__ttvis.plot.get("points").map((p) => p[2]), window.__ttvis.plotB.get("points").map((p) => p[2])]);
    for (const side of z) assert.deepEqual(side, Array.from(label, (l, i) => (pred[i] === l ? 0 : 1)));
    assert.deepEqual(await page.evaluate(() => window.__ttvis.plotB.get("pointColor")), await page.evaluate(() => window.__ttvis.plot.get("pointColor")));
    await page.selectOption("#colorBy", "label");

    // the compare view is part of the saved view: a reload comes back as it was
    const hash = new URLSearchParams((await page.evaluate(() => location.hash)).slice(1));
    assert.deepEqual([hash.get("compareRun"), hash.get("compareMethod")], [run, WITHOUT]);
    await gotoEpoch(page, 2);
    await bothAt(page, 3);
    await page.reload();
    await page.waitForFunction(() => window.__ttvis?.ready, null, { timeout: 60_000 });
    await bothAt(page, 3);
    assert.equal(await page.evaluate(() => document.body.classList.contains("compare")), true);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test("one method on two runs: the epochs both have, sample i linked with sample i where both have it", async () => {
  const { page, errors } = await openPage(browser, compareUrl(run, WITH, small, WITH), { width: 1400, height: 800 });
  try {
    await bothAt(page, 3);
    assert.deepEqual(await page.evaluate(() => window.__ttvis.epochs), [1, 2, 3], "the slider offers the epochs both runs have");
    assert.equal(await page.textContent("#epochLabel"), "epoch 3 / 3");
    const note = await page.textContent("#compareNote");
    assert.match(note, /epochs 1–3: those both sides have \(left 1–4, right 1–3\)/);
    assert.match(note, /left 1797 samples, right 1500: hover and selection are linked by index for 0–1499 only/);
    assert.deepEqual(await page.evaluate(() => [window.__ttvis.drawn.total, window.__ttvis.drawnB.total]), [1797, 1500]);
    assert.equal(await page.textContent("#titleB"), `small · ${WITH}`);
    assert.ok(await page.evaluate(() => !!window.__ttvis.plotB.get("backgroundImage")), "the right run's own territories");

    // a selection reaches the right side where it has the samples
    await page.evaluate(() => window.__ttvis.plot.select([10, 1600]));
    await page.waitForFunction(() => window.__ttvis.selection?.list === 2, null, { timeout: 20_000 });
    assert.deepEqual(await page.evaluate(() => window.__ttvis.plotB.get("selectedPoints")), [10]);
    await page.keyboard.press("Escape");
    await page.waitForFunction(() => document.getElementById("detail").hidden, null, { timeout: 5_000 });

    // hovering a sample the right run lacks highlights nothing there; one it has is linked
    const beyond = await pointInside(page, "plot", "#plot", 1500);
    await page.mouse.move(beyond.x, beyond.y);
    await page.waitForFunction((i) => window.__ttvis.hovered === i, beyond.i, { timeout: 10_000 });
    assert.equal(await page.evaluate(() => window.__ttvis.plotB.get("hoveredPoint")), undefined);
    assert.equal(await page.isVisible("#tooltipB"), false);
    await page.mouse.move(5, 5);
    const within = await pointInside(page, "plot", "#plot", 0, 1500);
    await page.mouse.move(within.x, within.y);
    await page.waitForFunction((i) => window.__ttvis.hoveredB === i, within.i, { timeout: 10_000 });
    await page.mouse.move(5, 5);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test("in VS Code a compare panel keeps compare {path, method} in its state, and comes back from it", async () => {
  const p1 = await browser.newPage({ viewport: { width: 1200, height: 700 } });
  const e1 = [];
  p1.on("pageerror", (e) => e1.push(e.message));
  await vsCodeStandIn(p1, server);
  // the extension's panel carries the compare target on <body data-…>: put it there before the page's script runs
  await p1.addInitScript((data) => {
    const obs = new MutationObserver(() => {
      if (!document.body) return;
      Object.assign(document.body.dataset, data);
      obs.disconnect();
    });
    obs.observe(document, { childList: true, subtree: true });
  }, { path: run, method: WITH, comparePath: run, compareMethod: WITHOUT });
  let saved;
  try {
    await p1.goto(server.url);
    await bothAt(p1, 4);
    await gotoEpoch(p1, 1);
    await bothAt(p1, 2);
    saved = await p1.evaluate(() => window.__vsStates.at(-1));
    assert.deepEqual(saved.compare, { path: run, method: WITHOUT });
    assert.deepEqual([saved.path, saved.method, saved.epoch], [run, WITH, 2]);
    assert.equal(await p1.evaluate(() => location.hash), "");
    assert.deepEqual(e1, []);
  } finally {
    await p1.close();
  }
  // a reloaded window: the webview state alone (what the serializer hands back) makes a compare panel again
  const p2 = await browser.newPage({ viewport: { width: 1200, height: 700 } });
  await vsCodeStandIn(p2, server);
  await p2.addInitScript((s) => { window.__vsStates = [s]; }, saved);
  try {
    await p2.goto(server.url);
    await bothAt(p2, 2);
    assert.equal(await p2.textContent("#titleB"), `digits · ${WITHOUT}`);
    assert.deepEqual(await p2.evaluate(() => window.__vsStates.at(-1).compare), { path: run, method: WITHOUT });
  } finally {
    await p2.close();
  }
});
