// The visualization page: territories behind the points, an epoch slider that plays the run,
// hover, selection (trajectory + neighbours), colour modes, filters, search, legend, metrics.
// Runs unchanged in the VS Code webview and in a browser (see transport.ts).
import createScatterplot from "regl-scatterplot";
import { decodeArray, WireArray } from "./arrays";
import { RpcError, Transport, VsCodeTransport, WebSocketTransport } from "./transport";

type ColorBy = "label" | "predicted" | "correctness" | "confidence";

interface EpochData {
  epoch: number;
  xy: Float32Array;
  predicted: Int32Array | null;
  confidence: Float32Array | null;
  label: Int32Array;
  train: Uint8Array;
  scale: number[];
  background: string | null;
  metrics: Record<string, any>;
}

interface ViewState {
  path?: string;
  method: string;
  epoch?: number;
  colorBy: ColorBy;
  hiddenClasses: number[];
  split: "all" | "train" | "test";
  misclassifiedOnly: boolean;
  changedOnly: boolean;
  speed: number;
  selected?: number;
}

declare const acquireVsCodeApi: undefined | (() => { postMessage(m: unknown): void; getState(): any; setState(s: any): void });

const vscodeApi = typeof acquireVsCodeApi === "function" ? acquireVsCodeApi() : null;
const params = new URLSearchParams(location.search);
const transport: Transport = vscodeApi
  ? new VsCodeTransport(vscodeApi)
  : new WebSocketTransport(`ws://${location.host}/ws?token=${encodeURIComponent(params.get("token") ?? "")}`);

const saved: Partial<ViewState> = (vscodeApi?.getState() as Partial<ViewState>) ?? {};
const boot = (document.body.dataset.path ? { path: document.body.dataset.path, method: document.body.dataset.method } : {}) as Partial<ViewState>;
const state: ViewState = {
  method: "DVI", colorBy: "label", hiddenClasses: [], split: "all", misclassifiedOnly: false, changedOnly: false, speed: 1,
  ...saved, ...boot,
  ...(params.get("run") ? { path: params.get("run")! } : {}),
  ...(params.get("method") ? { method: params.get("method")! } : {}),
};

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const canvas = $<HTMLCanvasElement>("plot");
const slider = $<HTMLInputElement>("epoch");
const epochLabel = $("epochLabel");
const playBtn = $<HTMLButtonElement>("play");
const tooltip = $("tooltip");
const legend = $("legend");
const metricsBox = $("metrics");
const detail = $("detail");
const statusBox = $("status");

let colors: string[] = [];
let classes: string[] = [];
let epochs: number[] = [];
let current: EpochData | null = null;
let previous: EpochData | null = null;
let playing: number | null = null;
const cache = new Map<number, EpochData>();
const sampleCache = new Map<number, any>();
const textureCache = new Map<number, any>();

const { width, height } = canvas.getBoundingClientRect();
const plot = createScatterplot({
  canvas, width, height, pointSize: 4, pointSizeSelected: 6, pointOutlineWidth: 2,
  backgroundColor: getComputedStyle(document.body).getPropertyValue("--bg").trim() || "#ffffff",
  opacity: 0.9, lassoOnLongPress: true, deselectOnEscape: true,
} as any);
new ResizeObserver(() => {
  const r = canvas.getBoundingClientRect();
  plot.set({ width: r.width, height: r.height } as any);
}).observe(canvas);

function persist(): void {
  vscodeApi?.setState(state);
}

function status(msg: string, isError = false): void {
  statusBox.textContent = msg;
  statusBox.classList.toggle("error", isError);
}

// ---- data -------------------------------------------------------------------
async function loadEpoch(epoch: number): Promise<EpochData> {
  const hit = cache.get(epoch);
  if (hit) return hit;
  const r = await transport.request("ttvis/epoch", { path: state.path, method: state.method, epoch });
  const d: EpochData = {
    epoch,
    xy: decodeArray(r.projection as WireArray) as Float32Array,
    predicted: r.predicted ? (decodeArray(r.predicted) as Int32Array) : null,
    confidence: r.confidence ? (decodeArray(r.confidence) as Float32Array) : null,
    label: decodeArray(r.label) as Int32Array,
    train: decodeArray(r.train) as Uint8Array,
    scale: r.scale,
    background: r.background,
    metrics: r.metrics ?? {},
  };
  epochs = r.epochs;
  cache.set(epoch, d);
  return d;
}

