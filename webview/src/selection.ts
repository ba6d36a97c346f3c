// The selection pane (#detail, docked in the side column: it never covers the plot). One selected sample: its sprite/text, trajectory over all epochs and
// its neighbour lines (representation space, 2-D or both: neighbours.ts). Several (lasso, box, search,
// an events kind, the data map): the gallery with trails and CSV export (gallery.ts). Both carry the
// "Similar" action (similar.ts).
import { EpochData } from "./data";
import { GalleryDeps, showGallery } from "./gallery";
import { NEIGHBOUR_CSS, NEIGHBOUR_MODES, neighbourLines, Neighbours, ndc, overlapCount } from "./neighbours";
import { SampleStore } from "./samples";
import { SimilarAction } from "./similar";
import { NeighbourMode, ViewState } from "./state";
import { StatusLine } from "./status";
import { Transport } from "./transport";

/** Neighbours per sample the detail view asks for. */
export const NEIGHBOURS_K = 10;

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
  /** select these samples in the plot (a gallery card: that one) */
  select(indices: number[]): void;
  /** hand a CSV file to the user */
  exportCsv(csv: string, name: string): void;
  /** the selection changed (undefined: nothing selected): the linked views follow */
  changed(indices: number[] | undefined): void;
  /** the "Similar" action */
  similar: SimilarAction;
}

function fmt(v: unknown): string {
  return typeof v === "number" ? v.toFixed(2) : "–";
}

function debug(v: unknown): void {
  (window as any).__ttvis.selection = v;
}

/** The #detail pane: one sample's detail, or the gallery of a multi-sample selection. */
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
    this.deps.changed(this.indices());
    void this.refresh().then(() => this.reveal());
  }

  /** Bring the selection panel (docked in the side column, beside the plot) into view, opened. */
  private reveal(): void {
    const { detail } = this.deps;
    if (detail.hidden) return;
    const panel = detail.closest("details");
    if (panel) panel.open = true;
    detail.scrollIntoView({ block: "nearest" });
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
    this.deps.changed(undefined);
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
    const d = this.deps.current();
    if (!d) return;
    try {
      if (s.selection && s.selection.length > 1) {
        const g: GalleryDeps = { ...this.deps, classes: this.deps.classes() };
        await showGallery(g, d, s.selection, () => token === this.shown, (v) => token === this.shown && debug(v));
        if (token === this.shown) this.deps.status.clearError();
      } else if (s.selected !== undefined) {
        await this.showOne(d, s.selected, token);
      }
    } catch (e) {
      if (token === this.shown) this.deps.status.error(e instanceof Error ? e.message : String(e));
    }
  }

  private async showOne(d: EpochData, i: number, token: number): Promise<void> {
    const { detail, plot, transport, state } = this.deps;
    const [s, nb] = await Promise.all([
      this.deps.samples.get(i),
      transport.request("ttvis/neighbors", { path: state.path, method: state.method, epoch: d.epoch, index: i, k: NEIGHBOURS_K }) as Promise<Neighbours>,
    ]);
    if (token !== this.shown) return;
    const traj: number[][] = s.trajectory?.positions ?? [];
    const mode = state.neighbours;
    const nbl = neighbourLines(d, i, nb, mode);
    await plot.drawAnnotations([{ vertices: traj.map((p: number[]) => ndc(d, p)), lineColor: [0.1, 0.1, 0.1, 0.85], lineWidth: 2 }, ...nbl.lines]);
    if (token !== this.shown) return;
    const both = overlapCount(nb);
    detail.hidden = false;
    detail.classList.remove("list");
    detail.innerHTML = (this.list.length > 1 && this.list.includes(i) ? `<button id="dBack" class="link">← back to the ${this.list.length} selected</button>` : "") +
      `<h3>sample #${i}</h3>${s.sprite ? `<img class="big" src="data:image/png;base64,${s.sprite}" alt="">` : ""}` +
      (s.text ? `<div class="tip-sample-text" id="dText"></div>` : "") +
      `<div>${s.label >= 0 ? `label <b id="dLabel"></b> · ` : ""}${s.split}</div>` +
      `<div>trajectory over ${traj.length} epochs (dark line)</div>` +
      `<label class="nb-mode">neighbour lines <select id="nbMode" aria-label="neighbour lines"></select></label>` +
      `<div class="nb high"><span class="key"></span>representation space: ${nb.high.join(", ")}</div>` +
      `<div class="nb low"><span class="key"></span>2-D: ${nb.low.join(", ")}</div>` +
      `<div id="nbOverlap" title="samples among the ${nb.high.length} nearest in both spaces">overlap ${both} of ${nb.high.length} (${fmt(nb.overlap)})</div>`;
    if (s.label >= 0) (detail.querySelector("#dLabel") as HTMLElement).textContent = s.className ?? String(s.label);
    if (s.text) (detail.querySelector("#dText") as HTMLElement).textContent = s.text;
    detail.querySelector("h3")!.after(this.deps.similar.controls([i]));
    for (const k of ["high", "low"] as const) {
      (detail.querySelector(`.nb.${k} .key`) as HTMLElement).style.background = NEIGHBOUR_CSS[k];
      detail.querySelector(`.nb.${k}`)!.classList.toggle("off", mode !== "both" && mode !== k);
    }
    const picker = detail.querySelector<HTMLSelectElement>("#nbMode")!;
    for (const [v, label] of NEIGHBOUR_MODES) picker.appendChild(Object.assign(document.createElement("option"), { value: v, textContent: label }));
    picker.value = mode;
    picker.onchange = () => {
      state.neighbours = picker.value as NeighbourMode;
      this.deps.save();
      void this.refresh();
    };
    const back = detail.querySelector<HTMLButtonElement>("#dBack");
    if (back) back.onclick = () => this.deps.select(this.list);
    this.deps.status.clearError();
    debug({ index: i, trajectory: traj.length, neighbors: nb.high.length, mode, lines: { high: nbl.high, low: nbl.low }, overlap: both });
  }
}
