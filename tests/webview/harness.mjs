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

// `vis(path, params, run, **kw)`: ttvis.pipeline.visualize of DVI with its parameters and the run settings
const VIS = `from ttvis.pipeline import visualize
def vis(path, params, run, method="DVI", **kw):
    return visualize(path, method, params, run=run, **kw)
`;

/** Record the digits run (`epochs` epochs; `noise`: the share of training labels recorded wrong, listed
 * in dataset/noise.json) and, unless `visualize` is false, train DVI on it (territories at `resolution`);
 * returns {root, run} (the run folder inside a fresh temporary root). */
export function makeDigitsRun(epochs = 6, { visualize = true, noise = 0, resolution = 128 } = {}) {
  return makeRun(epochs, visualize ? [["DVI", {}, { device: "cpu", resolution }]] : [], {}, { noise });
}

/** Record the digits run (with `noise`, see makeDigitsRun) and train each of `trainings` ([method,
 * params, run settings]) on it, with TTVIS_METHOD_MODULES from the environment (test methods);
 * returns {root, run}. */
export function makeRun(epochs, trainings, env = {}, { noise = 0 } = {}) {
  const root = mkdtempSync(path.join(tmpdir(), "ttvis-web-"));
  const run = path.join(root, "digits");
  const code = `${VIS}from ttvis.demo.digits import record_digits_run
record_digits_run(${JSON.stringify(run)}, epochs=${epochs}, noise=${Number(noise)})
` + trainings.map(([m, p, r]) => `vis(${JSON.stringify(run)}, ${JSON.stringify(p)}, ${JSON.stringify(r)}, method=${JSON.stringify(m)})\n`).join("");
  const r = spawnSync(PYTHON, ["-c", code], { encoding: "utf8", timeout: 300_000, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`making the digits run failed: ${r.stderr}`);
  return { root, run };
}

/** A representation-only copy of `run` beside it ("text-run": no labels, predictions, model or sprites;
 * one line of text per sample), with DVI results; returns its folder. */
export function makeTextRun(run) {
  const dst = path.join(path.dirname(run), "text-run");
  const code = `${VIS}import json, shutil
shutil.copytree(${JSON.stringify(run)}, ${JSON.stringify(dst)}, ignore=shutil.ignore_patterns("visualize", "prediction", "model", "model.py", "sprites", "label"))
open(${JSON.stringify(dst + "/dataset/text.txt")}, "w").write("".join(f"text of sample {i}\\n" for i in range(1797)))
json.dump({"task": "representation"}, open(${JSON.stringify(dst + "/dataset/info.json")}, "w"))
vis(${JSON.stringify(dst)}, {"max_epochs": 5, "first_epochs": 10}, {"device": "cpu"}, epochs="1-3")`;
  const r = spawnSync(PYTHON, ["-c", code], { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`making the text run failed: ${r.stderr}`);
  return dst;
}

/** Start `ttvis serve ROOT` (with `--trust` when `trust`: runs' model.py may be imported, so runs
 * with a model can be trained; `env` adds environment variables, e.g. TTVIS_METHOD_MODULES);
 * resolves to {url, port, token, stop()}. */
export function startServe(root, { trust = false, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(PYTHON, ["-m", "ttvis.cli", "serve", root, ...(trust ? ["--trust"] : [])],
      { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } });
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

/** Send one JSON-RPC request to the server over a websocket of its own, opened inside `page` (any
 * page served by it); resolves to the result, rejects with the error's message. */
export async function rpc(page, server, method, params) {
  return page.evaluate(async ({ port, token, method, params }) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${encodeURIComponent(token)}`);
    ws.binaryType = "arraybuffer";
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error("websocket failed")); });
    const answer = new Promise((resolve) => {
      ws.onmessage = (ev) => {
        const msg = JSON.parse(typeof ev.data === "string" ? ev.data : new TextDecoder().decode(ev.data));
        if (!msg.method && msg.id === 1) resolve(msg);
        else if (msg.id !== undefined && msg.method) ws.send(JSON.stringify({ jsonrpc: "2.0", id: msg.id, result: null }));
      };
    });
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }));
    const msg = await answer;
    ws.close();
    if (msg.error) throw new Error(msg.error.message);
    return msg.result;
  }, { port: server.port, token: server.token, method, params });
}

/** Decode a wire array ({dtype, shape, data: base64}) of int32/uint8/float32 in node. */
export function decodeWire(a) {
  const buf = Buffer.from(a.data, "base64");
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return a.dtype === "int32" ? new Int32Array(ab) : a.dtype === "float32" ? new Float32Array(ab) : new Uint8Array(ab);
}

/** Make `page` (not yet loaded) look like VS Code's webview to the page: `acquireVsCodeApi()` relays the
 * page's rpc messages to `server`'s websocket, keeps the view state in `window.__vsStates` and every
 * other message the page posts to the host in `window.__vsPosted`. */
export async function vsCodeStandIn(page, server) {
  await page.addInitScript(({ port, token }) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${encodeURIComponent(token)}`);
    ws.binaryType = "arraybuffer";
    const open = new Promise((resolve) => { ws.onopen = resolve; });
    ws.onmessage = (ev) => window.postMessage({ type: "rpc", message: JSON.parse(typeof ev.data === "string" ? ev.data : new TextDecoder().decode(ev.data)) }, "*");
    window.__vsStates = [];
    window.__vsPosted = [];
    window.acquireVsCodeApi = () => ({
      postMessage: (m) => { if (m.type === "rpc") open.then(() => ws.send(JSON.stringify(m.message))); else window.__vsPosted.push(m); },
      getState: () => window.__vsStates[window.__vsStates.length - 1],
      setState: (s) => window.__vsStates.push(JSON.parse(JSON.stringify(s))),
    });
  }, { port: server.port, token: server.token });
}
