// Debugging a training run in the page (real headless Chromium against a real `ttvis serve`), on a digits
// run recorded with 10% of its training labels flipped (dataset/noise.json says which): the suspicious-
// samples panel, the data map linked with the main plot, the training-events panel, neighbour-line modes,
// box and lasso selections with the gallery's trails and CSV export, and the search language. Every
// expectation comes from the server's own answer (`rpc`, a websocket of the test's own) or the run's files.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { REPO, decodeWire, launch, makeDigitsRun, openPage, rpc, startServe, vsCodeStandIn } from "./harness.mjs";

const SHOTS = process.env.UPDATE_SCREENSHOTS ? path.join(REPO, "docs") : path.join(REPO, "out", "screenshots");
mkdirSync(SHOTS, { recursive: true });
let server, browser, page, errors, run, noise, classes, method;

before(async () => {
  ({ run } = makeDigitsRun(6, { noise: 0.1, resolution: 64 }));
  noise = JSON.parse(readFileSync(path.join(run, "dataset/noise.json"), "utf8"));
  server = await startServe(path.dirname(run));
  browser = await launch();
  ({ page, errors } = await openPage(browser, `${server.url}&run=${encodeURIComponent(run)}`, { width: 1300, height: 850 }));
  await page.waitForFunction(() => window.__ttvis.drawn?.epoch === 6 && window.__ttvis.suspects?.thumbnails && window.__ttvis.events?.epoch === 6 &&
    window.__ttvis.dataMap?.samples, null, { timeout: 60_000 });
  method = await page.inputValue("#method"); // whichever the page picked: the tests never name one
  ({ classes } = await rpc(page, server, "ttvis/describe", { path: run }));
}, { timeout: 400_000 });

after(async () => {
  await browser?.close();
  server?.stop();
});

const sorted = (a) => [...a].sort((x, y) => x - y);
const selectedInPlot = () => page.evaluate(() => [...window.__ttvis.plot.get("selectedPoints")].sort((a, b) => a - b));

/** The run's epoch `e` as `ttvis/epoch` sends it (arrays decoded). */
async function epochData(e) {
  const r = await rpc(page, server, "ttvis/epoch", { path: run, method, epoch: e });
  return { predicted: decodeWire(r.predicted), label: decodeWire(r.label), train: decodeWire(r.train), confidence: decodeWire(r.confidence) };
}

async function gotoEpoch(e) {
  await page.evaluate((e) => {
    const s = document.getElementById("epoch");
    s.value = String(e - 1);
    s.dispatchEvent(new Event("input"));
  }, e);
  await page.waitForFunction((e) => window.__ttvis.drawn?.epoch === e, e, { timeout: 30_000 });
  await page.waitForTimeout(600); // let the transition finish
}

/** Wait until the main plot and the view state both select exactly `want` (ascending). */
async function waitSelected(want) {
  await page.waitForFunction((want) => {
    const got = [...window.__ttvis.plot.get("selectedPoints")].sort((a, b) => a - b);
    const s = window.__ttvis.selection;
    const shown = want.length === 1 ? s?.index === want[0] : s?.list === want.length;
    return shown && got.length === want.length && got.every((v, k) => v === want[k]);
  }, want, { timeout: 20_000 });
}

async function clearSelection() {
  await page.keyboard.press("Escape");
  await page.waitForFunction(() => document.getElementById("detail").hidden, null, { timeout: 5_000 });
}

/** Drag over `selector`'s canvas through `pts` (canvas pixels): with shift held, or after a long press. */
async function drag(selector, pts, { longPress = false } = {}) {
  const box = await page.locator(selector).boundingBox();
  const at = ([x, y]) => [box.x + x, box.y + y];
  await page.mouse.move(...at(pts[0]));
  if (!longPress) await page.keyboard.down("Shift");
  await page.mouse.down();
  if (longPress) await page.waitForTimeout(1100); // regl-scatterplot's lassoOnLongPress: 750 ms
  await page.mouse.move(...at([pts[0][0] + 1, pts[0][1] + 1]));
  for (const p of pts.slice(1)) {
    await page.mouse.move(...at(p), { steps: 15 });
    await page.waitForTimeout(50);
  }
  await page.waitForTimeout(100); // the lasso's debounced last point
  await page.mouse.up();
  if (!longPress) await page.keyboard.up("Shift");
}

