// The visualization page: territories behind the points, an epoch slider that plays the run,
// hover, selection (trajectory + neighbour lines, or a gallery with trails and CSV export), colour
// modes, filters, search, legend, metrics, training progress, and the debugging side panels (training
// events, the data map, suspicious samples). Runs unchanged in the VS Code webview and in a browser
// (see transport.ts). The parts live in their own modules: state.ts (view state, saved on every
// change), data.ts (epochs), encoding.ts (points), legend.ts, hover.ts, selection.ts (with
// neighbours.ts and gallery.ts), samples.ts, search.ts, events.ts, dynamics.ts, datamap.ts,
// training.ts, status.ts.
import createScatterplot from "regl-scatterplot";
import { EpochData, EpochStore } from "./data";
import { DataMap } from "./datamap";
import { SuspiciousPanel } from "./dynamics";
import { dataTypes, encodingSettings, pointsOf, visibleIndices } from "./encoding";
import { EventsPanel } from "./events";
import { downloadCsv } from "./gallery";
import { attachHover } from "./hover";
import { renderLegend } from "./legend";
import { fillMethodPicker, MethodInfo, pickMethod, renderMetrics } from "./methods";
import { SampleStore } from "./samples";
import { allowBlockedStyleElements, keepLassoSelection } from "./scatterfix";
import { search, selectionChanged } from "./search";
import { SelectionPanel } from "./selection";
import { initialState, persist, SelectTool, ViewState, VsCodeApi } from "./state";
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
const legend = $("legend");
const metricsBox = $("metrics");
const status = new StatusLine($("status"));
const debug = ((window as any).__ttvis = { ready: false } as Record<string, any>);

let colors: string[] = [];
let classes: string[] = [];
/** the methods the server knows (`ttvis/methods`): name, description, hasInverse, schema */
let methods: MethodInfo[] = [];
/** the shown method's run-level numbers (describe's eval summary: final, mean, temporal) */
let summary: Record<string, any> = {};
let current: EpochData | null = null;
let shownFilter: number[] | null = null; // the visible samples of the drawn epoch (null: all)
let playing: number | null = null;
const where = () => ({ path: state.path, method: state.method });
const store = new EpochStore(transport, where);
const samples = new SampleStore(transport, where);
const textureCache = new Map<number, any>();

allowBlockedStyleElements(); // before any plot: regl-scatterplot's lasso needs a stylesheet
const { width, height } = canvas.getBoundingClientRect();
const plot = createScatterplot({
  canvas, width, height, pointSize: 4, pointSizeSelected: 6, pointOutlineWidth: 2,
  backgroundColor: getComputedStyle(document.body).getPropertyValue("--bg").trim() || "#ffffff",
  opacity: 0.9, lassoOnLongPress: true, deselectOnEscape: true,
} as any);
debug.plot = plot;
keepLassoSelection(plot, canvas);
new ResizeObserver(() => {
  const r = canvas.getBoundingClientRect();
  plot.set({ width: r.width, height: r.height } as any);
}).observe(canvas);

/** Select `indices` in the main plot (the selection panel and the linked views follow); those the
 * filters hide cannot be selected, and when that leaves none the status line says so. */
function selectSamples(indices: number[]): void {
  const keep = shownFilter ? new Set(shownFilter) : null;
  const visible = keep ? indices.filter((i) => keep.has(i)) : indices;
  if (indices.length && !visible.length) {
    status.error(`${indices.length === 1 ? `sample ${indices[0]} is` : `these ${indices.length} samples are`} hidden by the filters (legend, show, misclassified, prediction changed)`);
    return;
  }
  status.clearError();
  if (visible.length) plot.select([...visible]); // a copy: regl-scatterplot keeps and edits the array
  else (plot as any).deselect();
}

/** Hand a CSV file to the user: VS Code's host saves it (a webview cannot download); a browser downloads it. */
function exportCsv(csv: string, name: string): void {
  if (vscodeApi) vscodeApi.postMessage({ type: "exportCsv", csv, name });
  else downloadCsv(csv, name, document.querySelector("#detail .sel-head") ?? document.body);
}

const dataMap = new DataMap({
  canvas: $<HTMLCanvasElement>("datamap"), box: $("mapBox"), info: $("mapInfo"), xMax: $("mapXMax"), classes: () => classes,
  selected: (points) => selectSamples(points),
  deselected: () => (plot as any).deselect(),
});
debug.dataMapPlot = dataMap.plot;
dataMap.highlight(state.selection ?? (state.selected !== undefined ? [state.selected] : undefined)); // a restored selection
const suspects = new SuspiciousPanel({
  box: $("suspects"), transport, state, save, samples, current: () => current, classes: () => classes, select: selectSamples,
  statsChanged: (s, note) => dataMap.setStats(s, note),
});
const events = new EventsPanel({ box: $("events"), transport, state, select: selectSamples });
const selection = new SelectionPanel({
  detail: $("detail"), plot, transport, samples, state, save, status,
  current: () => current, classes: () => classes, select: selectSamples, exportCsv,
  changed: (indices) => {
    selectionChanged(indices);
    dataMap.highlight(indices);
    suspects.mark(indices);
  },
});
attachHover({ plot, tooltip: $("tooltip"), samples, current: () => current, classes: () => classes });
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
    filter: shownFilter ?? undefined, select: selection.indices()?.slice(), ...dataTypes(state.colorBy),
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
  renderMetrics(metricsBox, d, methods.find((x) => x.name === state.method)?.hasInverse ?? true, summary);
  if (selection.indices()) void selection.refresh();
  dataMap.setSamples(d.label, d.train);
  suspects.update();
  suspects.mark(selection.indices());
  void events.update(d.epoch);
  debug.lastSwitchMs = performance.now() - t0;
  debug.drawn = { epoch, visible: filter.length, total: d.label.length, before: before?.epoch ?? null };
  status.clearError();
}

// ---- selection ------------------------------------------------------------------
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
for (const key of ["colorBy", "split"] as const) {
  const sel = $<HTMLSelectElement>(key);
  sel.value = state[key];
  sel.onchange = () => {
    (state as any)[key] = sel.value; // the options are the ColorBy / Split values
    save();
    redraw();
  };
}
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
  void search({ transport, state, status, current: () => current, visible: () => shownFilter, select: selectSamples, info: $("searchInfo") },
    $<HTMLInputElement>("search").value);
};
const toolSel = $<HTMLSelectElement>("selectTool");
/** Use `tool` for shift+drag / long-press selections on both plots. */
function useTool(tool: SelectTool): void {
  const lassoType = tool === "box" ? "rectangle" : "freeform";
  plot.set({ lassoType } as any);
  dataMap.plot.set({ lassoType });
}
toolSel.value = state.selectTool;
useTool(state.selectTool);
toolSel.onchange = () => {
  state.selectTool = toolSel.value as SelectTool;
  save();
  useTool(state.selectTool);
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
      state.method = pickMethod(desc, methods);
      save();
    }
    fillMethodPicker($<HTMLSelectElement>("method"), desc, methods, state.method);
    void suspects.load();
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
  samples.clear(); // trajectories are the method's
  events.reset();
  store.epochs = [];
  textureCache.clear();
  save();
  void start();
};

void start();
