// The selection pane (#detail). One selected sample: its sprite/text, trajectory over all epochs and
// lines to its high-D neighbours. Several (lasso): a list, one row per sample (thumbnail, index, label,
// predicted class), the first MAX_ROWS of them; a row's click selects that one sample.
import { EpochData } from "./data";
import { predictedOf } from "./encoding";
import { ViewState } from "./state";
import { StatusLine } from "./status";
import { Transport } from "./transport";

/** Most rows the list shows; a line says how many more are selected. */
export const MAX_ROWS = 100;
const IN_FLIGHT = 6;

/** `ttvis/sample` answers by sample index, fetched once each, at most IN_FLIGHT at a time. */
export class SampleStore {
  private cache = new Map<number, Promise<any>>();
  private running = 0;
  private queue: (() => void)[] = [];

  constructor(private transport: Transport, private where: () => { path?: string; method: string }) {}

  /** Sample `i`'s `ttvis/sample` result (cached; a failed request is retried next time). */
  get(i: number): Promise<any> {
    let p = this.cache.get(i);
    if (!p) {
      p = this.slot().then(async (release) => {
        try {
          const { path, method } = this.where();
          return await this.transport.request("ttvis/sample", { path, index: i, method });
        } finally {
          release();
        }
      });
      p.catch(() => this.cache.delete(i));
      this.cache.set(i, p);
    }
    return p;
  }

  private slot(): Promise<() => void> {
    const release = () => {
      this.running--;
      this.queue.shift()?.();
    };
    return new Promise((resolve) => {
      const go = () => {
        this.running++;
        resolve(release);
      };
      if (this.running < IN_FLIGHT) go();
      else this.queue.push(go);
    });
  }
}

/** What the selection pane works with. */
export interface SelectionDeps {
  detail: HTMLElement;
  plot: any;
  transport: Transport;
  samples: SampleStore;
  state: ViewState;
  /** save the view state (the selection is part of it) */
  save(): void;
  current(): EpochData | null;
  classes(): string[];
  status: StatusLine;
}

function ndc(d: EpochData, p: number[]): [number, number] {
  const [x0, y0, x1, y1] = d.scale;
  return [((p[0] - x0) / (x1 - x0)) * 2 - 1, ((p[1] - y0) / (y1 - y0)) * 2 - 1];
}

function fmt(v: unknown): string {
  return typeof v === "number" ? v.toFixed(2) : "–";
}

function debug(v: unknown): void {
  (window as any).__ttvis.selection = v;
}

/** The #detail pane: one sample's detail, or the list of a multi-sample selection. */
export class SelectionPanel {
  /** the last multi-selection, for the detail view's "back to the list" */
  private list: number[] = [];
  private shown = 0; // bumps on every change, so a late answer never paints over a newer selection

  constructor(private deps: SelectionDeps) {}

  /** The scatterplot selected `points` (click, lasso, search, a list row): show them and save. */
  select(points: number[]): void {
    const s = this.deps.state;
    if (!points.length) return this.deselect();
    if (points.length === 1) {
      s.selected = points[0];
      s.selection = undefined;
    } else {
      this.list = [...points].sort((a, b) => a - b);
      s.selection = this.list;
      s.selected = undefined;
    }
    this.deps.save();
    void this.refresh();
  }

  /** Nothing is selected any more. */
  deselect(): void {
    const s = this.deps.state;
    s.selected = undefined;
    s.selection = undefined;
    this.list = [];
    this.deps.save();
    this.shown++;
    this.deps.plot.clearAnnotations?.();
    this.deps.detail.hidden = true;
    debug(null);
  }

  /** The selected sample indices (for the next draw), or undefined. */
  indices(): number[] | undefined {
    const s = this.deps.state;
    return s.selection?.length ? s.selection : s.selected !== undefined ? [s.selected] : undefined;
  }

  /** Show the selection for the epoch now drawn (after a selection change or an epoch switch). */
  async refresh(): Promise<void> {
    const s = this.deps.state;
    const token = ++this.shown;
    try {
      if (s.selection && s.selection.length > 1) await this.showList(s.selection, token);
      else if (s.selected !== undefined) await this.showOne(s.selected, token);
    } catch (e) {
      if (token === this.shown) this.deps.status.error(e instanceof Error ? e.message : String(e));
    }
  }

