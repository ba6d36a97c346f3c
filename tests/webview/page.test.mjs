// The visualization page in real headless Chromium against a real `ttvis serve` on the digits run.
import assert from "node:assert/strict";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { PNG } from "pngjs";
import { spawnSync } from "node:child_process";
import { PYTHON, REPO, decodeWire, launch, makeDigitsRun, makeTextRun, openPage, rpc, startServe, vsCodeStandIn } from "./harness.mjs";

const SHOTS = process.env.UPDATE_SCREENSHOTS ? path.join(REPO, "docs") : path.join(REPO, "out", "screenshots");
mkdirSync(SHOTS, { recursive: true });
let server, browser, page, errors, run, textRun;

before(async () => {
  ({ run } = makeDigitsRun(6));
  textRun = makeTextRun(run);
  server = await startServe(path.dirname(run));
  browser = await launch();
  ({ page, errors } = await openPage(browser, server.url));
}, { timeout: 400_000 });

after(async () => {
  await browser?.close();
  server?.stop();
});

const drawn = () => page.evaluate(() => window.__ttvis.drawn);
const points = () => page.evaluate(() => window.__ttvis.plot.get("points").map((p) => [p[0], p[1]]));

async function plotPixels() {
  const box = await page.locator("#plot").boundingBox();
  const png = PNG.sync.read(await page.screenshot({ clip: box }));
  return png;
}

/** Move the mouse onto a point well inside the plot (every `step`-th sample is tried). */
async function hoverSomePoint(pg, step) {
  const info = await pg.evaluate((step) => {
    const plot = window.__ttvis.plot;
    for (let i = 0; i < plot.get("points").length; i += step) {
      const [x, y] = plot.getScreenPosition(i);
      if (x > 150 && y > 50 && x < 900 && y < 650) return { i, x, y };
    }
  }, step);
  const box = await pg.locator("#plot").boundingBox();
  await pg.mouse.move(box.x + info.x, box.y + info.y);
}

async function gotoEpoch(e) {
  await page.evaluate((e) => {
    const s = document.getElementById("epoch");
    s.value = String(e - 1);
    s.dispatchEvent(new Event("input"));
  }, e);
  await page.waitForFunction((e) => window.__ttvis.drawn?.epoch === e, e, { timeout: 30_000 });
  await page.waitForTimeout(700); // let the transition finish
}

test("points and territories render", async () => {
  assert.deepEqual(errors, []);
  const d = await drawn();
  assert.equal(d.total, 1797);
  assert.equal(d.visible, 1797);
  const png = await plotPixels();
  let nonWhite = 0, pointish = 0;
  const colors = new Set();
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
    if (r < 245 || g < 245 || b < 245) nonWhite++;
    const sat = Math.max(r, g, b) - Math.min(r, g, b);
    if (sat > 120) pointish++; // saturated class colours: the points (the territories are pale)
    colors.add((r << 16) | (g << 8) | b);
  }
  const total = png.data.length / 4;
  assert.ok(colors.size > 50, `the plot is not blank (${colors.size} colours)`);
  assert.ok(nonWhite / total > 0.4, `the territory background covers the plot (${(nonWhite / total).toFixed(2)})`);
  assert.ok(pointish > 1000, `points are drawn over it (${pointish} saturated pixels)`);
  await page.screenshot({ path: path.join(SHOTS, "webview-page.png") });
});

test("the slider changes the epoch and the positions change", async () => {
  await gotoEpoch(6);
  const late = await points();
  await gotoEpoch(1);
  const early = await points();
  assert.equal((await drawn()).epoch, 1);
  assert.equal(await page.textContent("#epochLabel"), "epoch 1 / 6");
  let moved = 0;
  for (let i = 0; i < early.length; i++) if (Math.hypot(early[i][0] - late[i][0], early[i][1] - late[i][1]) > 0.01) moved++;
  assert.ok(moved > 1000, `${moved} points moved between epochs 1 and 6`);
});

test("hover shows the tooltip with the sample's label and prediction", async () => {
  await gotoEpoch(6);
  await hoverSomePoint(page, 37);
  await page.waitForSelector("#tooltip:not([hidden])", { timeout: 10_000 });
  const hovered = await page.evaluate(() => window.__ttvis.hovered);
  const tipLabel = await page.textContent("#tipLabel");
  const py = spawnSync(PYTHON, ["-c", `import numpy as np; print(int(np.load(${JSON.stringify(run + "/dataset/label/labels.npy")})[${hovered}]))`], { encoding: "utf8" });
  assert.equal(tipLabel, py.stdout.trim());
  assert.match(await page.textContent("#tooltip"), new RegExp(`#${hovered}`));
  await page.waitForFunction(() => document.querySelector("#tipSprite")?.src?.startsWith("data:image/png"), null, { timeout: 10_000 });
  await page.screenshot({ path: path.join(SHOTS, "webview-hover.png") });
});

