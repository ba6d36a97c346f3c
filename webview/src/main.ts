// The visualization page: territories behind the points, an epoch slider that plays the run,
// hover, selection (trajectory + neighbour lines, or a gallery with trails and CSV export, and "Similar"),
// colour modes, filters, search, legend, metrics, training progress and the live view of a run being
// recorded, the debugging side panels (training events, the data map, suspicious samples), and the compare
// view (two sides, one slider). Runs unchanged in the VS Code webview and in a browser (see transport.ts).
// The parts live in their own modules: state.ts (view state, saved on every change), data.ts (epochs),
// encoding.ts (points), textures.ts, legend.ts, hover.ts, selection.ts (with neighbours.ts, gallery.ts
// and similar.ts), samples.ts, search.ts, events.ts, dynamics.ts, datamap.ts, training.ts, status.ts,
// controls.ts, compare.ts, layout.ts.
import createScatterplot from "regl-scatterplot";
import { CompareSide } from "./compare";
import { frameDataUrl, wireControls } from "./controls";
import { EpochData, EpochStore } from "./data";
import { DataMap } from "./datamap";
import { SuspiciousPanel } from "./dynamics";
import { dataTypes, encodingSettings, pointsOf, visibleIndices } from "./encoding";
import { EventsPanel } from "./events";
import { downloadCsv } from "./gallery";
import { attachHover } from "./hover";
import { renderLegend } from "./legend";
import { boxSize, followBox, wireSideToggle } from "./layout";
import { fillMethodPicker, MethodInfo, pickMethod, renderMetrics } from "./methods";
import { SampleStore } from "./samples";
import { allowBlockedStyleElements, keepLassoSelection } from "./scatterfix";
import { search, selectionChanged } from "./search";
import { SelectionPanel } from "./selection";
import { SimilarAction } from "./similar";
import { initialState, persist, ViewState, VsCodeApi } from "./state";
import { StatusLine } from "./status";
import { TextureCache } from "./textures";
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
// a compare view lays out two panes before any plot measures its canvas
document.body.classList.toggle("compare", Boolean(state.compare));
$("paneB").hidden = !state.compare;

let colors: string[] = [];
let classes: string[] = [];
/** the methods the server knows (`ttvis/methods`): name, description, hasInverse, schema */
let methods: MethodInfo[] = [];
/** the shown method's run-level numbers (describe's eval summary: final, mean, temporal) */
let summary: Record<string, any> = {};
let samplesCount = 0;
let current: EpochData | null = null;
let shownFilter: number[] | null = null; // the visible samples of the drawn epoch (null: all)
let playing: number | null = null;
const where = () => ({ path: state.path, method: state.method });
const store = new EpochStore(transport, where);
const samples = new SampleStore(transport, where);

allowBlockedStyleElements(); // before any plot: regl-scatterplot's lasso needs a stylesheet
const plot = createScatterplot({
  canvas, ...boxSize(canvas.parentElement!), pointSize: 4, pointSizeSelected: 6, pointOutlineWidth: 2,
  backgroundColor: getComputedStyle(document.body).getPropertyValue("--bg").trim() || "#ffffff",
  opacity: 0.9, lassoOnLongPress: true, deselectOnEscape: true,
} as any);
debug.plot = plot;
keepLassoSelection(plot, canvas);
followBox(plot, canvas.parentElement!);
wireSideToggle($<HTMLButtonElement>("sideToggle"));
const textures = new TextureCache(plot);

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
const similar = new SimilarAction({ transport, state, current: () => current, select: selectSamples });
const selection = new SelectionPanel({
  detail: $("detail"), plot, transport, samples, state, save, status, similar,
  current: () => current, classes: () => classes, select: selectSamples, exportCsv,
  changed: (indices) => {
    selectionChanged(indices);
    dataMap.highlight(indices);
    suspects.mark(indices);
    compare?.showSelection(indices);
  },
});
const tip = attachHover({
  plot, tooltip: $("tooltip"), samples, current: () => current, classes: () => classes, linked: (i) => compare?.linkFromLeft(i),
});
const compare = state.compare ? new CompareSide({
  transport, state, target: state.compare, canvas: $<HTMLCanvasElement>("plotB"), metrics: $("metricsB"), title: $("titleB"),
  tooltip: $("tooltipB"), note: $("compareNote"), methods: () => methods,
  left: { plot, tip, current: () => current },
  // a selection on the right: the samples the left side has too (sample i is sample i on both)
  selected: (points) => {
    const linked = points.filter((i) => i < (current?.label.length ?? samplesCount));
    if (linked.length) selection.select(linked);
    else selection.deselect();
  },
  deselected: () => selection.deselect(),
  epochsChanged: () => syncSlider(),
}) : null;
debug.plotB = compare?.plot;
const training = new TrainingView({
  transport, state, status, store, partialEl: $("partial"), liveEl: $("live"),
  drawnEpoch: () => current?.epoch,
  viewEpoch: () => targetEpoch(),
  show: (e) => epochList().includes(e) && void showEpoch(e),
  epochsChanged: () => syncSlider(),
  resultsReplaced: () => textures.clear(),
  restart: () => restart(),
});

function message(e: unknown): string {
  return e instanceof RpcError || e instanceof Error ? e.message : String(e);
}

