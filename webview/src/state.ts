// The view state (run, epoch, colour, filters, selection, speed, neighbour lines, the suspicious-samples
// ranking, the selection tool): where it starts from and how it is saved. VS Code keeps it with the webview
// (getState/setState); a browser keeps it in the URL hash, so a reload (or a copied link) shows the same
// view. Saved at once on every change, never on a timer.

export type ColorBy = "label" | "predicted" | "correctness" | "confidence";
export type Split = "all" | "train" | "test";
/** Which neighbour lines the selected sample shows: representation space, 2-D, or both. */
export type NeighbourMode = "high" | "low" | "both";
/** How the suspicious-samples panel ranks the training samples (`ttvis/samples`' sort). */
export type SortKey = "aum" | "confidence" | "variability" | "correctness" | "forgetting" | "flips" | "learned";
/** What a shift+drag (or a long press, then drag) draws: a free lasso or a box. */
export type SelectTool = "lasso" | "box";
/** The right side of a compare view: another method on the same run, or the same method on another run
 * (an empty field: the left side's). */
export interface CompareTarget {
  path: string;
  method: string;
}

export interface ViewState {
  path?: string;
  method: string;
  epoch?: number;
  colorBy: ColorBy;
  hiddenClasses: number[];
  split: Split;
  misclassifiedOnly: boolean;
  changedOnly: boolean;
  speed: number;
  /** the one selected sample (detail view) */
  selected?: number;
  /** several selected samples (lasso: the list view) */
  selection?: number[];
  /** the selected sample's neighbour lines */
  neighbours: NeighbourMode;
  /** the suspicious-samples panel's ranking */
  sort: SortKey;
  /** the selection tool of both plots */
  selectTool: SelectTool;
  /** a compare view: what the right side shows (absent: one view) */
  compare?: CompareTarget;
}

/** The VS Code webview API, as far as the page uses it. */
export interface VsCodeApi {
  postMessage(m: unknown): void;
  getState(): any;
  setState(s: any): void;
}

const COLOR_BYS: ColorBy[] = ["label", "predicted", "correctness", "confidence"];
const SPLITS: Split[] = ["all", "train", "test"];
const NEIGHBOUR_MODES: NeighbourMode[] = ["high", "low", "both"];
/** The rankings `ttvis/samples` knows, in the order the sort picker lists them. */
export const SORT_KEYS: SortKey[] = ["aum", "confidence", "variability", "correctness", "forgetting", "flips", "learned"];
const SELECT_TOOLS: SelectTool[] = ["lasso", "box"];
const MAX_HASH_SELECTION = 10_000;

function ints(s: string | null): number[] {
  if (!s) return [];
  return s.split(",").map(Number).filter((v) => Number.isInteger(v) && v >= 0);
}

/** Read the view state kept in a URL hash (`#epoch=3&color=confidence&…`); unknown or malformed
 * keys are left out, so the defaults apply to them. */
