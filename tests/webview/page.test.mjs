// The visualization page in real headless Chromium against a real `ttvis serve` on the digits run.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { PNG } from "pngjs";
import { spawnSync } from "node:child_process";
import { PYTHON, REPO, launch, makeDigitsRun, makeTextRun, openPage, startServe } from "./harness.mjs";

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
  await page.evaluate(() => {
    window.__seen = [];
    const t = setInterval(() => {
      const e = window.__ttvis.drawn?.epoch;
      if (window.__seen[window.__seen.length - 1] !== e) window.__seen.push(e);
    }, 20);
    window.__stopSeen = () => clearInterval(t);
  });
  await page.selectOption("#speed", "4");
  await page.click("#play");
  await page.waitForFunction(() => window.__ttvis.drawn.epoch === 6 && document.getElementById("play").textContent === "▶", null, { timeout: 30_000 })
    .catch(async (e) => {
      throw new Error(`${e.message}; page state ${JSON.stringify(await page.evaluate(() => [window.__ttvis.drawn, window.__seen, document.getElementById("play").textContent, document.getElementById("status").textContent]))}`);
    });
  const seen = await page.evaluate(() => (window.__stopSeen(), window.__seen));
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
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
    assert.deepEqual(e2, []);
  } finally {
    await p2.close();
  }
});