function ndc(d: EpochData, xs: number[]): [number, number] {
  const [x0, y0, x1, y1] = d.scale;
  return [((xs[0] - x0) / (x1 - x0)) * 2 - 1, ((xs[1] - y0) / (y1 - y0)) * 2 - 1];
}

function pointsOf(d: EpochData): { x: Float32Array; y: Float32Array; valueA: Float32Array; valueB: Float32Array } {
  const n = d.label.length;
  const [x0, y0, x1, y1] = d.scale;
  const x = new Float32Array(n), y = new Float32Array(n), a = new Float32Array(n), b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = ((d.xy[2 * i] - x0) / (x1 - x0)) * 2 - 1;
    y[i] = ((d.xy[2 * i + 1] - y0) / (y1 - y0)) * 2 - 1;
    const lab = Math.max(d.label[i], 0);
    const pred = d.predicted ? d.predicted[i] : lab;
    a[i] = state.colorBy === "label" ? lab : state.colorBy === "predicted" ? pred : state.colorBy === "correctness" ? (pred === lab ? 0 : 1) : 0;
    b[i] = d.confidence ? Math.min(Math.max(d.confidence[i], 0), 1) : 0;
  }
  return { x, y, valueA: a, valueB: b };
}

function colorSettings(): Record<string, unknown> {
  if (state.colorBy === "confidence") {
    const ramp = Array.from({ length: 16 }, (_, i) => {
      const t = i / 15;
      return `rgb(${Math.round(220 - 190 * t)}, ${Math.round(60 + 110 * t)}, ${Math.round(60 + 40 * t)})`;
    });
    return { colorBy: "valueB", pointColor: ramp };
  }
  if (state.colorBy === "correctness") return { colorBy: "valueA", pointColor: ["#2ca02c", "#d62728"] };
  return { colorBy: "valueA", pointColor: colors };
}

function visibleIndices(d: EpochData): number[] {
  const hidden = new Set(state.hiddenClasses);
  const out: number[] = [];
  for (let i = 0; i < d.label.length; i++) {
    const pred = d.predicted ? d.predicted[i] : d.label[i];
    const cls = state.colorBy === "predicted" ? pred : d.label[i];
    if (hidden.has(cls)) continue;
    if (state.split === "train" && !d.train[i]) continue;
    if (state.split === "test" && d.train[i]) continue;
    if (state.misclassifiedOnly && pred === d.label[i]) continue;
    if (state.changedOnly && previous?.predicted && d.predicted && previous.predicted[i] === d.predicted[i]) continue;
    out.push(i);
  }
  return out;
}

async function backgroundTexture(d: EpochData): Promise<any> {
  if (!d.background) return null;
  const hit = textureCache.get(d.epoch);
  if (hit) return hit;
  const tex = await (plot as any).createTextureFromUrl(`data:image/png;base64,${d.background}`);
  textureCache.set(d.epoch, tex);
  return tex;
}

// ---- drawing ------------------------------------------------------------------
let wanted: { epoch: number; transition: boolean } | null = null;
let busy: Promise<void> | null = null;

/** Switch to ``epoch``: switches run one at a time, and a burst of requests coalesces to the latest. */
function showEpoch(epoch: number, transition = true): Promise<void> {
  wanted = { epoch, transition };
  if (!busy) {
    busy = (async () => {
      try {
        while (wanted) {
          const w = wanted;
          wanted = null;
          try {
            await drawEpoch(w.epoch, w.transition);
          } catch (e) {
            status(`epoch ${w.epoch}: ${e instanceof Error ? e.message : String(e)}`, true);
          }
        }
      } finally {
        busy = null; // a failed switch must never wedge the queue
      }
    })();
  }
  return busy;
}

/** The epoch the view is at or heading to. */
function targetEpoch(): number | undefined {
  return wanted?.epoch ?? current?.epoch;
}

