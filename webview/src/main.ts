// The visualization page: territories behind the points, an epoch slider that plays the run,
// hover, selection (trajectory + neighbours, or a list), colour modes, filters, search, legend,
// metrics, and training progress. Runs unchanged in the VS Code webview and in a browser
// (see transport.ts). The parts live in their own modules: state.ts (view state, saved on every
// change), data.ts (epochs), encoding.ts (points), legend.ts, selection.ts, training.ts, status.ts.
import createScatterplot from "regl-scatterplot";
import { EpochData, EpochStore } from "./data";
import { dataTypes, encodingSettings, pointsOf, visibleIndices } from "./encoding";
import { renderLegend } from "./legend";
import { SampleStore, SelectionPanel } from "./selection";
import { ColorBy, initialState, persist, ViewState, VsCodeApi } from "./state";
import { StatusLine } from "./status";
import { MethodState, TrainingView } from "./training";
import { RpcError, Transport, VsCodeTransport, WebSocketTransport } from "./transport";

declare const acquireVsCodeApi: undefined | (() => VsCodeApi);

const vscodeApi = typeof acquireVsCodeApi === "function" ? acquireVsCodeApi() : null;
const query = new URLSearchParams(location.search);
const transport: Transport = vscodeApi
  ? new VsCodeTransport(vscodeApi)
  : new WebSocketTransport(`ws://${location.host}/ws?token=${encodeURIComponent(query.get("token") ?? "")}`);
const state: ViewState = initialState(vscodeApi, query, document.body.dataset, location.hash);
/** Save the view state now (every change calls it). */
const save = (): void => persist(state, vscodeApi);

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const canvas = $<HTMLCanvasElement>("plot");
const slider = $<HTMLInputElement>("epoch");
const epochLabel = $("epochLabel");
const playBtn = $<HTMLButtonElement>("play");
const tooltip = $("tooltip");
const legend = $("legend");
const metricsBox = $("metrics");
const status = new StatusLine($("status"));
const debug = ((window as any).__ttvis = { ready: false } as Record<string, any>);

let colors: string[] = [];
let classes: string[] = [];
/** the methods the server knows (`ttvis/methods`): name, description, hasInverse, schema */
let methods: { name: string; description: string; hasInverse: boolean }[] = [];
/** the shown method's run-level numbers (describe's eval summary: final, mean, temporal) */
let summary: Record<string, any> = {};
let current: EpochData | null = null;
let shownFilter: number[] | null = null; // the visible samples of the drawn epoch (null: all)
let playing: number | null = null;
const where = () => ({ path: state.path, method: state.method });
const store = new EpochStore(transport, where);
const samples = new SampleStore(transport, where);
const textureCache = new Map<number, any>();

const { width, height } = canvas.getBoundingClientRect();
const plot = createScatterplot({
  canvas, width, height, pointSize: 4, pointSizeSelected: 6, pointOutlineWidth: 2,
  backgroundColor: getComputedStyle(document.body).getPropertyValue("--bg").trim() || "#ffffff",
  opacity: 0.9, lassoOnLongPress: true, deselectOnEscape: true,
} as any);
debug.plot = plot;
new ResizeObserver(() => {
  const r = canvas.getBoundingClientRect();
  plot.set({ width: r.width, height: r.height } as any);
}).observe(canvas);

const selection = new SelectionPanel({
  detail: $("detail"), plot, transport, samples, state, save, status,
  current: () => current, classes: () => classes,
});
const training = new TrainingView({
  transport, state, status, store, partialEl: $("partial"),
  drawnEpoch: () => current?.epoch,
  show: (e) => void showEpoch(e),
  epochsChanged: () => syncSlider(),
  resultsReplaced: () => textureCache.clear(),
});

function message(e: unknown): string {
  return e instanceof RpcError || e instanceof Error ? e.message : String(e);
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

/** Switch to ``epoch`` (and save it as the view's epoch at once): switches run one at a time, and a
 * burst of requests coalesces to the latest. */
function showEpoch(epoch: number, transition = true): Promise<void> {
  state.epoch = epoch;
  save();
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
            status.error(`epoch ${w.epoch}: ${message(e)}`);
          }
        }
      } finally {
        busy = null; // a failed switch must never wedge the queue
      }
    })();
  }
  return busy;
}

/** Redraw the epoch shown now (after a colour or filter change). */
function redraw(): void {
  if (current) void showEpoch(current.epoch, false);
}

/** The epoch the view is at or heading to. */
function targetEpoch(): number | undefined {
  return wanted?.epoch ?? current?.epoch;
}

