// End to end in a real VS Code (code-server from the npm registry, installed by ../shared/vscode-e2e/install-vscode.sh
// into .e2e/cs) with our extension installed the way a user installs it: the .vsix that `npm run package` builds
// from this checkout (make test builds it first), driven from headless Chromium.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { CHROMIUM, PYTHON, REPO, makeDigitsRun } from "../webview/harness.mjs";

const CODE_SERVER = process.env.CODE_SERVER || path.join(REPO, ".e2e/cs/bin/code-server");
const VSIX = process.env.TTVIS_VSIX || path.join(REPO, "ttvis.vsix");

/** Pids of running `ttvis server` processes started with our interpreter (the extension's server). */
function serverPids() {
  const out = [];
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (cmd.includes("ttvis") && cmd.includes("server") && cmd.includes("-m")) out.push(Number(pid));
    } catch { /* gone */ }
  }
  return out;
}

async function until(pred, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
const SHOTS = process.env.UPDATE_SCREENSHOTS ? path.join(REPO, "docs") : path.join(REPO, "out", "screenshots");
let cs, browser, page, runDir, workspace;

const freePort = () => new Promise((resolve) => {
  const s = net.createServer();
  s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

/** The visible row of the open quick pick whose text matches `text` (hidden, recycled rows are skipped). */
function quickRow(text) {
  return page.locator(".quick-input-list .monaco-list-row", { hasText: text }).filter({ visible: true }).first();
}

async function runCommand(title, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      // a modal dialog or a closing quick input makes the workbench inert: dismiss it and retry
      const dialog = page.locator(".monaco-dialog-box");
      if (await dialog.isVisible().catch(() => false)) {
        console.log("dismissing dialog:", (await dialog.innerText().catch(() => "")).slice(0, 200));
      }
      await page.keyboard.press("Escape");
      await page.keyboard.press("Escape");
      await page.keyboard.press("F1");
      const input = page.locator(".quick-input-widget input.input");
      await input.waitFor({ state: "visible", timeout: 10_000 });
      await input.fill(">" + title, { timeout: 5000 });
      const row = page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first();
      await row.waitFor({ state: "visible", timeout: 3000 });
      const focused = await page.locator(".quick-input-list .monaco-list-row.focused").first().textContent();
      if (focused && focused.includes(title)) await page.keyboard.press("Enter");
      else await row.click({ timeout: 5000 });
      // the palette has gone (or shows the command's own prompt) before anyone picks from a list
      await page.waitForFunction(() => {
        const w = document.querySelector(".quick-input-widget");
        const i = w && w.querySelector("input.input");
        return !w || getComputedStyle(w).display === "none" || !i || !i.value.startsWith(">");
      }, null, { timeout: 10_000 }).catch(() => {});
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`command "${title}" could not be run from the palette: ${e.message}`);
      await page.waitForTimeout(500);
    }
  }
}

/** The frame of our visualizer webview (inner #active-frame holding #plot). */
async function webviewFrame(timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const f of page.frames()) {
      try {
        if (await f.evaluate(() => !!(window.__ttvis && window.__ttvis.ready && document.getElementById("plot")))) return f;
      } catch { /* frame not ready or gone */ }
    }
    await page.waitForTimeout(500);
  }
  throw new Error("the visualizer webview never became ready");
}

