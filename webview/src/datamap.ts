// The data map (dataset cartography, Swayamdipta et al., EMNLP 2020): every training sample at its mean
// confidence in its label over the epochs (y) against how much that confidence varied (x), coloured by
// how often it was predicted right. Easy-to-learn samples sit top left, hard-to-learn (often mislabelled)
// bottom left, ambiguous ones to the right. A second, small regl-scatterplot: point k is sample k (the
// test samples are filtered out), so a selection here (click, lasso, box) is a selection of samples, and
// it is linked both ways with the main plot.
import createScatterplot from "regl-scatterplot";
import { Stats } from "./dynamics";
import { keepLassoSelection } from "./scatterfix";

const CORRECTNESS_RAMP = ["#d62728", "#e8702a", "#e3b52b", "#9bbf3a", "#2ca02c"];
const PAD = 0.9; // the points stay inside [-PAD, PAD] in both directions
const HEIGHT = 190; // px (main.css: #datamap)

/** What the data map works with. */
export interface DataMapDeps {
  canvas: HTMLCanvasElement;
  /** the box around the canvas (hidden when the run has no statistics) */
  box: HTMLElement;
  /** a line under the map: what the hovered point is, or a note */
  info: HTMLElement;
  /** the x axis's upper end label */
  xMax: HTMLElement;
  classes(): string[];
  /** the user selected these samples in the map */
  selected(indices: number[]): void;
  /** the user cleared the map's selection */
  deselected(): void;
}

/** The data map: it draws once it has the run's statistics (`setStats`) and its labels and split
 * (`setSamples`); `highlight()` mirrors the main plot's selection. */
export class DataMap {
  /** the regl-scatterplot instance (tests read it through window.__ttvis.dataMap) */
  readonly plot: any;
  private stats: Stats | null | undefined; // undefined: not known yet
  private why = "";
  private labels: Int32Array | null = null;
  private train: Uint8Array | null = null;
  private shown: number[] = [];
  private pending: number[] | undefined;

  constructor(private deps: DataMapDeps) {
    // regl-scatterplot sizes the canvas itself (inline style), so the box's width decides, and the box is
    // hidden until the statistics arrive
    this.plot = createScatterplot({
      canvas: deps.canvas, width: Math.max(deps.box.clientWidth, 1), height: HEIGHT, pointSize: 3, pointSizeSelected: 5,
      pointOutlineWidth: 2, backgroundColor: getComputedStyle(document.body).getPropertyValue("--bg").trim() || "#ffffff",
      opacity: 0.85, lassoOnLongPress: true, deselectOnEscape: false, cameraIsFixed: true,
      colorBy: "valueA", pointColor: CORRECTNESS_RAMP,
    } as any);
    new ResizeObserver(() => {
      if (deps.box.clientWidth) this.plot.set({ width: deps.box.clientWidth, height: HEIGHT });
    }).observe(deps.box);
    keepLassoSelection(this.plot, deps.canvas);
    this.plot.subscribe("select", ({ points }: { points: number[] }) => deps.selected([...points]));
    this.plot.subscribe("deselect", () => deps.deselected());
    this.plot.subscribe("pointOver", (i: number) => this.hover(i));
    this.plot.subscribe("pointOut", () => this.note());
  }

  /** The run's statistics (`ttvis/samples`' stats; null: the run has none, the map hides and `why` says so). */
  setStats(stats: Stats | null, why = ""): void {
    this.stats = stats;
    this.why = why;
    void this.draw();
  }

  /** The run's labels and split (from any epoch: they do not change); the first call counts. */
  setSamples(labels: Int32Array, train: Uint8Array): void {
    if (this.labels) return;
    this.labels = labels;
    this.train = train;
    void this.draw();
  }

  /** Draw every training sample with a known label and finite statistics. */
  private async draw(): Promise<void> {
    const { stats, labels, train } = this;
    if (stats === undefined || !labels || !train) return;
    this.deps.box.hidden = !stats;
    if (!stats) {
      this.shown = [];
      this.note(this.why);
      return;
    }
    const n = stats.confidence.length;
    let vmax = 0.05;
    const keep: number[] = [];
    for (let i = 0; i < n; i++) {
      if (!train[i] || labels[i] < 0 || !Number.isFinite(stats.confidence[i]) || !Number.isFinite(stats.variability[i])) continue;
      keep.push(i);
      vmax = Math.max(vmax, stats.variability[i]);
    }
    vmax = Math.ceil(vmax * 20) / 20; // a round upper end: 0.05 steps
    this.deps.xMax.textContent = vmax.toFixed(2);
    const x = new Float32Array(n), y = new Float32Array(n), a = new Float32Array(n);
    for (const i of keep) {
      x[i] = (stats.variability[i] / vmax) * 2 * PAD - PAD;
      y[i] = stats.confidence[i] * 2 * PAD - PAD;
      a[i] = Math.min(Math.max(stats.correctness[i], 0), 1);
    }
    this.shown = keep;
    this.note();
    await this.plot.draw({ x, y, valueA: a }, { zDataType: "continuous", filter: keep, select: this.pending && [...this.pending] });
    this.highlight(this.pending); // a selection that came while drawing
    (window as any).__ttvis.dataMap = { plot: this.plot, samples: keep.length, vmax };
  }

  /** Select `indices` in the map too (the main plot's selection), without telling anyone back. */
  highlight(indices: number[] | undefined): void {
    this.pending = indices;
    if (!this.shown.length) return;
    if (indices?.length) this.plot.select([...indices], { preventEvent: true }); // a copy: regl-scatterplot keeps and edits it
    else this.plot.deselect({ preventEvent: true });
  }

  private hover(i: number): void {
    const s = this.stats;
    if (!s || !this.labels) return;
    const cls = this.deps.classes()[this.labels[i]] ?? String(this.labels[i]);
    this.deps.info.textContent = `#${i} ${cls}: confidence ${s.confidence[i].toFixed(2)}, variability ${s.variability[i].toFixed(2)}, ` +
      `right ${Math.round(s.correctness[i] * 100)}% of epochs`;
  }

  private note(text = ""): void {
    this.deps.info.textContent = text || (this.shown.length
      ? `${this.shown.length} training samples; colour: share of epochs predicted right (red 0 → green 1)` : "");
  }
}