function syncSlider(): void {
  const epochs = store.epochs;
  slider.max = String(Math.max(epochs.length - 1, 0));
  if (current) {
    slider.value = String(epochs.indexOf(current.epoch));
    epochLabel.textContent = `epoch ${current.epoch} / ${epochs[epochs.length - 1]}`;
  }
}

async function drawEpoch(epoch: number, transition: boolean): Promise<void> {
  const t0 = performance.now();
  let d: EpochData;
  let before: EpochData | null = null;
  try {
    d = await store.load(epoch);
    // "prediction changed" compares with the epoch before this one in the run, not the last one shown
    const b = state.changedOnly ? store.before(epoch) : undefined;
    if (b !== undefined) before = await store.load(b);
  } catch (e) {
    status.error(message(e));
    return;
  }
  current = d;
  const bg = await backgroundTexture(d);
  plot.set({ backgroundImage: bg, ...encodingSettings(state.colorBy, colors) } as any);
  const tPrep = performance.now();
  const pts = pointsOf(d, state.colorBy, classes.length);
  const filter = visibleIndices(d, state, before);
  shownFilter = filter.length === d.label.length ? null : filter;
  const animate = transition && (plot as any).get("points").length === d.label.length;
  const drawing = plot.draw(pts as any, {
    transition: animate, transitionDuration: Math.round(450 / state.speed),
    filter: shownFilter ?? undefined, select: selection.indices(), ...dataTypes(state.colorBy),
  } as any) as Promise<void>;
  // the switch's own cost: data -> points -> GPU upload, until the transition starts
  debug.lastPrepareMs = performance.now() - tPrep;
  await drawing; // regl-scatterplot ignores a draw issued before the previous one finished
  syncSlider();
  renderLegend(legend, {
    d, visible: filter, state, classes, colors, before: before?.epoch,
    onToggleClass: (c) => {
      const h = new Set(state.hiddenClasses);
      h.has(c) ? h.delete(c) : h.add(c);
      state.hiddenClasses = [...h];
      save();
      void showEpoch(d.epoch, false);
    },
  });
  renderMetrics(d);
  if (selection.indices()) void selection.refresh();
  debug.lastSwitchMs = performance.now() - t0;
  debug.drawn = { epoch, visible: filter.length, total: d.label.length, before: before?.epoch ?? null };
  status.clearError();
}

function fmt(v: unknown): string {
  return typeof v === "number" ? v.toFixed(2) : "–";
}

function renderMetrics(d: EpochData): void {
  const m = d.metrics;
  const inverse = methods.find((x) => x.name === state.method)?.hasInverse ?? true;
  const t = summary.temporal ?? {};
  metricsBox.innerHTML = `<div><b>NPR</b> train ${fmt(m.npr_train)} · test ${fmt(m.npr_test)}</div>` +
    (inverse ? `<div><b>PPR</b> train ${fmt(m.ppr_train)} · test ${fmt(m.ppr_test)}</div>`
      : `<div title="a method without an inverse map paints no territories and has no PPR"><b>PPR</b> no inverse map</div>`) +
    `<div><b>accuracy</b> train ${fmt(m.accuracy_train)} · test ${fmt(m.accuracy_test)}</div>` +
    `<div title="over the whole run: temporal ranking with the first epoch / every epoch as reference (TimeVis), stability (Vernier et al.), interslice kNN (M-PHATE)">` +
    `<b>temporal</b> rank ${fmt(t.ranking_first)}/${fmt(t.ranking_mean)} · stab ${fmt(t.stability)} · slices ${fmt(t.interslice_knn)}</div>`;
}

/** The method to show when none was asked for: one with results on this run, else one training, else the server's first. */
function pickMethod(desc: any): string {
  const runMethods: Record<string, MethodState> = desc.methods ?? {};
  const known = methods.map((m) => m.name);
  const withResults = known.filter((n) => runMethods[n]?.epochs?.length);
  const trainingNow = known.filter((n) => runMethods[n]?.state === "training");
  return withResults[0] ?? trainingNow[0] ?? known[0] ?? "";
}

/** Fill the method picker: the methods with results or a job on this run, and the shown one. */
function fillMethodPicker(desc: any): void {
  const sel = $<HTMLSelectElement>("method");
  const runMethods: Record<string, MethodState> = desc.methods ?? {};
  const names = methods.map((m) => m.name).filter((n) => n === state.method || runMethods[n]?.epochs?.length || runMethods[n]?.state === "training");
  sel.textContent = "";
  for (const n of names) {
    const opt = document.createElement("option");
    opt.value = opt.textContent = n;
    opt.title = methods.find((m) => m.name === n)?.description ?? "";
    sel.appendChild(opt);
  }
  sel.value = state.method;
}