async function drawEpoch(epoch: number, transition: boolean): Promise<void> {
  const t0 = performance.now();
  let d: EpochData;
  try {
    d = await loadEpoch(epoch);
  } catch (e) {
    status(e instanceof RpcError ? e.message : String(e), true);
    return;
  }
  previous = current && current.epoch !== epoch ? current : previous;
  current = d;
  state.epoch = epoch;
  persist();
  const bg = await backgroundTexture(d);
  plot.set({ backgroundImage: bg, ...colorSettings() } as any);
  const tPrep = performance.now();
  const pts = pointsOf(d);
  const filter = visibleIndices(d);
  const animate = transition && (plot as any).get("points").length === d.label.length;
  const duration = Math.round(450 / state.speed);
  const drawing = plot.draw(pts as any, {
    transition: animate, transitionDuration: duration,
    filter: filter.length === d.label.length ? undefined : filter,
    select: state.selected !== undefined ? [state.selected] : undefined,
    zDataType: state.colorBy === "confidence" ? "continuous" : "categorical",
    wDataType: "continuous",
  } as any) as Promise<void>;
  // the switch's own cost: data -> points -> GPU upload, until the transition starts
  (window as any).__ttvis.lastPrepareMs = performance.now() - tPrep;
  await drawing; // regl-scatterplot ignores a draw issued before the previous one finished
  slider.max = String(epochs.length - 1);
  slider.value = String(epochs.indexOf(epoch));
  epochLabel.textContent = `epoch ${epoch} / ${epochs[epochs.length - 1]}`;
  renderLegend(d, filter);
  renderMetrics(d);
  if (state.selected !== undefined) void showSelection(state.selected);
  (window as any).__ttvis.lastSwitchMs = performance.now() - t0;
  (window as any).__ttvis.drawn = { epoch, visible: filter.length, total: d.label.length };
  status("");
}

function renderLegend(d: EpochData, visible: number[]): void {
  const counts = new Array(classes.length).fill(0);
  const key = state.colorBy === "predicted" && d.predicted ? d.predicted : d.label;
  for (const i of visible) if (key[i] >= 0) counts[key[i]]++;
  legend.textContent = "";
  classes.forEach((name, c) => {
    const row = document.createElement("button");
    row.className = "legend-row" + (state.hiddenClasses.includes(c) ? " off" : "");
    row.dataset.cls = String(c);
    row.title = "click to show/hide this class";
    row.innerHTML = `<span class="swatch"></span><span class="name"></span><span class="count">${counts[c]}</span>`;
    (row.querySelector(".swatch") as HTMLElement).style.background = colors[c]; // CSSOM: allowed by the CSP
    (row.querySelector(".name") as HTMLElement).textContent = name;
    row.onclick = () => {
      const h = new Set(state.hiddenClasses);
      h.has(c) ? h.delete(c) : h.add(c);
      state.hiddenClasses = [...h];
      void showEpoch(d.epoch, false);
    };
    legend.appendChild(row);
  });
}

function fmt(v: unknown): string {
  return typeof v === "number" ? v.toFixed(2) : "–";
}

function renderMetrics(d: EpochData): void {
  const m = d.metrics;
  metricsBox.innerHTML = `<div><b>NPR</b> train ${fmt(m.npr_train)} · test ${fmt(m.npr_test)}</div>` +
    `<div><b>PPR</b> train ${fmt(m.ppr_train)} · test ${fmt(m.ppr_test)}</div>` +
    `<div><b>accuracy</b> train ${fmt(m.accuracy_train)} · test ${fmt(m.accuracy_test)}</div>`;
}

// ---- hover, selection ------------------------------------------------------------
async function sample(i: number): Promise<any> {
  if (!sampleCache.has(i)) sampleCache.set(i, await transport.request("ttvis/sample", { path: state.path, index: i, method: state.method }));
  return sampleCache.get(i);
}