/** The epochs the slider offers: the run's, or in a compare view those both sides have. */
function epochList(): number[] {
  return compare ? compare.common(store.epochs) : store.epochs;
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
  const epochs = epochList();
  slider.max = String(Math.max(epochs.length - 1, 0));
  if (current) {
    slider.value = String(epochs.indexOf(current.epoch));
    epochLabel.textContent = `epoch ${current.epoch} / ${epochs[epochs.length - 1]}`;
  }
  debug.epochs = [...epochs];
  compare?.explain(store.epochs, samplesCount);
}

async function drawEpoch(epoch: number, transition: boolean): Promise<void> {
  const t0 = performance.now();
  let d: EpochData;
  let before: EpochData | null = null;
  // the right side loads and draws alongside (its failure is reported, the left side still draws)
  const right = compare?.draw(epoch, transition, selection.indices()?.slice())
    .then(() => "", (e) => `${compare!.name || "right side"}: epoch ${epoch}: ${message(e)}`);
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
  const bg = await textures.get(d);
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
  const rightError = await right;
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
  if (!compare) {
    dataMap.setSamples(d.label, d.train);
    suspects.update();
    suspects.mark(selection.indices());
    void events.update(d.epoch);
  }
  debug.lastSwitchMs = performance.now() - t0;
  debug.drawn = { epoch, visible: filter.length, total: d.label.length, before: before?.epoch ?? null };
  if (rightError) status.error(rightError);
  else status.clearError();
}

// ---- selection and controls ---------------------------------------------------------
plot.subscribe("select", ({ points }: { points: number[] }) => selection.select([...points]));
plot.subscribe("deselect", () => selection.deselect());

function step(delta: number): void {
  const at = targetEpoch();
  if (at === undefined) return;
  const epochs = epochList();
  const k = epochs.indexOf(at) + delta;
  if (k >= 0 && k < epochs.length) void showEpoch(epochs[k]);
}

function play(on: boolean = playing === null): void {
  const epochs = epochList();
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

slider.oninput = () => void showEpoch(epochList()[Number(slider.value)]);
wireControls({
  state, save, redraw, step, play,
  speedChanged: () => playing !== null && play(true),
  search: (text) => void search({ transport, state, status, current: () => current, visible: () => shownFilter, select: selectSamples, info: $("searchInfo") }, text),
  plots: () => [plot, dataMap.plot, ...(compare ? [compare.plot] : [])],
  exportFrame: async () => vscodeApi?.postMessage({ type: "exportFrame", epoch: current?.epoch, dataUrl: await frameDataUrl(plot) }),
});

// ---- start -------------------------------------------------------------------------
/** Describe the run (and, in a compare view, the right side's) and draw the saved epoch, else the newest;
 * `newest`: draw the newest whatever was saved (a run that could not be described at first). */
async function start(newest = false): Promise<void> {
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
    if (!compare) void suspects.load();
    summary = desc.methods?.[state.method]?.eval ?? {};
    classes = desc.classes ?? [];
    colors = desc.colors ?? [];
    samplesCount = desc.samples ?? 0;
    training.runPath = desc.path;
    $("runName").textContent = `${desc.name} · ${state.method}`;
    $("titleA").textContent = `${desc.name} · ${state.method}`;
    const m: MethodState | undefined = desc.methods?.[state.method];
    // starting again (a live run became describable): keep the epochs that landed meanwhile, too
    const had = store.epochs;
    store.epochs = newest ? [...new Set([...had, ...(m?.epochs ?? [])])].sort((a, b) => a - b) : m?.epochs ?? [];
    training.fromDescribe(m);
    if (!store.epochs.length) {
      if (m?.state !== "training" && m?.state !== "watching") {
        status.error(`no ${state.method} results for ${desc.name} yet: train it first ("Train Visualization Model…" or ttvis visualize)`);
      }
      return;
    }
    if (compare) {
      if (!state.compare!.path) state.compare!.path = state.path!; // "two methods on one run"
      if (!state.compare!.method) state.compare!.method = state.method;
      save();
      await compare.describe();
      $("runName").textContent = `${desc.name} · ${state.method} ⇄ ${compare.name}`;
      syncSlider();
    }
    const epochs = epochList();
    if (!epochs.length) {
      status.error(`the two sides have no epoch in common (left ${store.epochs.join(", ")}; right ${compare?.store.epochs.join(", ")})`);
      return;
    }
    const at = targetEpoch();
    if (newest && at !== undefined && at !== had[had.length - 1]) return syncSlider(); // the user went back: stay
    const first = !newest && state.epoch !== undefined && epochs.includes(state.epoch) ? state.epoch : epochs[epochs.length - 1];
    if (!newest || first !== at) await showEpoch(first, false);
  } catch (e) {
    status.error(message(e));
  } finally {
    debug.ready = true;
  }
}

let starting: Promise<void> | null = null;
let startAgain = false;
/** Start again (the run became describable: its first epoch landed), once at a time. */
function restart(): void {
  if (starting) {
    startAgain = true;
    return;
  }
  starting = start(true).finally(() => {
    starting = null;
    if (startAgain) {
      startAgain = false;
      restart();
    }
  });
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
  textures.clear();
  save();
  void start();
};

starting = start().finally(() => (starting = null));