// ---- hover, selection ------------------------------------------------------------
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
  debug.hovered = i;
  const s = await samples.get(i);
  const img = document.getElementById("tipSprite") as HTMLImageElement | null;
  if (img && debug.hovered === i) {
    if (s.sprite) img.src = `data:image/png;base64,${s.sprite}`;
    else if (s.text) img.replaceWith(Object.assign(document.createElement("div"), { className: "tip-sample-text", textContent: s.text }));
  }
});
plot.subscribe("pointOut", () => {
  tooltip.hidden = true;
  debug.hovered = null;
});
plot.subscribe("select", ({ points }: { points: number[] }) => selection.select([...points]));
plot.subscribe("deselect", () => selection.deselect());

// ---- controls --------------------------------------------------------------------
function step(delta: number): void {
  const at = targetEpoch();
  if (at === undefined) return;
  const k = store.epochs.indexOf(at) + delta;
  if (k >= 0 && k < store.epochs.length) void showEpoch(store.epochs[k]);
}

function play(on: boolean): void {
  const epochs = store.epochs;
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

slider.oninput = () => void showEpoch(store.epochs[Number(slider.value)]);
playBtn.onclick = () => play(playing === null);
$("prev").onclick = () => step(-1);
$("next").onclick = () => step(1);
const speedSel = $<HTMLSelectElement>("speed");
speedSel.value = String(state.speed);
speedSel.onchange = () => {
  state.speed = Number(speedSel.value);
  save();
  if (playing !== null) play(true);
};
const colorSel = $<HTMLSelectElement>("colorBy");
colorSel.value = state.colorBy;
colorSel.onchange = () => {
  state.colorBy = colorSel.value as ColorBy;
  save();
  redraw();
};
const splitSel = $<HTMLSelectElement>("split");
splitSel.value = state.split;
splitSel.onchange = () => {
  state.split = splitSel.value as ViewState["split"];
  save();
  redraw();
};
for (const [id, key] of [["misclassified", "misclassifiedOnly"], ["changed", "changedOnly"]] as const) {
  const box = $<HTMLInputElement>(id);
  box.checked = state[key];
  box.onchange = () => {
    state[key] = box.checked;
    save();
    redraw();
  };
}
$<HTMLFormElement>("searchForm").onsubmit = (ev) => {
  ev.preventDefault();
  const text = $<HTMLInputElement>("search").value;
  const i = Number(text);
  if (!current || text.trim() === "" || !Number.isInteger(i) || i < 0 || i >= current.label.length) {
    status.error(`no sample ${text}: enter an index 0..${(current?.label.length ?? 1) - 1}`);
    return;
  }
  if (shownFilter && !shownFilter.includes(i)) {
    status.error(`sample ${i} is hidden by the filters (legend, show, misclassified, prediction changed)`);
    return;
  }
  status.clearError();
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

// ---- start -------------------------------------------------------------------------
async function start(): Promise<void> {
  try {
    if (!state.path) {
      const found = await transport.request("ttvis/discover", {});
      const trained = found.runs.find((r: any) => Object.entries(r.methods ?? {}).some(([n, m]: [string, any]) =>
        (!state.method || n === state.method) && m.epochs?.length)) ?? found.runs[0];
      if (!trained) {
        status.error("no training runs found under the served folders");
        return;
      }
      state.path = trained.path;
      save();
    }
    const [desc, known] = await Promise.all([transport.request("ttvis/describe", { path: state.path }),
      transport.request("ttvis/methods", {})]);
    methods = known.methods ?? [];
    if (!state.method) {
      state.method = pickMethod(desc);
      save();
    }
    fillMethodPicker(desc);
    summary = desc.methods?.[state.method]?.eval ?? {};
    classes = desc.classes ?? [];
    colors = desc.colors ?? [];
    training.runPath = desc.path;
    $("runName").textContent = `${desc.name} · ${state.method}`;
    const m: MethodState | undefined = desc.methods?.[state.method];
    store.epochs = m?.epochs ?? [];
    training.fromDescribe(m);
    if (!store.epochs.length) {
      if (m?.state !== "training") {
        status.error(`no ${state.method} results for ${desc.name} yet: train it first ("Train Visualization Model…" or ttvis visualize)`);
      }
      return;
    }
    const first = state.epoch !== undefined && store.epochs.includes(state.epoch) ? state.epoch : store.epochs[store.epochs.length - 1];
    await showEpoch(first, false);
  } catch (e) {
    status.error(message(e));
  } finally {
    debug.ready = true;
  }
}

$<HTMLSelectElement>("method").onchange = () => {
  // another method of the same run: its own epochs, territories and numbers
  state.method = $<HTMLSelectElement>("method").value;
  delete state.selected;
  delete state.selection;
  (plot as any).deselect?.();
  store.clear();
  store.epochs = [];
  textureCache.clear();
  save();
  void start();
};

void start();
