// The page's layout (real headless Chromium against a real `ttvis serve`): at 700, 1100 and 1600 px wide and
// after resizing the window, no panel (the side column, the legend, the selection gallery, the status
// banner, the metrics) covers a plot's canvas, the canvas fills its pane, and its drawing size and
// regl-scatterplot's own width/height follow; hiding the side column grows the plot (a container resize,
// not a window one). The compare view too (two plots). Screenshots go to out/screenshots/layout-*.png.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { REPO, launch, makeRun, openPage, startServe } from "./harness.mjs";

const SHOTS = path.join(REPO, "out", "screenshots");
mkdirSync(SHOTS, { recursive: true });
const ENV = { TTVIS_METHOD_MODULES: path.join(REPO, "tests/python/test_method_seam.py") };
/** everything that must stay off the plots */
const PANELS = ["header", "#column", "#side", "#legend", "#detail", "#status", "#metrics", "#metricsB", "#titleA", "#titleB"];
let server, browser, run;

before(async () => {
  ({ run } = makeRun(3, [["TestPlane", { zoom: 2 }, { device: "cpu", resolution: 64 }]], ENV));
  server = await startServe(path.dirname(run), { env: ENV });
  browser = await launch();
}, { timeout: 400_000 });

after(async () => {
  await browser?.close();
  server?.stop();
});

/** The page's geometry: each visible panel's box, each visible plot's canvas box, its parent's (the pane's
 * plot area) box, its drawing-buffer size and regl-scatterplot's width/height. */
function geometry(page) {
  return page.evaluate((panels) => {
    const shown = (el) => {
      if (!el) return false;
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== "hidden" && el.checkVisibility();
    };
    // the part of `el` on screen: its box cut by every ancestor that clips (a scrolled column shows a part)
    const box = (el) => {
      const r = el.getBoundingClientRect();
      let [x0, y0, x1, y1] = [r.left, r.top, r.right, r.bottom];
      for (let a = el.parentElement; a; a = a.parentElement) {
        if (getComputedStyle(a).overflow === "visible") continue;
        const c = a.getBoundingClientRect();
        [x0, y0, x1, y1] = [Math.max(x0, c.left), Math.max(y0, c.top), Math.min(x1, c.right), Math.min(y1, c.bottom)];
      }
      return { x: x0, y: y0, w: Math.max(0, x1 - x0), h: Math.max(0, y1 - y0) };
    };
    const plots = [];
    for (const [id, key] of [["plot", "plot"], ["plotB", "plotB"]]) {
      const c = document.getElementById(id);
      if (!shown(c)) continue;
      const p = window.__ttvis[key];
      plots.push({ id, box: box(c), parent: box(c.parentElement), buffer: [c.width, c.height], dpr: devicePixelRatio,
        regl: [p.get("width"), p.get("height")] });
    }
    const out = {};
    for (const sel of panels) {
      const el = document.querySelector(sel);
      if (shown(el) && box(el).w > 0 && box(el).h > 0) out[sel] = box(el);
    }
    return { plots, panels: out, viewport: [innerWidth, innerHeight], column: shown(document.getElementById("column")) ? box(document.getElementById("column")) : null };
  }, PANELS);
}

/** Overlap area of two boxes (0: none). */
function overlap(a, b) {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0.5 && h > 0.5 ? w * h : 0;
}

/** Wait for the layout to settle (ResizeObserver, regl-scatterplot's own frame), then check it: nothing
 * over a plot, each plot fills its pane and its drawing size follows, no empty band beside the plots. */
async function assertLayout(page, label, nPlots = 1) {
  let g;
  // a resize lands on the next frames: poll until the drawing size has caught up, then check everything
  for (let k = 0; k < 40; k++) {
    await page.waitForTimeout(100);
    g = await geometry(page);
    if (g.plots.length === nPlots && g.plots.every((p) => Math.abs(p.buffer[0] - p.box.w * p.dpr) <= 2 && Math.abs(p.regl[0] - p.box.w) <= 1 && Math.abs(p.regl[1] - p.box.h) <= 1 && Math.abs(p.box.w - p.parent.w) <= 1)) break;
  }
  assert.equal(g.plots.length, nPlots, `${label}: ${nPlots} plot(s) shown`);
  for (const p of g.plots) {
    for (const [sel, b] of Object.entries(g.panels)) {
      assert.equal(overlap(p.box, b), 0, `${label}: ${sel} ${JSON.stringify(b)} covers #${p.id} ${JSON.stringify(p.box)}`);
    }
    assert.ok(Math.abs(p.box.x - p.parent.x) <= 1 && Math.abs(p.box.y - p.parent.y) <= 1 &&
      Math.abs(p.box.w - p.parent.w) <= 1 && Math.abs(p.box.h - p.parent.h) <= 1,
      `${label}: #${p.id} ${JSON.stringify(p.box)} fills its pane ${JSON.stringify(p.parent)}`);
    assert.ok(Math.abs(p.buffer[0] - p.box.w * p.dpr) <= 2 && Math.abs(p.buffer[1] - p.box.h * p.dpr) <= 2,
      `${label}: #${p.id}'s drawing size ${p.buffer} follows its box ${p.box.w}x${p.box.h}`);
    assert.ok(Math.abs(p.regl[0] - p.box.w) <= 1 && Math.abs(p.regl[1] - p.box.h) <= 1,
      `${label}: regl-scatterplot's width/height ${p.regl} follow #${p.id}'s box ${p.box.w}x${p.box.h}`);
    assert.ok(p.box.w >= 250 && p.box.h >= 200, `${label}: #${p.id} keeps a usable size ${p.box.w}x${p.box.h}`);
  }
  // no empty band: the plots reach the column beside them, or the window's right edge
  const right = Math.max(...g.plots.map((p) => p.box.x + p.box.w));
  const besideColumn = g.column && g.column.x > right - 1;
  const edge = besideColumn ? g.column.x : g.viewport[0];
  assert.ok(Math.abs(edge - right) <= 2, `${label}: the plots end at ${right}, not at ${besideColumn ? "the side column" : "the window's edge"} (${edge})`);
  return g;
}