test("a class filter hides the other class", async () => {
  const before = await drawn();
  const counts = await page.$$eval(".legend-row", (rows) => rows.map((r) => Number(r.querySelector(".count").textContent)));
  await page.click('.legend-row[data-cls="3"]');
  await page.waitForFunction((n) => window.__ttvis.drawn.visible === n, before.total - counts[3], { timeout: 10_000 });
  const filtered = await page.evaluate(() => window.__ttvis.plot.get("filteredPoints").length);
  assert.equal(filtered, before.total - counts[3]);
  await page.click('.legend-row[data-cls="3"]');
  await page.waitForFunction((n) => window.__ttvis.drawn.visible === n, before.total, { timeout: 10_000 });
});

test("selecting a sample shows its trajectory and neighbours", async () => {
  await page.fill("#search", "42");
  await page.press("#search", "Enter");
  await page.waitForFunction(() => window.__ttvis.selection?.index === 42, null, { timeout: 20_000 });
  const sel = await page.evaluate(() => window.__ttvis.selection);
  assert.equal(sel.trajectory, 6);
  assert.equal(sel.neighbors, 10);
  assert.ok(await page.isVisible("#detail"));
  assert.match(await page.textContent("#detail"), /sample #42/);
  await page.screenshot({ path: path.join(SHOTS, "webview-selection.png") });
  await page.keyboard.press("Escape");
});

test("play steps through every epoch", async () => {
  await gotoEpoch(1);
  // record every epoch label the page shows: a MutationObserver sees each change, however slow the frames
  await page.evaluate(() => {
    window.__seen = [];
    const label = document.getElementById("epochLabel");
    const obs = new MutationObserver(() => {
      const e = Number(/epoch (\d+)/.exec(label.textContent)?.[1]);
      if (window.__seen[window.__seen.length - 1] !== e) window.__seen.push(e);
    });
    obs.observe(label, { childList: true, characterData: true, subtree: true });
    window.__seen.push(window.__ttvis.drawn.epoch);
    window.__stopSeen = () => obs.disconnect();
  });
  await page.selectOption("#speed", "4");
  await page.click("#play");
  await page.waitForFunction(() => window.__ttvis.drawn.epoch === 6 && document.getElementById("play").textContent === "▶", null, { timeout: 30_000 })
    .catch(async (e) => {
      throw new Error(`${e.message}; page state ${JSON.stringify(await page.evaluate(() => [window.__ttvis.drawn, window.__seen, document.getElementById("play").textContent, document.getElementById("status").textContent]))}`);
    });
  const seen = await page.evaluate(() => (window.__stopSeen(), window.__seen));
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
  await page.selectOption("#speed", "1");
});

test("a representation-only run shows each sample's text, no territories and no label", async () => {
  const { page: p2, errors: e2 } = await openPage(browser, `${server.url}&run=${encodeURIComponent(textRun)}`);
  try {
    await p2.waitForFunction(() => window.__ttvis.drawn?.epoch === 3, null, { timeout: 30_000 });
    assert.match(await p2.textContent("#runName"), /text-run/);
    await hoverSomePoint(p2, 41);
    await p2.waitForSelector("#tooltip .tip-sample-text", { timeout: 10_000 });
    const hovered = await p2.evaluate(() => window.__ttvis.hovered);
    assert.equal(await p2.textContent("#tooltip .tip-sample-text"), `text of sample ${hovered}`);
    assert.equal(await p2.$("#tipLabel"), null);
    // no predictions, no labels: no training dynamics, and the side panels say so calmly
    await p2.waitForFunction(() => window.__ttvis.suspects?.note, null, { timeout: 30_000 });
    assert.match(await p2.textContent("#suspects"), /No training dynamics for this run/);
    assert.equal(await p2.isVisible("#mapBox"), false);
    assert.equal(await p2.$("#status.error"), null);
    assert.deepEqual(e2, []);
  } finally {
    await p2.close();
  }
});

// ---- the defects 12-18 ---------------------------------------------------------------

/** The digits run's epoch `e` as `ttvis/epoch` sends it (arrays decoded), from a client of our own. */
async function epochData(e) {
  const r = await rpc(page, server, "ttvis/epoch", { path: run, method: "DVI", epoch: e });
  return { predicted: decodeWire(r.predicted), label: decodeWire(r.label), train: decodeWire(r.train), confidence: decodeWire(r.confidence) };
}

/** Change a control and wait until the page has redrawn. */
async function changeAndRedraw(fn) {
  await page.evaluate(() => { window.__ttvis.drawn = null; });
  await fn();
  await page.waitForFunction(() => window.__ttvis.drawn, null, { timeout: 30_000 });
  await page.waitForTimeout(300);
}

/** The colours of the plot's pixels at the centres of the points `indices`: [[i, [r, g, b]], ...]. */
async function pointCentreColors(indices) {
  const xy = await page.evaluate((idx) => idx.map((i) => window.__ttvis.plot.getScreenPosition(i).map(Math.round)), indices);
  const png = await plotPixels();
  const out = [];
  indices.forEach((i, n) => {
    const [x, y] = xy[n];
    if (x < 0 || y < 0 || x >= png.width || y >= png.height) return;
    const k = (y * png.width + x) * 4;
    out.push([i, [png.data[k], png.data[k + 1], png.data[k + 2]]]);
  });
  return out;
}

function pearson(a, b) {
  const n = a.length, ma = a.reduce((s, v) => s + v, 0) / n, mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

test("colour by confidence paints the points along the legend's colour ramp, not white", async () => {
  await gotoEpoch(4);
  await changeAndRedraw(() => page.selectOption("#colorBy", "confidence"));
  await page.mouse.move(5, 5); // no hover highlight
  const e = await epochData(4);
  const train = [];
  for (let i = 0; i < e.train.length; i += 3) if (e.train[i]) train.push(i);
  const seen = await pointCentreColors(train);
  await page.screenshot({ path: path.join(SHOTS, "webview-confidence.png") });
  // a white point (drawn at 0.9 opacity) over the pale territory stays above 229 in every channel
  const coloured = seen.filter(([, c]) => Math.min(...c) < 200);
  const distinct = new Set(coloured.map(([, c]) => c.map((v) => v >> 5).join(",")));
  assert.ok(coloured.length > 0.8 * seen.length, `${coloured.length} of ${seen.length} point centres are coloured, not white`);
  assert.ok(distinct.size >= 3, `several colours (${[...distinct].join(" ")})`);
  // ... and the colours are the legend's ramp, in the order of the confidences
  const gradient = await page.$eval("#legend .ramp-bar", (b) => getComputedStyle(b).backgroundImage);
  const ramp = [...gradient.matchAll(/rgb\((\d+), (\d+), (\d+)\)/g)].map((m) => [Number(m[1]), Number(m[2]), Number(m[3])]);
  assert.ok(ramp.length >= 8, gradient);
  const nearest = seen.map(([i, c]) => {
    let best = -1, dist = Infinity;
    ramp.forEach((r, k) => {
      const d = Math.hypot(r[0] - c[0], r[1] - c[1], r[2] - c[2]);
      if (d < dist) [best, dist] = [k, d];
    });
    return { i, k: best, dist, c };
  });
  const onRamp = nearest.filter((p) => p.dist < 50); // a point is drawn at 0.9 opacity over the territory
  assert.ok(onRamp.length > 0.8 * seen.length, `${onRamp.length} of ${seen.length} point centres show a ramp colour (e.g. ${JSON.stringify(nearest.slice(0, 5))})`);
  const bins = new Map();
  for (const p of onRamp) bins.set(p.k, (bins.get(p.k) ?? 0) + 1);
  const used = [...bins.values()].filter((n) => n >= 3).length;
  assert.ok(used >= 3, `several ramp colours appear (${JSON.stringify([...bins])})`);
  const r = pearson(onRamp.map((p) => p.k), onRamp.map((p) => e.confidence[p.i]));
  assert.ok(r > 0.6, `the colour follows the confidence (correlation ${r.toFixed(2)})`);
});

test("the legend follows the colour mode", async () => {
  // confidence (chosen by the previous test): a ramp with its two ends, no class rows
  assert.ok(await page.$("#legend .legend-ramp"), "a confidence ramp");
  assert.equal((await page.$$("#legend .legend-row")).length, 0);
  assert.match(await page.textContent("#legend .legend-ramp"), /0\.1 \(chance\).*1 \(sure\)/);

  await changeAndRedraw(() => page.selectOption("#colorBy", "correctness"));
  const rows = await page.$$eval("#legend .legend-row", (rs) => rs.map((r) => [r.querySelector(".name").textContent, Number(r.querySelector(".count").textContent)]));
  const e = await epochData(4);
  let wrong = 0;
  for (let i = 0; i < e.label.length; i++) if (e.label[i] !== e.predicted[i]) wrong++;
  assert.deepEqual(rows, [["correct", e.label.length - wrong], ["wrong", wrong]]);

  await changeAndRedraw(() => page.selectOption("#colorBy", "label"));
  assert.equal((await page.$$("#legend .legend-row[data-cls]")).length, 10);
  assert.equal(await page.$("#legend .legend-ramp"), null);
});

test("train and test samples are drawn differently and the legend says how", async () => {
  const text = await page.textContent("#legend");
  assert.match(text, /train: small, solid/);
  assert.match(text, /test: large, faded/);
  const enc = await page.evaluate(() => {
    const p = window.__ttvis.plot;
    return { sizeBy: p.get("sizeBy"), opacityBy: p.get("opacityBy"), size: p.get("pointSize"), opacity: p.get("opacity"), w: p.get("points").map((q) => q[3]) };
  });
  assert.equal(enc.sizeBy, "valueW");
  assert.equal(enc.opacityBy, "valueW");
  assert.ok(enc.size[1] > enc.size[0] && enc.opacity[1] < enc.opacity[0], JSON.stringify(enc.size) + JSON.stringify(enc.opacity));
  const { train } = await epochData(4);
  assert.ok(train.some((t) => !t), "the run has test samples");
  for (let i = 0; i < train.length; i++) assert.equal(enc.w[i], train[i] ? 0 : 1, `sample ${i}'s split`);
});

test("prediction changed compares each epoch with the one before it in the run", async () => {
  const pred = {};
  for (const e of [1, 2, 4, 5, 6]) pred[e] = (await epochData(e)).predicted;
  const changed = (a, b) => pred[a].reduce((n, v, i) => n + (v !== pred[b][i] ? 1 : 0), 0);
  await gotoEpoch(6);
  await page.check("#changed");
  await page.waitForFunction((n) => window.__ttvis.drawn.visible === n, changed(6, 5), { timeout: 30_000 });
  for (const [e, b] of [[2, 1], [5, 4]]) { // from the last epoch back to the second, then forward again
    await gotoEpoch(e);
    const d = await drawn();
    assert.equal(d.before, b);
    assert.equal(d.visible, changed(e, b), `epoch ${e}: samples whose prediction differs from epoch ${b}'s`);
    assert.match(await page.textContent("#legend"), new RegExp(`since epoch ${b}`));
  }
  await gotoEpoch(1);
  assert.equal((await drawn()).visible, 0, "the first epoch has nothing to compare with");
  await page.uncheck("#changed");
  await page.waitForFunction(() => window.__ttvis.drawn.visible === 1797, null, { timeout: 30_000 });
});

test("a successful search clears an earlier error", async () => {
  await page.fill("#search", "99999");
  await page.press("#search", "Enter");
  await page.waitForSelector("#status.error", { timeout: 5_000 });
  await page.fill("#search", "7");
  await page.press("#search", "Enter");
  await page.waitForFunction(() => window.__ttvis.selection?.index === 7, null, { timeout: 20_000 });
  assert.equal(await page.$("#status.error"), null);
  assert.equal((await page.textContent("#status")).trim(), "");
  await page.keyboard.press("Escape");
});

test("a multi-sample selection is a gallery of every selected sample; a card selects that one", async () => {
  await gotoEpoch(6);
  const picked = [5, 17, 100, 250, 1000, 1500];
  await page.evaluate((p) => window.__ttvis.plot.select(p), [1500, 5, 250, 17, 1000, 100]);
  await page.waitForFunction((n) => document.querySelectorAll("#detail .sel-row").length === n, picked.length, { timeout: 10_000 });
  const rows = await page.$$eval("#detail .sel-row", (rs) => rs.map((r) => [Number(r.dataset.index),
    ...[".idx", ".cls", ".conf"].map((k) => r.querySelector(k).textContent)]));
  assert.deepEqual(rows.map((r) => r[0]), picked);
  const { classes } = await rpc(page, server, "ttvis/describe", { path: run });
  const e = await epochData(6);
  for (const [i, idx, cls, conf] of rows) {
    assert.deepEqual([idx, cls, conf], [`#${i}`, `${classes[e.label[i]]} → ${classes[e.predicted[i]]}`, e.confidence[i].toFixed(2)]);
  }
  assert.match(await page.textContent("#detail h3"), /6 samples selected/);
  await page.waitForFunction((n) => document.querySelectorAll("#detail .sel-row img[src^='data:image/png']").length === n, picked.length, { timeout: 20_000 });
  await page.screenshot({ path: path.join(SHOTS, "webview-selection-list.png") });

  // a row selects that one sample: today's detail view, with a way back to the list
  await page.click('#detail .sel-row[data-index="250"]');
  await page.waitForFunction(() => window.__ttvis.selection?.index === 250, null, { timeout: 20_000 });
  assert.match(await page.textContent("#detail"), /sample #250/);
  assert.deepEqual(await page.evaluate(() => window.__ttvis.plot.get("selectedPoints")), [250]);
  await page.click("#dBack");
  await page.waitForFunction((n) => document.querySelectorAll("#detail .sel-row").length === n, picked.length, { timeout: 10_000 });

  // a big selection: the first 100 cards and a line for the rest
  await page.evaluate(() => window.__ttvis.plot.select(Array.from({ length: 150 }, (_, i) => i)));
  await page.waitForFunction(() => document.querySelectorAll("#detail .sel-row").length === 100, null, { timeout: 10_000 });
  assert.match(await page.textContent("#detail .sel-more"), /50 more/);
  await page.keyboard.press("Escape");
  await page.waitForFunction(() => document.getElementById("detail").hidden, null, { timeout: 5_000 });
});

test("a reload right after moving the slider shows the same epoch, colour and filters", async () => {
  await gotoEpoch(6);
  await changeAndRedraw(() => page.selectOption("#colorBy", "predicted"));
  await changeAndRedraw(() => page.selectOption("#split", "test"));
  await page.evaluate(() => {
    const s = document.getElementById("epoch");
    s.value = "2";
    s.dispatchEvent(new Event("input"));
  });
  await page.reload(); // at once: no time for the epoch to load
  await page.waitForFunction(() => window.__ttvis?.ready && window.__ttvis.drawn, null, { timeout: 60_000 });
  assert.equal((await drawn()).epoch, 3);
  assert.equal(await page.textContent("#epochLabel"), "epoch 3 / 6");
  assert.equal(await page.inputValue("#colorBy"), "predicted");
  assert.equal(await page.inputValue("#split"), "test");
  const { train } = await epochData(3);
  assert.equal((await drawn()).visible, train.filter((t) => !t).length);
  await changeAndRedraw(() => page.selectOption("#colorBy", "label"));
  await changeAndRedraw(() => page.selectOption("#split", "all"));
  assert.deepEqual(errors, []);
});

test("results that stop short of their planned epochs say so beside the epoch label", async () => {
  assert.equal(await page.textContent("#partial"), "");
  const partial = path.join(path.dirname(run), "partial");
  cpSync(run, partial, { recursive: true });
  rmSync(path.join(partial, "visualize/DVI/projection/6.npy"));
  const { page: p2, errors: e2 } = await openPage(browser, `${server.url}&run=${encodeURIComponent(partial)}&method=DVI`);
  try {
    await p2.waitForFunction(() => window.__ttvis.drawn?.epoch === 5, null, { timeout: 30_000 });
    assert.equal(await p2.textContent("#partial"), "partial: 5/6 epochs");
    assert.equal(await p2.textContent("#epochLabel"), "epoch 5 / 5");
    assert.deepEqual(e2, []);
  } finally {
    await p2.close();
  }
});

test("in VS Code the view state is saved with the webview at once on every change", async () => {
  // a stand-in for VS Code's webview API: rpc messages relayed to the server's websocket, state kept here
  const p2 = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  const e2 = [];
  p2.on("pageerror", (e) => e2.push(e.message));
  await vsCodeStandIn(p2, server);
  try {
    await p2.goto(`${server.url}&run=${encodeURIComponent(run)}`);
    await p2.waitForFunction(() => window.__ttvis?.ready && window.__ttvis.drawn?.epoch === 6, null, { timeout: 60_000 });
    const saved = await p2.evaluate(() => {
      const seen = {};
      const s = document.getElementById("epoch");
      s.value = "1";
      s.dispatchEvent(new Event("input"));
      seen.epoch = window.__vsStates.at(-1).epoch; // synchronously: no load, no timer in between
      const c = document.getElementById("colorBy");
      c.value = "correctness";
      c.dispatchEvent(new Event("change"));
      seen.colorBy = window.__vsStates.at(-1).colorBy;
      const sp = document.getElementById("speed");
      sp.value = "2";
      sp.dispatchEvent(new Event("change"));
      seen.speed = window.__vsStates.at(-1).speed;
      return seen;
    });
    assert.deepEqual(saved, { epoch: 2, colorBy: "correctness", speed: 2 });
    assert.equal(await p2.evaluate(() => location.hash), "", "VS Code keeps the state, not the URL");
    assert.deepEqual(e2, []);
  } finally {
    await p2.close();
  }
});