before(async () => {
  if (!fs.existsSync(CODE_SERVER)) throw new Error(`no code-server at ${CODE_SERVER}: run make setup-vscode`);
  if (!fs.existsSync(VSIX)) throw new Error(`no ${VSIX}: run npm run package (make test does)`);
  const { root, run } = makeDigitsRun(4);
  workspace = root;
  // an earlier generation of the DVI results, as a second `ttvis visualize` run keeps it (visualize/DVI.history/)
  fs.cpSync(path.join(run, "visualize", "DVI"), path.join(run, "visualize", "DVI.history", "2026-01-02T03-04-05"), { recursive: true });
  fs.cpSync(run, path.join(root, "fresh"), { recursive: true, filter: (src) => !src.includes(`${path.sep}visualize`) });
  runDir = fs.mkdtempSync(path.join(REPO, ".e2e", "run-"));
  const ud = path.join(runDir, "ud"), ext = path.join(runDir, "ext");
  fs.mkdirSync(path.join(ud, "User"), { recursive: true });
  fs.mkdirSync(ext, { recursive: true });
  fs.writeFileSync(path.join(ud, "User", "settings.json"), JSON.stringify({
    "workbench.startupEditor": "none", "security.workspace.trust.enabled": false, "telemetry.telemetryLevel": "off",
    "extensions.autoCheckUpdates": false, "extensions.autoUpdate": false, "update.mode": "none", "workbench.tips.enabled": false,
    "git.enabled": false, "chat.disableAIFeatures": true, "workbench.secondarySideBar.defaultVisibility": "hidden",
    "ttvis.python": PYTHON, "ttvis.resolution": 64,
  }));
  const port = await freePort();
  const env = { ...process.env, XDG_CONFIG_HOME: path.join(runDir, "xc"), XDG_DATA_HOME: path.join(runDir, "xd"), XDG_CACHE_HOME: path.join(runDir, "xa") };
  const inst = spawnSync(CODE_SERVER, ["--user-data-dir", ud, "--extensions-dir", ext, "--install-extension", VSIX], { env, encoding: "utf8", timeout: 180_000 });
  if (inst.status !== 0 || !fs.readdirSync(ext).some((d) => d.startsWith("ttvis.ttvis-"))) {
    throw new Error(`installing ${VSIX} failed: ${inst.stdout}${inst.stderr}`);
  }
  cs = spawn(CODE_SERVER, ["--auth", "none", "--bind-addr", `127.0.0.1:${port}`, "--user-data-dir", ud, "--extensions-dir", ext,
    "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust", "--disable-getting-started-override",
    "--ignore-last-opened", workspace], { detached: true, stdio: ["ignore", fs.openSync(path.join(runDir, "cs.log"), "w"), fs.openSync(path.join(runDir, "cs.err"), "w")], env });
  const deadline = Date.now() + 90_000;
  for (;;) {
    try { if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error("code-server did not start");
    await new Promise((r) => setTimeout(r, 200));
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-dev-shm-usage", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"] });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
  await page.locator(".monaco-workbench").waitFor({ timeout: 90_000 });
  await page.locator("#workbench\\.parts\\.statusbar").waitFor({ timeout: 90_000 });
}, { timeout: 600_000 });

after(async () => {
  await browser?.close().catch(() => {});
  if (cs) {
    try { process.kill(-cs.pid, "SIGTERM"); } catch { /* gone */ }
    await new Promise((r) => setTimeout(r, 1000));
    try { process.kill(-cs.pid, "SIGKILL"); } catch { /* gone */ }
  }
  if (runDir && !process.env.KEEP_RUN_DIR) fs.rmSync(runDir, { recursive: true, force: true });
});

test("opening a folder with a run activates the extension: its server runs before the sidebar is opened", async () => {
  const pids = await until(() => serverPids().length && serverPids(), 90_000, "the ttvis server process");
  assert.ok(pids.length >= 1);
  const sidebar = await page.locator(".sidebar").innerText().catch(() => "");
  assert.doesNotMatch(sidebar, /Training Runs/); // the view was never opened
});

test("the Training Dynamics sidebar lists the runs", async () => {
  await page.locator('.activitybar [aria-label^="Training Dynamics"]').first().click({ timeout: 90_000 });
  const tree = page.locator('.pane-body .monaco-list-row');
  await tree.filter({ hasText: "digits" }).first().waitFor({ timeout: 90_000 });
  const text = await page.locator(".sidebar").innerText();
  assert.match(text, /digits/);
  assert.match(text, /4 epochs · 1797 samples · 10 classes/);
  assert.match(text, /fresh/);
  assert.match(text, /trained · NPR/);
});

test("a method's earlier results are listed under it in the sidebar", async () => {
  const dvi = page.locator(".sidebar .monaco-list-row", { hasText: /^DVI/ }).filter({ hasText: "trained" }).first();
  await dvi.waitFor({ timeout: 60_000 });
  if ((await dvi.getAttribute("aria-expanded")) !== "true") await dvi.locator(".monaco-tl-twistie").click();
  const earlier = page.locator(".sidebar .monaco-list-row", { hasText: "earlier:" }).first();
  await earlier.waitFor({ timeout: 30_000 });
  assert.match(await earlier.innerText(), /earlier: .*\n?.*4 epochs/s);
});