/** Give the page a status banner (a search term the language lacks) and a gallery (a search's selection). */
async function fillPanels(page) {
  await page.fill("#search", "10-60");
  await page.press("#search", "Enter");
  await page.waitForFunction(() => document.querySelectorAll("#detail .sel-row").length === 51, null, { timeout: 20_000 });
  // the gallery has finished (it clears the status line when it has)
  await page.waitForFunction(() => window.__ttvis.selection?.trails !== undefined, null, { timeout: 60_000 });
  await page.fill("#search", "label:3 nonsense");
  await page.press("#search", "Enter");
  await page.waitForSelector("#status.error", { timeout: 10_000 });
}

for (const width of [700, 1100, 1600]) {
  test(`at ${width} px wide nothing covers the plot, and the plot fills its pane`, async () => {
    const { page, errors } = await openPage(browser, `${server.url}&run=${encodeURIComponent(run)}&method=TestPlane`, { width, height: 800 });
    // main.css: the column stacks under 600 px, or under 900 px in a frame taller than wide
    const stacked = width < 600 || (width < 900 && width <= 800);
    try {
      await page.waitForFunction(() => window.__ttvis.drawn?.total === 1797, null, { timeout: 60_000 });
      await fillPanels(page);
      const g = await assertLayout(page, `${width} px`);
      for (const sel of ["#legend", "#detail", "#status", "#metrics"]) assert.ok(await page.isVisible(sel), `${width} px: ${sel} is shown`);
      if (stacked) assert.ok(g.column.y >= g.plots[0].box.y + g.plots[0].box.h - 1, `${width} px: the panels stack below the plot`);
      else assert.ok(g.column.x >= g.plots[0].box.x + g.plots[0].box.w - 1, `${width} px: the panels sit beside the plot`);
      await page.screenshot({ path: path.join(SHOTS, `layout-${width}.png`) });
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
}

test("after resizing the window (1600 -> 700 x 500 -> 1100) and hiding the side column, the plot follows", async () => {
  const { page, errors } = await openPage(browser, `${server.url}&run=${encodeURIComponent(run)}&method=TestPlane`, { width: 1600, height: 900 });
  try {
    await page.waitForFunction(() => window.__ttvis.drawn?.total === 1797, null, { timeout: 60_000 });
    await fillPanels(page);
    const first = await assertLayout(page, "1600 px");
    await page.setViewportSize({ width: 700, height: 500 });
    const small = await assertLayout(page, "resized to 700x500");
    assert.ok(small.plots[0].box.w < first.plots[0].box.w, "the plot shrank with the window");
    await page.screenshot({ path: path.join(SHOTS, "layout-resized-700x500.png") });
    await page.setViewportSize({ width: 1100, height: 800 });
    const mid = await assertLayout(page, "resized to 1100");
    // the side column hides (what hiding VS Code's sidebar does to the webview's width, from inside the page):
    // no empty band is left where it was
    await page.click("#sideToggle");
    const wide = await assertLayout(page, "side column hidden");
    assert.equal(wide.column, null, "the side column is hidden");
    assert.ok(wide.plots[0].box.w > mid.plots[0].box.w + 200, `the plot took the column's room (${mid.plots[0].box.w} -> ${wide.plots[0].box.w})`);
    await page.click("#sideToggle");
    await assertLayout(page, "side column shown again");
    await page.screenshot({ path: path.join(SHOTS, "layout-resized-1100.png") });
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test("the compare view: both plots follow the window and nothing covers them", async () => {
  const url = `${server.url}&run=${encodeURIComponent(run)}&method=TestPlane&compareRun=${encodeURIComponent(run)}&compareMethod=TestPlane`;
  const { page, errors } = await openPage(browser, url, { width: 1600, height: 800 });
  try {
    await page.waitForFunction(() => window.__ttvis.drawn?.epoch === 3 && window.__ttvis.drawnB?.epoch === 3, null, { timeout: 60_000 });
    await fillPanels(page);
    await assertLayout(page, "compare at 1600 px", 2);
    await page.screenshot({ path: path.join(SHOTS, "layout-compare-1600.png") });
    await page.setViewportSize({ width: 1100, height: 800 });
    await assertLayout(page, "compare resized to 1100", 2);
    await page.setViewportSize({ width: 700, height: 800 });
    await assertLayout(page, "compare resized to 700", 2);
    await page.screenshot({ path: path.join(SHOTS, "layout-compare-700.png") });
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});