export function stateFromHash(hash: string): Partial<ViewState> {
  const q = new URLSearchParams(hash.replace(/^#/, ""));
  const out: Partial<ViewState> = {};
  if (q.get("run")) out.path = q.get("run")!;
  if (q.get("method")) out.method = q.get("method")!;
  const epoch = Number(q.get("epoch"));
  if (q.has("epoch") && Number.isInteger(epoch)) out.epoch = epoch;
  const color = q.get("color") as ColorBy;
  if (COLOR_BYS.includes(color)) out.colorBy = color;
  const split = q.get("split") as Split;
  if (SPLITS.includes(split)) out.split = split;
  if (q.has("hide")) out.hiddenClasses = ints(q.get("hide"));
  if (q.has("mis")) out.misclassifiedOnly = q.get("mis") === "1";
  if (q.has("changed")) out.changedOnly = q.get("changed") === "1";
  const speed = Number(q.get("speed"));
  if (q.has("speed") && speed > 0) out.speed = speed;
  const nb = q.get("nb") as NeighbourMode;
  if (NEIGHBOUR_MODES.includes(nb)) out.neighbours = nb;
  const sort = q.get("sort") as SortKey;
  if (SORT_KEYS.includes(sort)) out.sort = sort;
  const tool = q.get("tool") as SelectTool;
  if (SELECT_TOOLS.includes(tool)) out.selectTool = tool;
  if (q.get("compareRun") || q.get("compareMethod")) out.compare = { path: q.get("compareRun") ?? "", method: q.get("compareMethod") ?? "" };
  const sel = ints(q.get("sel"));
  if (sel.length === 1) out.selected = sel[0];
  else if (sel.length > 1) out.selection = sel;
  return out;
}

/** The view state as a URL hash (without the `#`); default values are left out. */
export function stateToHash(s: ViewState): string {
  const q = new URLSearchParams();
  if (s.path) q.set("run", s.path);
  q.set("method", s.method);
  if (s.epoch !== undefined) q.set("epoch", String(s.epoch));
  if (s.colorBy !== "label") q.set("color", s.colorBy);
  if (s.split !== "all") q.set("split", s.split);
  if (s.hiddenClasses.length) q.set("hide", s.hiddenClasses.join(","));
  if (s.misclassifiedOnly) q.set("mis", "1");
  if (s.changedOnly) q.set("changed", "1");
  if (s.speed !== 1) q.set("speed", String(s.speed));
  if (s.neighbours !== "high") q.set("nb", s.neighbours);
  if (s.sort !== "aum") q.set("sort", s.sort);
  if (s.selectTool !== "lasso") q.set("tool", s.selectTool);
  if (s.compare) {
    q.set("compareRun", s.compare.path);
    q.set("compareMethod", s.compare.method);
  }
  const sel = s.selection?.length ? s.selection.slice(0, MAX_HASH_SELECTION) : s.selected !== undefined ? [s.selected] : [];
  if (sel.length) q.set("sel", sel.join(","));
  return q.toString();
}

/** The page's starting view state: defaults, then what was saved (VS Code's webview state, else the
 * URL hash), then the run the host opened the page for (`<body data-path data-method>`), then the URL
 * query (`?run=…&method=…`). What was saved for another run keeps only its run-independent settings.
 * A compare view (`<body data-compare-path data-compare-method>`, or `?compareRun=…&compareMethod=…`)
 * is the host's or the query's choice whenever they name a run; otherwise what was saved. */
export function initialState(vscodeApi: VsCodeApi | null, query: URLSearchParams, body: DOMStringMap, hash: string): ViewState {
  const saved: Partial<ViewState> = (vscodeApi ? vscodeApi.getState() : stateFromHash(hash)) ?? {};
  const chosen: Partial<ViewState> = {};
  if (body.path) chosen.path = body.path;
  if (body.method) chosen.method = body.method;
  if (query.get("run")) chosen.path = query.get("run")!;
  if (query.get("method")) chosen.method = query.get("method")!;
  const cPath = query.get("compareRun") || query.get("compareMethod") ? query.get("compareRun") : body.comparePath;
  const cMethod = query.get("compareRun") || query.get("compareMethod") ? query.get("compareMethod") : body.compareMethod;
  if (cPath || cMethod) chosen.compare = { path: cPath || chosen.path || "", method: cMethod || chosen.method || "" };
  const sameCompare = (a?: CompareTarget, b?: CompareTarget) => a?.path === b?.path && a?.method === b?.method;
  if (chosen.path && !chosen.compare) delete saved.compare; // the host (or the URL) opened a single view
  if ((chosen.path && saved.path && chosen.path !== saved.path) || (chosen.method && saved.method && chosen.method !== saved.method) ||
    (chosen.compare && !sameCompare(chosen.compare, saved.compare))) {
    for (const k of ["epoch", "hiddenClasses", "selected", "selection"] as const) delete saved[k];
  }
  return {
    method: "", colorBy: "label", hiddenClasses: [], split: "all", misclassifiedOnly: false, changedOnly: false, speed: 1,
    neighbours: "high", sort: "aum", selectTool: "lasso",
    ...saved, ...chosen,
  };
}

/** Save the view state now: into VS Code's webview state, or (browser) into the URL hash without
 * adding a history entry. */
export function persist(state: ViewState, vscodeApi: VsCodeApi | null): void {
  if (vscodeApi) {
    vscodeApi.setState(state);
    return;
  }
  try {
    history.replaceState(history.state, "", `${location.pathname}${location.search}#${stateToHash(state)}`);
  } catch {
    // a sandboxed page may refuse history changes: the view still works, it just is not restored
  }
}