test("Open Visualizer shows points over territories and the slider moves them", async () => {
  await runCommand("ttvis: Open Visualizer");
  const pick = page.locator(".quick-input-list .monaco-list-row", { hasText: "digits" }).first();
  if (await pick.isVisible().catch(() => false)) await pick.click();
  const frame = await webviewFrame();
  const drawn = await frame.evaluate(() => window.__ttvis.drawn);
  assert.equal(drawn.total, 1797);
  assert.equal(await frame.evaluate(() => !!window.__ttvis.plot.get("backgroundImage")), true);
  const shot = await page.screenshot({ path: path.join(SHOTS, "vscode-visualizer.png") });
  assert.ok(shot.length > 20_000);
  const before = await frame.evaluate(() => window.__ttvis.plot.get("points").map((p) => p[0]));
  await frame.evaluate(() => { const s = document.getElementById("epoch"); s.value = "0"; s.dispatchEvent(new Event("input")); });
  await frame.waitForFunction(() => window.__ttvis.drawn.epoch === 1, null, { timeout: 30_000 });
  await page.waitForTimeout(800);
  const afterX = await frame.evaluate(() => window.__ttvis.plot.get("points").map((p) => p[0]));
  const moved = before.filter((x, i) => Math.abs(x - afterX[i]) > 0.01).length;
  assert.ok(moved > 1000, `${moved} points moved`);
});

test("palette Next/Previous Epoch and Play/Pause drive the open visualizer", async () => {
  const frame = await webviewFrame();
  const at = await frame.evaluate(() => window.__ttvis.drawn.epoch);
  await runCommand("ttvis: Next Epoch");
  await frame.waitForFunction((e) => window.__ttvis.drawn.epoch === e + 1, at, { timeout: 30_000 });
  await runCommand("ttvis: Previous Epoch");
  await frame.waitForFunction((e) => window.__ttvis.drawn.epoch === e, at, { timeout: 30_000 });
  await runCommand("ttvis: Play/Pause");
  await frame.waitForFunction(() => window.__ttvis.drawn.epoch === 4, null, { timeout: 60_000 });
});

test("the visualizer reflows at three window sizes and with the sidebar hidden: no panel covers the plot", async (t) => {
  t.after(() => page.setViewportSize({ width: 1400, height: 900 }));
  const frame = await webviewFrame();
  /** The webview's layout once the plot has followed its pane: panels that cover the canvas (their on-screen
   * part, cut by scrolling ancestors), whether the canvas fills its pane, its drawing size and regl-scatterplot's
   * width/height follow, and whether the plot reaches the side column or the frame's right edge. */
  const layout = () => frame.evaluate(() => {
    const c = document.getElementById("plot");
    const r = c.getBoundingClientRect(), pane = c.parentElement.getBoundingClientRect();
    const seen = (el) => {
      let [x0, y0, x1, y1] = (({ left, top, right, bottom }) => [left, top, right, bottom])(el.getBoundingClientRect());
      for (let a = el.parentElement; a; a = a.parentElement) {
        if (getComputedStyle(a).overflow === "visible") continue;
        const b = a.getBoundingClientRect();
        [x0, y0, x1, y1] = [Math.max(x0, b.left), Math.max(y0, b.top), Math.min(x1, b.right), Math.min(y1, b.bottom)];
      }
      return { x0, y0, x1, y1 };
    };
    const covering = [];
    for (const sel of ["header", "#column", "#side", "#legend", "#detail", "#status", "#metrics"]) {
      const el = document.querySelector(sel);
      if (!el || !el.checkVisibility()) continue;
      const b = seen(el);
      if (Math.min(b.x1, r.right) - Math.max(b.x0, r.left) > 0.5 && Math.min(b.y1, r.bottom) - Math.max(b.y0, r.top) > 0.5) covering.push(sel);
    }
    const col = document.getElementById("column");
    const colBox = col.checkVisibility() ? col.getBoundingClientRect() : null;
    const edge = colBox && colBox.left >= r.right - 1 ? colBox.left : innerWidth;
    const p = window.__ttvis.plot;
    return {
      covering, size: [r.width, r.height], frame: [innerWidth, innerHeight],
      fills: Math.abs(r.width - pane.width) <= 1 && Math.abs(r.height - pane.height) <= 1,
      follows: Math.abs(p.get("width") - r.width) <= 1 && Math.abs(p.get("height") - r.height) <= 1 && Math.abs(c.width - r.width * devicePixelRatio) <= 2,
      band: edge - r.right,
    };
  });
  const check = async (label) => {
    let g;
    for (let k = 0; k < 50; k++) {
      await page.waitForTimeout(200);
      g = await layout();
      if (g.fills && g.follows && Math.abs(g.band) <= 2) break;
    }
    assert.deepEqual(g.covering, [], `${label}: nothing covers the plot ${JSON.stringify(g)}`);
    assert.ok(g.fills && g.follows, `${label}: the plot fills its pane and its size follows ${JSON.stringify(g)}`);
    assert.ok(Math.abs(g.band) <= 2, `${label}: no empty band beside the plot ${JSON.stringify(g)}`);
    return g;
  };
  // the plot's usable square (a map is drawn square): what a smaller window takes from the plot
  const square = (s) => Math.min(s[0], s[1]);
  const sizes = [];
  for (const [w, h] of [[1600, 1000], [1100, 800], [800, 700]]) {
    await page.setViewportSize({ width: w, height: h });
    sizes.push(square((await check(`${w}x${h}`)).size));
    await page.screenshot({ path: path.join(SHOTS, `vscode-visualizer-${w}.png`) });
  }
  assert.ok(sizes[0] > sizes[1] && sizes[1] > sizes[2], `the plot's square follows the window: ${sizes}`);
  // hiding VS Code's sidebar widens the webview: the plot takes the room, no empty band is left
  await page.setViewportSize({ width: 1100, height: 800 });
  const withSidebar = await check("1100x800 again");
  await runCommand("View: Toggle Primary Side Bar Visibility");
  try {
    const g = await check("sidebar hidden");
    // the plot's usable square grows with the room the sidebar left
    assert.ok(g.frame[0] > withSidebar.frame[0] + 100 && square(g.size) > square(withSidebar.size) + 50, `the plot took the sidebar's room: ${withSidebar.size} -> ${g.size}`);
    await page.screenshot({ path: path.join(SHOTS, "vscode-visualizer-no-sidebar.png") });
  } finally {
    await runCommand("View: Toggle Primary Side Bar Visibility");
  }
});

