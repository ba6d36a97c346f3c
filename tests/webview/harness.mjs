// Shared harness for browser tests: a real digits run with DVI results, a real `ttvis serve`,
// and Debian's Chromium driven by playwright-core.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
export const PYTHON = process.env.TTVIS_PYTHON || path.join(REPO, ".venv/bin/python");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"];

/** Record the digits run (`epochs` epochs) and train DVI on it; returns the run folder. */
export function makeDigitsRun(epochs = 6) {
  const root = mkdtempSync(path.join(tmpdir(), "ttvis-web-"));
  const run = path.join(root, "digits");
  const code = `from ttvis.demo.digits import record_digits_run; from ttvis.pipeline import visualize
record_digits_run(${JSON.stringify(run)}, epochs=${epochs}); visualize(${JSON.stringify(run)}, "DVI", {"device": "cpu", "resolution": 128})`;
  const r = spawnSync(PYTHON, ["-c", code], { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`making the digits run failed: ${r.stderr}`);
  return { root, run };
}

/** A representation-only copy of `run` beside it ("text-run": no labels, predictions, model or sprites;
 * one line of text per sample), with DVI results; returns its folder. */
export function makeTextRun(run) {
  const dst = path.join(path.dirname(run), "text-run");
  const code = `import json, shutil; from ttvis.pipeline import visualize
shutil.copytree(${JSON.stringify(run)}, ${JSON.stringify(dst)}, ignore=shutil.ignore_patterns("visualize", "prediction", "model", "model.py", "sprites", "label"))
open(${JSON.stringify(dst + "/dataset/text.txt")}, "w").write("".join(f"text of sample {i}\\n" for i in range(1797)))
json.dump({"task": "representation"}, open(${JSON.stringify(dst + "/dataset/info.json")}, "w"))
visualize(${JSON.stringify(dst)}, "DVI", {"device": "cpu", "max_epochs": 5, "first_epochs": 10}, epochs="1-3")`;
  const r = spawnSync(PYTHON, ["-c", code], { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`making the text run failed: ${r.stderr}`);
  return dst;
}

/** Start `ttvis serve ROOT`; resolves to {url, port, token, stop()}. */
export function startServe(root) {
  return new Promise((resolve, reject) => {
    const proc = spawn(PYTHON, ["-m", "ttvis.cli", "serve", root], { stdio: ["ignore", "pipe", "inherit"] });
    let buf = "";
    const timer = setTimeout(() => reject(new Error("ttvis serve did not start")), 60_000);
    proc.stdout.on("data", (d) => {
      buf += d;
      const m = buf.match(/(http:\/\/127\.0\.0\.1:(\d+)\/\?token=(\S+))/);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], port: Number(m[2]), token: m[3], stop: () => proc.kill("SIGTERM") });
      }
    });
    proc.on("exit", (c) => reject(new Error(`ttvis serve exited with ${c}`)));
  });
}

export async function launch() {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium`);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** Open the page and wait until the first epoch is drawn. */
export async function openPage(browser, url, viewport = { width: 1100, height: 800 }) {
  const page = await browser.newPage({ viewport });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => window.__ttvis && window.__ttvis.ready, null, { timeout: 60_000 });
  return { page, errors };
}