  private async showOne(i: number, token: number): Promise<void> {
    const { detail, plot, transport, state } = this.deps;
    const d = this.deps.current();
    if (!d) return;
    const [s, nb] = await Promise.all([
      this.deps.samples.get(i),
      transport.request("ttvis/neighbors", { path: state.path, method: state.method, epoch: d.epoch, index: i, k: 10 }),
    ]);
    if (token !== this.shown) return;
    const traj: number[][] = s.trajectory?.positions ?? [];
    const here = ndc(d, [d.xy[2 * i], d.xy[2 * i + 1]]);
    const lines: any[] = [{ vertices: traj.map((p: number[]) => ndc(d, p)), lineColor: [0.1, 0.1, 0.1, 0.85], lineWidth: 2 }];
    for (const j of nb.high as number[]) lines.push({ vertices: [here, ndc(d, [d.xy[2 * j], d.xy[2 * j + 1]])], lineColor: [0.95, 0.5, 0.05, 0.9], lineWidth: 1 });
    await plot.drawAnnotations(lines);
    detail.hidden = false;
    detail.classList.remove("list");
    detail.innerHTML = (this.list.length > 1 && this.list.includes(i) ? `<button id="dBack" class="link">← back to the ${this.list.length} selected</button>` : "") +
      `<h3>sample #${i}</h3>${s.sprite ? `<img class="big" src="data:image/png;base64,${s.sprite}" alt="">` : ""}` +
      (s.text ? `<div class="tip-sample-text" id="dText"></div>` : "") +
      `<div>${s.label >= 0 ? `label <b id="dLabel"></b> · ` : ""}${s.split}</div>` +
      `<div>trajectory over ${traj.length} epochs (dark line)</div>` +
      `<div>high-D neighbours (orange lines): ${nb.high.join(", ")}</div>` +
      `<div>2-D neighbours: ${nb.low.join(", ")}</div><div>overlap ${fmt(nb.overlap)}</div>`;
    if (s.label >= 0) (detail.querySelector("#dLabel") as HTMLElement).textContent = s.className ?? String(s.label);
    if (s.text) (detail.querySelector("#dText") as HTMLElement).textContent = s.text;
    const back = detail.querySelector<HTMLButtonElement>("#dBack");
    if (back) back.onclick = () => plot.select(this.list);
    this.deps.status.clearError();
    debug({ index: i, trajectory: traj.length, neighbors: nb.high.length });
  }

  private async showList(points: number[], token: number): Promise<void> {
    const { detail, plot } = this.deps;
    const d = this.deps.current();
    if (!d) return;
    const classes = this.deps.classes();
    const name = (c: number) => (c >= 0 ? classes[c] ?? String(c) : "–");
    plot.clearAnnotations?.();
    detail.hidden = false;
    detail.classList.add("list");
    detail.textContent = "";
    const head = document.createElement("h3");
    head.textContent = `${points.length} samples selected`;
    const hint = document.createElement("div");
    hint.className = "sel-hint";
    hint.textContent = `label → predicted at epoch ${d.epoch}; click a row for its detail`;
    const rows = document.createElement("div");
    rows.className = "sel-rows";
    detail.append(head, hint, rows);
    const shown = points.slice(0, MAX_ROWS);
    for (const i of shown) {
      const r = document.createElement("button");
      const pred = predictedOf(d, i);
      r.className = "sel-row" + (d.predicted && pred !== d.label[i] ? " wrong" : "");
      r.dataset.index = String(i);
      r.title = `select sample #${i}`;
      const thumb = document.createElement("span");
      thumb.className = "thumb";
      const idx = Object.assign(document.createElement("span"), { className: "idx", textContent: `#${i}` });
      const cls = Object.assign(document.createElement("span"), {
        className: "cls", textContent: d.predicted ? `${name(d.label[i])} → ${name(pred)}` : name(d.label[i]),
      });
      r.append(thumb, idx, cls);
      r.onclick = () => plot.select([i]);
      rows.appendChild(r);
    }
    if (points.length > shown.length) {
      detail.appendChild(Object.assign(document.createElement("div"), {
        className: "sel-more", textContent: `and ${points.length - shown.length} more (the list shows the first ${MAX_ROWS})`,
      }));
    }
    this.deps.status.clearError();
    debug({ list: points.length, shown: shown.length });
    // thumbnails as their samples arrive
    await Promise.all(shown.map(async (i, k) => {
      const s = await this.deps.samples.get(i);
      if (token !== this.shown) return;
      const thumb = rows.children[k]?.querySelector(".thumb") as HTMLElement | null;
      if (!thumb) return;
      if (s.sprite) thumb.appendChild(Object.assign(document.createElement("img"), { src: `data:image/png;base64,${s.sprite}`, alt: "" }));
      else if (s.text) thumb.replaceWith(Object.assign(document.createElement("span"), { className: "thumb-text", textContent: s.text }));
    }));
    if (token === this.shown) debug({ list: points.length, shown: shown.length, thumbnails: true });
  }
}