test("Restart Server brings the server back and the tree still lists the runs", async () => {
  await runCommand("ttvis: Restart Server");
  await page.locator(".notifications-toasts", { hasText: "ttvis server restarted" }).first().waitFor({ timeout: 90_000 });
  await runCommand("ttvis: Refresh Training Runs");
  await page.locator(".sidebar .monaco-list-row", { hasText: "digits" }).first().waitFor({ timeout: 60_000 });
});

test("Train Visualization Model… trains a method other than DVI: schema prompts, progress with Cancel, results", async (t) => {
  t.after(() => page.screenshot({ path: path.join(SHOTS, "vscode-train-last.png") }).catch(() => {}));
  await runCommand("ttvis: Train Visualization Model…");
  const row = quickRow;
  await row("fresh").waitFor({ timeout: 30_000 });
  await row("fresh").click();
  // the methods come from the server (ttvis/methods)
  await row("AlignedUMAP").waitFor({ timeout: 30_000 });
  const methods = await page.locator(".quick-input-list").innerText();
  assert.match(methods, /DVI/);
  await quickRow(/^UMAP/).click().catch(() => row("umap-learn per epoch").click());
  // the parameter prompt lists the method's own parameters (from its JSON Schema) under "Train with these values"
  await row("Train with these values").waitFor({ timeout: 30_000 });
  assert.match(await page.locator(".quick-input-widget").innerText(), /UMAP on fresh/);
  // the list is virtualised: filter it to see that UMAP's own parameter is offered and DVI's is not
  const input = page.locator(".quick-input-widget input.input");
  await input.fill("n_epochs");
  await row("n_epochs").waitFor({ timeout: 10_000 });
  await input.fill("lambda1");
  await page.waitForTimeout(300);
  assert.equal(await page.locator(".quick-input-list .monaco-list-row", { hasText: "lambda1" }).count(), 0);
  await input.fill("");
  await row("Train with these values").click();
  // progress: a notification with the stage and epoch n/N, and a Cancel button
  const done = path.join(workspace, "fresh", "visualize", "UMAP", "projection", "4.npy");
  const seen = new Set();
  let cancelButton = false;
  const deadline = Date.now() + 300_000;
  while (!fs.existsSync(done)) {
    if (Date.now() > deadline) throw new Error("training did not finish");
    const toast = page.locator(".notifications-toasts .notification-toast", { hasText: "Training UMAP on fresh" });
    if (await toast.count()) {
      const text = await toast.first().innerText().catch(() => "");
      const m = text.match(/epoch \d+\/4/);
      if (m) seen.add(m[0]);
      cancelButton ||= await toast.first().locator(".monaco-button", { hasText: "Cancel" }).count() > 0;
    }
    await page.waitForTimeout(100);
  }
  assert.ok(seen.size > 0, "no epoch n/N progress was shown while training");
  assert.ok(cancelButton, "the progress notification has no Cancel button");
  await page.locator(".sidebar .monaco-list-row", { hasText: /UMAP.*trained · NPR [\d.]+ · no inverse map/ }).first().waitFor({ timeout: 60_000 });
  await page.screenshot({ path: path.join(SHOTS, "vscode-train.png") });
});