plot.subscribe("pointOver", async (i: number) => {
  const d = current;
  if (!d) return;
  const [sx, sy] = (plot as any).getScreenPosition(i);
  const pred = d.predicted ? d.predicted[i] : null;
  const conf = d.confidence ? d.confidence[i] : null;
  tooltip.innerHTML = `<img id="tipSprite" alt=""><div class="tip-text"><div><b>#${i}</b> ${d.train[i] ? "train" : "test"}</div>` +
    (d.label[i] >= 0 ? `<div>label: <span id="tipLabel"></span></div>` : "") +
    (pred !== null ? `<div>predicted: <span id="tipPred"></span> (${fmt(conf)})</div>` : "") + `</div>`;
  if (d.label[i] >= 0) $("tipLabel").textContent = classes[d.label[i]] ?? String(d.label[i]);
  if (pred !== null) $("tipPred").textContent = classes[pred] ?? String(pred);
  tooltip.style.left = `${sx + 14}px`;
  tooltip.style.top = `${sy + 14}px`;
  tooltip.hidden = false;
  (window as any).__ttvis.hovered = i;
  const s = await sample(i);
  const img = document.getElementById("tipSprite") as HTMLImageElement | null;
  if (img && (window as any).__ttvis.hovered === i) {
    if (s.sprite) img.src = `data:image/png;base64,${s.sprite}`;
    else if (s.text) img.replaceWith(Object.assign(document.createElement("div"), { className: "tip-sample-text", textContent: s.text }));
  }
});
plot.subscribe("pointOut", () => {
  tooltip.hidden = true;
  (window as any).__ttvis.hovered = null;
});
plot.subscribe("select", ({ points }: { points: number[] }) => {
  if (points.length) void showSelection(points[0]);
});
plot.subscribe("deselect", () => {
  state.selected = undefined;
  persist();
  plot.clearAnnotations?.();
  detail.hidden = true;
});

async function showSelection(i: number): Promise<void> {
  const d = current;
  if (!d) return;
  state.selected = i;
  persist();
  const [s, nb] = await Promise.all([
    sample(i),
    transport.request("ttvis/neighbors", { path: state.path, method: state.method, epoch: d.epoch, index: i, k: 10 }),
  ]);
  const traj: number[][] = s.trajectory?.positions ?? [];
  const here = ndc(d, [d.xy[2 * i], d.xy[2 * i + 1]]);
  const lines: any[] = [{ vertices: traj.map((p: number[]) => ndc(d, p)), lineColor: [0.1, 0.1, 0.1, 0.85], lineWidth: 2 }];
  for (const j of nb.high as number[]) lines.push({ vertices: [here, ndc(d, [d.xy[2 * j], d.xy[2 * j + 1]])], lineColor: [0.95, 0.5, 0.05, 0.9], lineWidth: 1 });
  await (plot as any).drawAnnotations(lines);
  detail.hidden = false;
  detail.innerHTML = `<h3>sample #${i}</h3>${s.sprite ? `<img class="big" src="data:image/png;base64,${s.sprite}" alt="">` : ""}` +
    (s.text ? `<div class="tip-sample-text" id="dText"></div>` : "") +
    `<div>${s.label >= 0 ? `label <b id="dLabel"></b> · ` : ""}${s.split}</div>` +
    `<div>trajectory over ${traj.length} epochs (dark line)</div>` +
    `<div>high-D neighbours (orange lines): ${nb.high.join(", ")}</div>` +
    `<div>2-D neighbours: ${nb.low.join(", ")}</div><div>overlap ${fmt(nb.overlap)}</div>`;
  if (s.label >= 0) $("dLabel").textContent = s.className ?? String(s.label);
  if (s.text) $("dText").textContent = s.text;
  (window as any).__ttvis.selection = { index: i, trajectory: traj.length, neighbors: nb.high.length };
}

// ---- controls --------------------------------------------------------------------
function step(delta: number): void {
  const at = targetEpoch();
  if (at === undefined) return;
  const k = epochs.indexOf(at) + delta;
  if (k >= 0 && k < epochs.length) void showEpoch(epochs[k]);
}

function play(on: boolean): void {
  if (playing !== null) clearInterval(playing);
  playing = null;
  playBtn.textContent = on ? "❚❚" : "▶";
  playBtn.title = on ? "pause" : "play";
  if (!on) return;
  if (targetEpoch() === epochs[epochs.length - 1]) void showEpoch(epochs[0], false);
  playing = window.setInterval(() => {
    const at = targetEpoch();
    if (at === undefined || busy) return; // wait for the previous frame
    const k = epochs.indexOf(at);
    if (k >= epochs.length - 1) return play(false);
    void showEpoch(epochs[k + 1]);
  }, Math.round(800 / state.speed));
}

