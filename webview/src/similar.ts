// "Similar": the samples nearest in representation space (`ttvis/similar`, the server's vector index) to
// the selected sample, or to the mean of a multi-sample selection, at the epoch on screen. The detail pane
// and the gallery carry the action with a k picker and a choice of what becomes the selection: the query
// samples with their neighbours, or the neighbours only. The gallery then lists the query first and the
// neighbours nearest first, each with its distance. The server builds its index on first use, so the first
// answer can take a few seconds; a neutral note says it is on its way.
import { EpochData } from "./data";
import { ViewState } from "./state";
import { RpcError, Transport } from "./transport";

/** JSON-RPC error code: the server is writing these results for another request (README "Protocol reference"). */
const BUSY = -32004;

/** `ask()`, asked again every half second while the server is building the vector index for another
 * request (BUSY, or today's "… results are being written by …" lock message), for up to 15 s. */
async function unlessBusy<T>(ask: () => Promise<T>): Promise<T> {
  for (let t = 0; ; t++) {
    try {
      return await ask();
    } catch (e) {
      const busy = e instanceof RpcError && (e.code === BUSY || /being written by/.test(e.message));
      if (!busy || t >= 30) throw e;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** The k picker's choices (default 10). */
export const SIMILAR_KS = [5, 10, 20, 50, 100];

/** A `ttvis/similar` answer and the selection it made. */
export interface SimilarResult {
  epoch: number;
  query: number[];
  neighbours: { index: number; distance: number }[];
  /** whether the query samples are part of the selection */
  withQuery: boolean;
  /** the selection it made, ascending */
  selected: number[];
}

/** What the action works with. */
export interface SimilarDeps {
  transport: Transport;
  state: ViewState;
  current(): EpochData | null;
  /** select these samples in the plot */
  select(indices: number[]): void;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ""): HTMLElementTagNameMap[K] {
  return Object.assign(document.createElement(tag), { className, textContent: text });
}

/** The "Similar" action; one per page, shared by the detail pane and the gallery. */
export class SimilarAction {
  private k = 10;
  private withQuery = true;
  private last: SimilarResult | null = null;
  private token = 0;

  constructor(private deps: SimilarDeps) {}

  /** The controls for `query` (the selected samples): the button, the k picker, "with the query", and a
   * line for the note or the error. */
  controls(query: number[]): HTMLElement {
    const box = el("div", "similar");
    const btn = el("button", "sim-go", "Similar");
    btn.id = "similarBtn";
    btn.title = query.length === 1 ? `select the samples nearest to #${query[0]} in representation space at this epoch`
      : `select the samples nearest to the mean of these ${query.length} in representation space at this epoch`;
    const k = el("select", "sim-k");
    k.id = "similarK";
    k.setAttribute("aria-label", "how many similar samples");
    for (const v of SIMILAR_KS) k.appendChild(Object.assign(document.createElement("option"), { value: String(v), textContent: `k ${v}` }));
    k.value = String(this.k);
    k.onchange = () => (this.k = Number(k.value));
    const keep = el("input", "");
    keep.type = "checkbox";
    keep.id = "similarWithQuery";
    keep.checked = this.withQuery;
    keep.onchange = () => (this.withQuery = keep.checked);
    const keepLabel = el("label", "sim-keep");
    keepLabel.title = "checked: the selection becomes the query samples and their neighbours; unchecked: the neighbours only";
    keepLabel.append(keep, document.createTextNode(query.length === 1 ? ` with #${query[0]}` : ` with these ${query.length}`));
    const note = el("div", "sim-note");
    btn.onclick = () => void this.run(query, note);
    box.append(btn, k, keepLabel, note);
    return box;
  }

  /** The last result when it made the selection `points` (the filters may have hidden some of it). */
  resultFor(points: number[]): SimilarResult | null {
    if (!this.last || !points.length) return null;
    const made = new Set(this.last.selected);
    return points.every((i) => made.has(i)) ? this.last : null;
  }

  private async run(query: number[], note: HTMLElement): Promise<void> {
    const d = this.deps.current();
    if (!d) return;
    const token = ++this.token;
    const k = this.k, withQuery = this.withQuery;
    note.classList.remove("error");
    note.textContent = "finding similar samples…";
    const debug = (window as any).__ttvis;
    debug.similar = { pending: true, query, k, withQuery, epoch: d.epoch };
    let r: { epoch: number; query: number[]; neighbours: { index: number; distance: number }[] };
    try {
      const q = query.length === 1 ? { index: query[0] } : { indices: query };
      const ask = () => this.deps.transport.request("ttvis/similar", { path: this.deps.state.path, epoch: d.epoch, k, ...q });
      r = await unlessBusy(ask);
    } catch (e) {
      if (token !== this.token) return;
      note.classList.add("error");
      note.textContent = `similar: ${e instanceof Error ? e.message : e}`;
      debug.similar = { error: note.textContent };
      return;
    }
    if (token !== this.token) return;
    const ids = r.neighbours.map((n) => n.index);
    const selected = [...new Set(withQuery ? [...r.query, ...ids] : ids)].sort((a, b) => a - b);
    this.last = { epoch: r.epoch, query: r.query, neighbours: r.neighbours, withQuery, selected };
    debug.similar = { ...this.last, k };
    note.textContent = "";
    this.deps.select(selected);
  }
}

/** The gallery's order for a selection `points` made by `res`: the query samples first, then the
 * neighbours nearest first (those the filters hid are left out). */
export function similarOrder(points: number[], res: SimilarResult): number[] {
  const here = new Set(points);
  const q = res.withQuery ? res.query.filter((i) => here.has(i)) : [];
  return [...new Set([...q, ...res.neighbours.map((n) => n.index).filter((i) => here.has(i))])];
}

/** What a gallery made by `res` says above its cards. */
export function similarHint(res: SimilarResult): string {
  const of = res.query.length === 1 ? `#${res.query[0]}` : `the mean of ${res.query.length} samples`;
  return `the ${res.neighbours.length} samples nearest to ${of} in representation space at epoch ${res.epoch}` +
    (res.withQuery ? ", with the query (marked)" : ", without the query") + "; distance under each";
}
