// The search box: `ttvis/search`'s query language (space-separated terms that must all hold: `12`,
// `10-50`, `label:3` or `label:<class name>`, `pred:5`, `misclassified`, `changed` (prediction changed; `flipped` is the old name), `train`/`test`, other
// words searched in the samples' text) at the epoch on screen. What matches becomes the selection;
// a mistake shows in the status line until the next search that works.
import { EpochData } from "./data";
import { ViewState } from "./state";
import { StatusLine } from "./status";
import { Transport } from "./transport";

/** What a search works with. */
export interface SearchDeps {
  transport: Transport;
  state: ViewState;
  status: StatusLine;
  current(): EpochData | null;
  /** the samples the filters let through (null: all) */
  visible(): number[] | null;
  /** select these samples in the plot */
  select(indices: number[]): void;
  /** the line beside the box that says how many matched */
  info: HTMLElement;
}

const FILTERS = "legend, show, misclassified, prediction changed";
let latest = 0;
let found: { info: HTMLElement; selected: number[] } | null = null; // what the last search selected

/** The selection changed to `indices`: the line "N match" goes unless the last search made this selection. */
export function selectionChanged(indices: number[] | undefined): void {
  if (!found) return;
  const a = [...(indices ?? [])].sort((x, y) => x - y);
  const b = [...found.selected].sort((x, y) => x - y);
  if (a.length !== b.length || a.some((v, k) => v !== b[k])) {
    found.info.textContent = "";
    found = null;
  }
}

/** Run the query `text` and select what matches (only the latest of overlapping searches acts). */
export async function search(deps: SearchDeps, text: string): Promise<void> {
  const { state, status, info } = deps;
  const q = text.trim();
  const d = deps.current();
  const token = ++latest;
  info.textContent = "";
  if (!q || !d) {
    status.error("search: enter an index (12), a range (10-50), label:3, pred:5, misclassified, changed, train or test");
    return;
  }
  let r: { indices: number[]; count: number };
  try {
    r = await deps.transport.request("ttvis/search", { path: state.path, method: state.method, epoch: d.epoch, query: q });
  } catch (e) {
    if (token === latest) status.error(`search: ${e instanceof Error ? e.message : e}`);
    return;
  }
  if (token !== latest) return;
  const shown = deps.visible();
  const keep = shown ? new Set(shown) : null;
  const visible = keep ? r.indices.filter((i) => keep.has(i)) : r.indices;
  (window as any).__ttvis.search = { query: q, indices: r.indices, selected: visible };
  if (!r.indices.length) {
    status.error(/^\d+$/.test(q) ? `no sample ${q}: enter an index 0..${d.label.length - 1}` : `search: no sample matches "${q}"`);
    return;
  }
  if (!visible.length) {
    status.error(r.indices.length === 1 ? `sample ${r.indices[0]} is hidden by the filters (${FILTERS})`
      : `search: all ${r.indices.length} matches of "${q}" are hidden by the filters (${FILTERS})`);
    return;
  }
  status.clearError();
  const hidden = r.indices.length - visible.length;
  info.textContent = r.indices.length === 1 ? "" : `${r.indices.length} match${hidden ? `, ${hidden} hidden by the filters` : ""}`;
  found = { info, selected: visible };
  deps.select(visible);
}