slider.oninput = () => void showEpoch(epochs[Number(slider.value)]);
playBtn.onclick = () => play(playing === null);
$("prev").onclick = () => step(-1);
$("next").onclick = () => step(1);
const speedSel = $<HTMLSelectElement>("speed");
speedSel.value = String(state.speed);
speedSel.onchange = () => {
  state.speed = Number(speedSel.value);
  if (playing !== null) play(true);
};
const colorSel = $<HTMLSelectElement>("colorBy");
colorSel.value = state.colorBy;
colorSel.onchange = () => {
  state.colorBy = colorSel.value as ColorBy;
  if (current) void showEpoch(current.epoch, false);
};
const splitSel = $<HTMLSelectElement>("split");
splitSel.value = state.split;
splitSel.onchange = () => {
  state.split = splitSel.value as ViewState["split"];
  if (current) void showEpoch(current.epoch, false);
};
for (const [id, key] of [["misclassified", "misclassifiedOnly"], ["changed", "changedOnly"]] as const) {
  const box = $<HTMLInputElement>(id);
  box.checked = state[key];
  box.onchange = () => {
    state[key] = box.checked;
    if (current) void showEpoch(current.epoch, false);
  };
}
$<HTMLFormElement>("searchForm").onsubmit = (ev) => {
  ev.preventDefault();
  const i = Number(($<HTMLInputElement>("search")).value);
  if (!current || !Number.isInteger(i) || i < 0 || i >= current.label.length) {
    status(`no sample ${($<HTMLInputElement>("search")).value}: enter an index 0..${(current?.label.length ?? 1) - 1}`, true);
    return;
  }
  plot.select([i]);
};
window.addEventListener("keydown", (ev) => {
  if ((ev.target as HTMLElement).tagName === "INPUT") return;
  if (ev.key === "ArrowRight") step(1);
  if (ev.key === "ArrowLeft") step(-1);
  if (ev.key === " ") play(playing === null);
});

/** Commands from the VS Code extension (palette: Play/Pause, Next/Previous Epoch, Export Frame). */
window.addEventListener("message", async (ev) => {
  const m = ev.data;
  if (!m || m.type !== "command") return;
  if (m.command === "playPause") play(playing === null);
  if (m.command === "next") step(1);
  if (m.command === "previous") step(-1);
  if (m.command === "export") vscodeApi?.postMessage({ type: "exportFrame", epoch: current?.epoch, dataUrl: await exportFrame() });
});

async function exportFrame(): Promise<string> {
  const img = await (plot as any).export({ scale: 1 });
  const c = document.createElement("canvas");
  c.width = img.width;
  c.height = img.height;
  c.getContext("2d")!.putImageData(img, 0, 0);
  return c.toDataURL("image/png");
}

// live updates while training runs
transport.onNotification("ttvis/epochReady", (p) => {
  if (p.path !== state.path || p.method !== state.method) return;
  if (!epochs.includes(p.epoch)) epochs = [...epochs, p.epoch].sort((a, b) => a - b);
  cache.delete(p.epoch);
  slider.max = String(epochs.length - 1);
  if (!current || current.epoch === epochs[epochs.length - 2]) void showEpoch(p.epoch);
});
transport.onNotification("ttvis/trainFinished", (p) => {
  if (p.path === state.path) status(`training ${p.status}: ${p.message}`);
});

// ---- start -------------------------------------------------------------------------
async function start(): Promise<void> {
  (window as any).__ttvis = { ready: false, plot };
  try {
    if (!state.path) {
      const found = await transport.request("ttvis/discover", {});
      const trained = found.runs.find((r: any) => r.methods?.[state.method]?.epochs?.length) ?? found.runs[0];
      if (!trained) {
        status("no training runs found under the served folders", true);
        return;
      }
      state.path = trained.path;
    }
    const desc = await transport.request("ttvis/describe", { path: state.path });
    classes = desc.classes;
    colors = desc.colors;
    $("runName").textContent = `${desc.name} · ${state.method}`;
    epochs = desc.methods?.[state.method]?.epochs ?? [];
    if (!epochs.length) {
      status(`no ${state.method} results for ${desc.name} yet: train it first ("Train Visualization Model…" or ttvis visualize)`, true);
      (window as any).__ttvis.ready = true;
      return;
    }
    const first = state.epoch && epochs.includes(state.epoch) ? state.epoch : epochs[epochs.length - 1];
    await showEpoch(first, false);
  } catch (e) {
    status(e instanceof Error ? e.message : String(e), true);
  }
  (window as any).__ttvis.ready = true;
}

void start();