/** Screen positions (canvas pixels) of the points `indices` of the plot at window.__ttvis[`key`]. */
function screenPositions(key, indices) {
  return page.evaluate(({ key, indices }) => indices.map((i) => [i, ...window.__ttvis[key].getScreenPosition(i)]), { key, indices });
}

/** Whether [x, y] is inside `poly`, and its distance to the polygon's outline. */
function inPolygon([x, y], poly) {
  let inside = false, dist = Infinity;
  for (let k = 0, j = poly.length - 1; k < poly.length; j = k++) {
    const [xi, yi] = poly[k], [xj, yj] = poly[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    const [dx, dy] = [xj - xi, yj - yi];
    const t = Math.max(0, Math.min(1, ((x - xi) * dx + (y - yi) * dy) / (dx * dx + dy * dy)));
    dist = Math.min(dist, Math.hypot(x - xi - t * dx, y - yi - t * dy));
  }
  return { inside, dist };
}

/** The selected points must be those inside `poly` (points within 4 px of its outline may go either way). */
function assertInside(positions, selected, poly, what) {
  const sel = new Set(selected);
  let inside = 0;
  for (const [i, x, y] of positions) {
    const { inside: isIn, dist } = inPolygon([x, y], poly);
    if (dist < 4) continue;
    if (isIn) inside++;
    assert.equal(sel.has(i), isIn, `${what}: point ${i} at (${x.toFixed(1)}, ${y.toFixed(1)}) is ${isIn ? "inside" : "outside"} the outline`);
  }
  assert.ok(inside >= 5, `${what}: ${inside} points well inside`);
}

test("the suspicious-samples panel lists the flipped labels first; a row selects its sample", async () => {
  const flipped = new Set(noise.flipped);
  const want = await rpc(page, server, "ttvis/samples", { path: run, sort: "aum", split: "train", top: 100 });
  const rows = await page.$$eval("#suspects .sus-row", (rs) => rs.map((r) => [Number(r.dataset.index), r.querySelector(".cls").textContent, r.querySelector(".val").textContent]));
  assert.deepEqual(rows.map((r) => r[0]), want.rows.map((r) => r.index), "the server's ranking, lowest AUM first");
  const hits = rows.slice(0, 20).filter(([i]) => flipped.has(i)).length;
  assert.ok(hits >= 15, `${hits} of the first 20 rows are samples whose label was flipped`);
  assert.match(await page.textContent("#suspects .panel-count"), /the 100 most suspicious of 1437 training samples/);
  const e = await epochData(6);
  for (const [k, [i, cls, val]] of rows.entries()) {
    assert.equal(cls, `${classes[e.label[i]]} → ${classes[e.predicted[i]]}`, `row ${k}: label → predicted at epoch 6`);
    assert.equal(val, want.rows[k].aum.toFixed(2));
  }
  assert.equal(await page.$$eval("#suspects .sus-row img[src^='data:image/png']", (x) => x.length), 100, "a thumbnail in every row");

  // a row selects its sample: the single-sample view with its trail
  const pick = rows[2][0];
  await page.click(`#suspects .sus-row[data-index="${pick}"]`);
  await waitSelected([pick]);
  assert.equal((await page.evaluate(() => window.__ttvis.selection)).trajectory, 6);
  assert.match(await page.textContent("#detail"), new RegExp(`sample #${pick}`));
  assert.deepEqual(await page.$$eval("#suspects .sus-row.selected", (rs) => rs.map((r) => Number(r.dataset.index))), [pick]);

  // another ranking: the server's, with its statistic in the value column
  await page.selectOption("#sort", "flips");
  await page.waitForFunction(() => window.__ttvis.suspects?.sort === "flips", null, { timeout: 20_000 });
  const byFlips = await rpc(page, server, "ttvis/samples", { path: run, sort: "flips", top: 100 });
  const rows2 = await page.$$eval("#suspects .sus-row", (rs) => rs.map((r) => [Number(r.dataset.index), r.querySelector(".val").textContent]));
  assert.deepEqual(rows2, byFlips.rows.map((r) => [r.index, String(r.flips)]));
  await page.selectOption("#sort", "aum");
  await page.waitForFunction(() => window.__ttvis.suspects?.sort === "aum", null, { timeout: 20_000 });
  await clearSelection();
});

test("the data map draws confidence against variability, and is linked both ways with the main plot", async () => {
  const { stats } = await rpc(page, server, "ttvis/samples", { path: run, top: 1 });
  const conf = decodeWire(stats.confidence), vari = decodeWire(stats.variability);
  const e = await epochData(6);
  const train = [...e.train.keys()].filter((i) => e.train[i]);
  const map = await page.evaluate(() => ({ samples: window.__ttvis.dataMap.samples, vmax: window.__ttvis.dataMap.vmax,
    filtered: window.__ttvis.dataMapPlot.get("filteredPoints").length, points: window.__ttvis.dataMapPlot.get("points").map((p) => [p[0], p[1]]) }));
  assert.equal(map.samples, train.length, "every training sample");
  assert.equal(map.filtered, train.length, "and only those");
  for (const i of train.slice(0, 200)) {
    assert.ok(Math.abs(map.points[i][1] - (conf[i] * 1.8 - 0.9)) < 1e-4, `sample ${i}: y is its confidence`);
    assert.ok(Math.abs(map.points[i][0] - ((vari[i] / map.vmax) * 1.8 - 0.9)) < 1e-4, `sample ${i}: x is its variability`);
  }

  // a box in the data map (shift+drag) selects those samples in the main plot
  await page.selectOption("#selectTool", "box");
  const c = await page.locator("#datamap").boundingBox();
  const rect = [[3, c.height * 0.45], [c.width * 0.55, c.height - 3]];
  await drag("#datamap", rect);
  await page.waitForFunction(() => window.__ttvis.dataMapPlot.get("selectedPoints").length > 0, null, { timeout: 10_000 });
  const inMap = sorted(await page.evaluate(() => window.__ttvis.dataMapPlot.get("selectedPoints")));
  const [[x0, y0], [x1, y1]] = rect;
  assertInside(await screenPositions("dataMapPlot", train), inMap, [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], "data map box");
  await waitSelected(inMap);
  assert.deepEqual(await page.evaluate(() => window.__ttvis.selection.list), inMap.length);
  assert.ok(inMap.every((i) => e.train[i]));

  // a selection in the main plot is highlighted in the data map (its training samples)
  const picked = [0, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597];
  await page.evaluate((p) => window.__ttvis.plot.select(p), picked);
  await waitSelected(picked);
  assert.deepEqual(sorted(await page.evaluate(() => window.__ttvis.dataMapPlot.get("selectedPoints"))), picked.filter((i) => e.train[i]));
  await clearSelection();
  assert.deepEqual(await page.evaluate(() => window.__ttvis.dataMapPlot.get("selectedPoints")), []);
  await page.selectOption("#selectTool", "lasso");
});

test("the training-events panel counts the transition on screen; a kind selects its samples", async () => {
  for (const ep of [6, 3]) {
    await gotoEpoch(ep);
    await page.waitForFunction((ep) => window.__ttvis.events?.epoch === ep, ep, { timeout: 20_000 });
    const want = await rpc(page, server, "ttvis/events", { path: run, method, epoch: ep });
    assert.equal(want.previous, ep - 1);
    const shown = Object.fromEntries(await page.$$eval("#events .event-kind", (bs) => bs.map((b) => [b.dataset.kind, Number(b.querySelector(".count").textContent)])));
    assert.deepEqual(shown, want.counts, `epoch ${ep}`);
    assert.match(await page.textContent("#events"), new RegExp(`epoch ${ep - 1} → ${ep}`));
    for (const kind of ["flipped", "moved_high_only"]) {
      assert.ok(want[kind].length > 1, `${kind} at epoch ${ep}: ${want[kind].length}`);
      await page.click(`#events .event-kind[data-kind="${kind}"]`);
      await waitSelected(sorted(want[kind]));
    }
  }
  // the "confidence jumped" threshold is the user's: a lower one counts more samples, as the server does
  {
    const ep = await page.evaluate(() => window.__ttvis.events.epoch);
    const at = async (t) => (await rpc(page, server, "ttvis/events", { path: run, method, epoch: ep, threshold: t })).counts.confidence;
    await page.fill("#confidenceThreshold", "0.05");
    await page.dispatchEvent("#confidenceThreshold", "change");
    await page.waitForFunction(() => window.__ttvis.events?.threshold === 0.05, null, { timeout: 20_000 });
    const shown = await page.$eval('#events .event-kind[data-kind="confidence"] .count', (c) => Number(c.textContent));
    assert.equal(shown, await at(0.05));
    assert.ok(shown >= await at(0.3));
  }
  await gotoEpoch(1);
  await page.waitForFunction(() => window.__ttvis.events?.epoch === 1, null, { timeout: 20_000 });
  assert.match(await page.textContent("#events"), /no transition/);
  assert.equal(await page.$("#events .event-kind"), null);
  await gotoEpoch(6);
  await clearSelection();
});

test("neighbour lines: representation space, 2-D or both, with the overlap", async () => {
  await page.fill("#search", "42");
  await page.press("#search", "Enter");
  await waitSelected([42]);
  const nb = await rpc(page, server, "ttvis/neighbors", { path: run, method, epoch: 6, index: 42, k: 10 });
  const both = nb.high.filter((j) => nb.low.includes(j)).length;
  for (const [mode, high, low] of [["high", 10, 0], ["low", 0, 10], ["both", 10, 10]]) {
    if (mode !== "high") await page.selectOption("#nbMode", mode);
    await page.waitForFunction((mode) => window.__ttvis.selection?.mode === mode, mode, { timeout: 20_000 });
    const sel = await page.evaluate(() => window.__ttvis.selection);
    assert.deepEqual(sel.lines, { high, low }, `${mode}: lines drawn`);
    assert.equal(sel.overlap, both);
    assert.match(await page.textContent("#nbOverlap"), new RegExp(`overlap ${both} of 10`));
  }
  assert.match(page.url(), /nb=both/, "the mode is part of the saved view");
  await page.selectOption("#nbMode", "high");
  await page.waitForFunction(() => window.__ttvis.selection?.mode === "high", null, { timeout: 20_000 });
  await clearSelection();
});

test("box and lasso select what they enclose; the gallery draws trails and exports CSV", async () => {
  const all = [...Array(1797).keys()];
  const c = await page.locator("#plot").boundingBox();
  // a box: the "box" tool, shift+drag
  await page.selectOption("#selectTool", "box");
  const [x0, y0, x1, y1] = [c.width * 0.3, c.height * 0.3, c.width * 0.6, c.height * 0.6];
  await drag("#plot", [[x0, y0], [x1, y1]]);
  await page.waitForFunction(() => window.__ttvis.selection?.list > 1, null, { timeout: 10_000 });
  const boxed = await selectedInPlot();
  assertInside(await screenPositions("plot", all), boxed, [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], "box");
  await clearSelection();

  // a lasso: the "lasso" tool after a long press
  await page.selectOption("#selectTool", "lasso");
  const tri = [[c.width * 0.25, c.height * 0.7], [c.width * 0.5, c.height * 0.2], [c.width * 0.75, c.height * 0.7]];
  await drag("#plot", [...tri, tri[0]], { longPress: true });
  await page.waitForFunction(() => window.__ttvis.selection?.list > 1, null, { timeout: 10_000 });
  const lassoed = await selectedInPlot();
  assertInside(await screenPositions("plot", all), lassoed, tri, "lasso");
  assert.ok(lassoed.length > 50, `${lassoed.length} lassoed`);

  // the gallery: 100 cards, trails for the first 50
  await page.waitForFunction(() => window.__ttvis.selection?.trails !== undefined, null, { timeout: 60_000 });
  assert.equal((await page.evaluate(() => window.__ttvis.selection)).trails, 50);
  assert.equal(await page.textContent("#detail .trails"), `trails for the first 50 of ${lassoed.length}`);
  assert.equal(await page.$$eval("#detail .sel-row", (r) => r.length), Math.min(100, lassoed.length));

  // Export CSV: a download of every selected sample with its label, prediction and confidence
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#exportCsv")]);
  assert.equal(download.suggestedFilename(), "selection-epoch6.csv");
  const csv = readFileSync(await download.path(), "utf8");
  const linked = await page.evaluate(async () => (await fetch(document.getElementById("csvLink").href)).text());
  assert.equal(linked, csv, "the link's Blob holds the same file");
  const [head, ...lines] = csv.trim().split("\n");
  assert.equal(head, "index,split,label,label_name,predicted,predicted_name,confidence,epoch");
  const e = await epochData(6);
  assert.deepEqual(lines.map((l) => Number(l.split(",")[0])), lassoed);
  for (const l of lines) {
    const [i, split, label, labelName, pred, predName, conf, epoch] = l.split(",");
    assert.deepEqual([split, Number(label), labelName, Number(pred), predName, epoch],
      [e.train[i] ? "train" : "test", e.label[i], classes[e.label[i]], e.predicted[i], classes[e.predicted[i]], "6"]);
    assert.ok(Math.abs(Number(conf) - e.confidence[i]) < 1e-5);
  }
  await clearSelection();
});

test("in VS Code, Export CSV hands the file to the extension host", async () => {
  const p2 = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  await vsCodeStandIn(p2, server);
  try {
    await p2.goto(`${server.url}&run=${encodeURIComponent(run)}`);
    await p2.waitForFunction(() => window.__ttvis?.ready && window.__ttvis.drawn?.epoch === 6, null, { timeout: 60_000 });
    await p2.evaluate(() => window.__ttvis.plot.select([3, 1, 2]));
    await p2.waitForSelector("#exportCsv", { timeout: 10_000 });
    await p2.click("#exportCsv");
    const posted = await p2.evaluate(() => window.__vsPosted.filter((m) => m.type === "exportCsv"));
    assert.equal(posted.length, 1);
    assert.equal(posted[0].name, "selection-epoch6.csv");
    assert.deepEqual(posted[0].csv.trim().split("\n").slice(1).map((l) => Number(l.split(",")[0])), [1, 2, 3]);
    assert.equal(await p2.$("#csvLink"), null, "no Blob download inside VS Code");
  } finally {
    await p2.close();
  }
});

test("the search language selects exactly what ttvis/search returns", async () => {
  for (const q of ["42", "10-50", "label:3", `label:${classes[7]}`, "pred:5", "misclassified", "changed", "flipped", "test", "label:3 misclassified", "100-400 flipped train"]) {
    const want = await rpc(page, server, "ttvis/search", { path: run, method, epoch: 6, query: q });
    assert.ok(want.count > 0, `${q} matches something`);
    await page.fill("#search", q);
    await page.press("#search", "Enter");
    await page.waitForFunction((q) => window.__ttvis.search?.query === q, q, { timeout: 20_000 });
    await waitSelected(sorted(want.indices));
    assert.equal(await page.$("#status.error"), null, q);
  }
  // a term the language does not have: the server's message in the status line, until the next search works
  await page.fill("#search", "label:3 nonsense");
  await page.press("#search", "Enter");
  await page.waitForSelector("#status.error", { timeout: 10_000 });
  assert.match(await page.textContent("#status"), /not a search term/);
  await page.fill("#search", "label:3");
  await page.press("#search", "Enter");
  await page.waitForFunction(() => !document.querySelector("#status.error"), null, { timeout: 10_000 });
  assert.equal((await page.textContent("#status")).trim(), "");
  await clearSelection();
  assert.deepEqual(errors, []);
});

test("screenshot: the events and suspicious-samples panels beside a suspicious sample", async () => {
  const first = await page.$eval("#suspects .sus-row", (r) => Number(r.dataset.index));
  await page.click(`#suspects .sus-row[data-index="${first}"]`);
  await waitSelected([first]);
  await page.selectOption("#nbMode", "both");
  await page.waitForFunction(() => window.__ttvis.selection?.mode === "both", null, { timeout: 20_000 });
  await page.mouse.move(5, 5);
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(SHOTS, "webview-debug.png") });
  await page.selectOption("#nbMode", "high");
  assert.deepEqual(errors, []);
});