/** The webview frame whose page satisfies `pred` (evaluated in the frame), e.g. a compare or a live panel. */
async function frameWhere(pred, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const f of page.frames()) {
      try {
        if (await f.evaluate(pred)) return f;
      } catch { /* not ready or gone */ }
    }
    await page.waitForTimeout(500);
  }
  throw new Error("no webview frame matched");
}

test("Compare Side by Side… shows two results in one panel, one slider, linked selection", async () => {
  await runCommand("ttvis: Compare Side by Side…");
  const row = quickRow;
  await row("digits").waitFor({ timeout: 30_000 });
  await row("digits").click();
  // the other side: picked from a list when there are several candidates (one here: UMAP on fresh, opened at once)
  if (await row("fresh · UMAP").waitFor({ timeout: 5_000 }).then(() => true, () => false)) await row("fresh · UMAP").click();
  const frame = await frameWhere(() => !!(document.body.dataset.comparePath && window.__ttvis?.drawnB?.total === 1797 && window.__ttvis?.drawn?.total === 1797));
  assert.equal(await frame.evaluate(() => !!window.__ttvis.plot.get("backgroundImage")), true); // DVI's territories
  assert.equal(await frame.evaluate(() => !!window.__ttvis.plotB.get("backgroundImage")), false); // UMAP has none
  await frame.evaluate(() => { const s = document.getElementById("epoch"); s.value = "0"; s.dispatchEvent(new Event("input")); });
  await frame.waitForFunction(() => window.__ttvis.drawn.epoch === 1 && window.__ttvis.drawnB.epoch === 1, null, { timeout: 30_000 });
  await frame.evaluate(() => window.__ttvis.plot.select([7, 8, 9]));
  await frame.waitForFunction(() => JSON.stringify([...window.__ttvis.plotB.get("selectedPoints")].sort((a, b) => a - b)) === "[7,8,9]", null, { timeout: 30_000 });
  await page.screenshot({ path: path.join(SHOTS, "vscode-compare.png") });
});

test("Follow a Run While It Is Recorded… shows each new epoch live, Stop Following ends it", async () => {
  const live = path.join(workspace, "live"), go = path.join(workspace, "go-live");
  const code = `import os, time
from ttvis.demo.digits import record_digits_run
def hold(e, total, m):
    if e == 1:
        while not os.path.exists(${JSON.stringify(go)}): time.sleep(0.1)
record_digits_run(${JSON.stringify(live)}, epochs=3, on_epoch=hold)`;
  const rec = spawn(PYTHON, ["-c", code], { stdio: "ignore" });
  try {
    await until(() => fs.existsSync(path.join(live, "dataset", "representation", "1.npy")), 120_000, "the first recorded epoch");
    await runCommand("ttvis: Refresh Training Runs");
    await runCommand("ttvis: Follow a Run While It Is Recorded…");
    const row = quickRow;
    await row("live").waitFor({ timeout: 30_000 });
    await row("live").click();
    await row("DVI").waitFor({ timeout: 30_000 });
    await quickRow(/^DVI/).click();
    const frame = await frameWhere(() => document.body.dataset.path?.endsWith("/live") && window.__ttvis?.ready);
    await frame.waitForFunction(() => { const b = document.getElementById("live"); return b && !b.hidden && getComputedStyle(b).display !== "none"; }, null, { timeout: 120_000 });
    fs.writeFileSync(go, "");
    await frame.waitForFunction(() => window.__ttvis.drawn?.epoch === 3, null, { timeout: 240_000 });
    await page.screenshot({ path: path.join(SHOTS, "vscode-live.png") });
    await runCommand("ttvis: Stop Following");
    await frame.waitForFunction(() => { const b = document.getElementById("live"); return !b || b.hidden || getComputedStyle(b).display === "none"; }, null, { timeout: 60_000 });
  } finally {
    rec.kill();
  }
});

test("reloading the window leaves no ttvis server behind", async () => {
  const before = serverPids();
  assert.ok(before.length >= 1);
  await runCommand("Developer: Reload Window");
  await until(() => before.every((pid) => !serverPids().includes(pid)), 30_000, "the old server to exit");
  await page.locator(".monaco-workbench").waitFor({ timeout: 90_000 });
  await until(() => serverPids().length >= 1, 90_000, "the new window's server");
});