test("Similar selects the query and its nearest samples in representation space, exactly as ttvis/similar finds them", async () => {
  if (!(await page.evaluate(() => document.getElementById("detail").hidden))) await clearSelection();
  await gotoEpoch(6);
  await page.fill("#search", "42");
  await page.press("#search", "Enter");
  await waitSelected([42]);
  // every text the action's note shows (the server builds its vector index on the first request)
  await page.evaluate(() => {
    window.__simNotes = [];
    new MutationObserver(() => {
      const t = document.querySelector("#detail .sim-note")?.textContent;
      if (t && t !== window.__simNotes.at(-1)) window.__simNotes.push(t);
    }).observe(document.getElementById("detail"), { childList: true, subtree: true, characterData: true });
  });
  assert.equal(await page.inputValue("#detail #similarK"), "10", "k is 10 unless chosen");
  await page.click("#detail #similarBtn");
  // the server's answer to a request of the test's own, once the page's (which builds the index) is in
  await page.waitForFunction(() => window.__ttvis.similar?.selected, null, { timeout: 60_000 });
  const want = await rpc(page, server, "ttvis/similar", { path: run, epoch: 6, index: 42, k: 10 });
  assert.equal(want.neighbours.length, 10);
  await waitSelected(sorted([42, ...want.neighbours.map((n) => n.index)]));
  assert.deepEqual(await page.evaluate(() => window.__simNotes), ["finding similar samples…"]);
  // the gallery: the query first, then the neighbours nearest first, each with its distance
  const cards = () => page.$$eval("#detail .sel-row", (rs) => rs.map((r) => [Number(r.dataset.index), r.querySelector(".dist").textContent]));
  assert.deepEqual(await cards(), [[42, "query"], ...want.neighbours.map((n) => [n.index, `d ${n.distance.toFixed(2)}`])]);
  assert.match(await page.textContent("#detail .similar-hint"), /the 10 samples nearest to #42 in representation space at epoch 6, with the query/);
  await page.mouse.move(5, 5);
  await page.screenshot({ path: path.join(SHOTS, "webview-similar.png") });

  // from the gallery: the mean of the selected samples, another k, and the neighbours only
  const query = sorted([42, ...want.neighbours.map((n) => n.index)]);
  await page.selectOption("#detail #similarK", "5");
  await page.uncheck("#detail #similarWithQuery");
  await page.click("#detail #similarBtn");
  await page.waitForFunction(() => window.__ttvis.similar?.k === 5, null, { timeout: 60_000 });
  const want2 = await rpc(page, server, "ttvis/similar", { path: run, epoch: 6, indices: query, k: 5 });
  assert.ok(want2.neighbours.every((n) => !query.includes(n.index)), "the query is excluded from its neighbours");
  await waitSelected(sorted(want2.neighbours.map((n) => n.index)));
  assert.deepEqual(await cards(), want2.neighbours.map((n) => [n.index, `d ${n.distance.toFixed(2)}`]));
  assert.match(await page.textContent("#detail .similar-hint"), /the 5 samples nearest to the mean of 11 samples .* without the query/);
  await page.selectOption("#detail #similarK", "10");
  await page.check("#detail #similarWithQuery");
  await clearSelection();
  assert.deepEqual(errors, []);
});
