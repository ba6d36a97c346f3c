// The suspicious-samples panel (#suspects): the training samples ranked by a training-dynamics
// statistic (`ttvis/samples`), most suspicious first: lowest AUM (area under the margin: the model
// keeps preferring another class, a likely wrong label) unless the sort picker says otherwise. Each row:
// thumbnail or text line, index, label → predicted class at the epoch on screen, the statistic's value;
// a click selects that sample. The same answer carries every sample's statistics, for the data map.
import { decodeArray, WireArray } from "./arrays";
import { EpochData } from "./data";
import { predictedOf } from "./encoding";
import { fillThumbs, SampleStore, thumbSlot } from "./samples";
import { SORT_KEYS, SortKey, ViewState } from "./state";
import { RpcError, Transport } from "./transport";

/** Rows the panel asks for (and says it shows only these). */
export const TOP = 100;

/** Every sample's training-dynamics statistics (`ttvis/samples`' `stats`, decoded). */
export interface Stats {
  aum: Float32Array;
  confidence: Float32Array;
  variability: Float32Array;
  correctness: Float32Array;
  forgetting_events: Int32Array;
  first_learned_epoch: Int32Array;
  flips: Int32Array;
}

/** Per sort: the statistic it ranks by, its column title, and what "most suspicious first" means. */
export const SORTS: Record<SortKey, { stat: keyof Stats; title: string; order: string }> = {
  aum: { stat: "aum", title: "AUM", order: "lowest area under the margin first: the model keeps preferring another class (a likely wrong label)" },
  confidence: { stat: "confidence", title: "confidence", order: "lowest mean confidence in the label first" },
  variability: { stat: "variability", title: "variability", order: "most variable confidence in the label first (ambiguous)" },
  correctness: { stat: "correctness", title: "correctness", order: "least often predicted right first" },
  forgetting: { stat: "forgetting_events", title: "forgetting", order: "most forgetting events (right, then wrong) first" },
  flips: { stat: "flips", title: "flips", order: "most changes of the predicted class first" },
  learned: { stat: "first_learned_epoch", title: "learned at", order: "never learned, then latest learned first" },
};

/** What the panel works with. */
export interface DynamicsDeps {
  box: HTMLElement;
  transport: Transport;
  state: ViewState;
  save(): void;
  samples: SampleStore;
  current(): EpochData | null;
  classes(): string[];
  /** select these samples in the plot */
  select(indices: number[]): void;
  /** the statistics arrived (null: the run has none) */
  statsChanged(stats: Stats | null, note: string): void;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ""): HTMLElementTagNameMap[K] {
  return Object.assign(document.createElement(tag), { className, textContent: text });
}

/** A statistic's value as the panel prints it. */
export function formatStat(stat: keyof Stats, v: number): string {
  if (stat === "first_learned_epoch") return v < 0 ? "never" : `E${v}`;
  if (stat === "forgetting_events" || stat === "flips") return String(v);
  return Number.isFinite(v) ? v.toFixed(2) : "–";
}

/** The suspicious-samples panel; `load()` fetches the ranking, `update()` follows the epoch on screen. */
export class SuspiciousPanel {
  /** the rows shown, most suspicious first */
  rows: any[] = [];
  private loaded = "";
  private token = 0;
  private thumbsDone = false;

  constructor(private deps: DynamicsDeps) {}

  /** Fetch the ranking (and the statistics) of the run for the sort picked, unless it is shown already
   * (`force`: fetch anyway); a run without predictions or labels gets a calm note instead. */
  async load(force = false): Promise<void> {
    const { state, box } = this.deps;
    const key = `${state.path}\n${state.sort}`;
    if (!force && key === this.loaded) return this.update();
    this.loaded = key;
    const token = ++this.token;
    let r: any;
    try {
      r = await this.deps.transport.request("ttvis/samples", { path: state.path, sort: state.sort, split: "train", top: TOP });
    } catch (e) {
      if (token !== this.token) return;
      const why = e instanceof RpcError && e.code === -32005
        ? "No training dynamics for this run: they need its predictions and labels." : `No training dynamics: ${e instanceof Error ? e.message : e}`;
      this.rows = [];
      box.textContent = "";
      box.appendChild(el("div", "panel-note", why));
      this.deps.statsChanged(null, why);
      (window as any).__ttvis.suspects = { rows: [], note: why };
      return;
    }
    if (token !== this.token) return;
    const stats = {} as Stats;
    for (const k of Object.keys(r.stats ?? {})) (stats as any)[k] = decodeArray(r.stats[k] as WireArray);
    this.rows = r.rows ?? [];
    this.render(r.epochs ?? []);
    this.deps.statsChanged(stats, "");
  }

  private render(epochs: number[]): void {
    const { box, state } = this.deps;
    const sort = SORTS[state.sort];
    box.textContent = "";
    const bar = el("div", "panel-bar");
    const picker = el("select", "");
    picker.id = "sort";
    picker.setAttribute("aria-label", "rank the training samples by");
    for (const k of SORT_KEYS) picker.appendChild(Object.assign(document.createElement("option"), { value: k, textContent: SORTS[k].title }));
    picker.value = state.sort;
    picker.onchange = () => {
      state.sort = picker.value as SortKey;
      this.deps.save();
      void this.load();
    };
    const lab = el("label", "", "rank by ");
    lab.appendChild(picker);
    bar.append(lab, el("span", "panel-count"));
    const list = el("div", "sus-rows");
    box.append(bar, el("div", "panel-hint", `${sort.order}; over ${epochs.length} recorded epochs`), list);
    const slots: [number, HTMLElement][] = [];
    for (const row of this.rows) {
      const i: number = row.index;
      const r = el("button", "sus-row");
      r.dataset.index = String(i);
      r.title = `select sample #${i}`;
      const thumb = thumbSlot();
      slots.push([i, thumb]);
      r.append(thumb, el("span", "idx", `#${i}`), el("span", "cls"), el("span", "val", formatStat(sort.stat, row[sort.stat])));
      r.onclick = () => this.deps.select([i]);
      list.appendChild(r);
    }
    this.thumbsDone = false;
    this.update();
    const token = this.token;
    void fillThumbs(this.deps.samples, slots, () => token === this.token).then(() => {
      if (token !== this.token) return;
      this.thumbsDone = true;
      this.update();
    });
  }

  /** Follow the epoch on screen: each row's predicted class, and the count line. */
  update(): void {
    const d = this.deps.current();
    const box = this.deps.box;
    if (!this.rows.length || !d) return;
    const classes = this.deps.classes();
    const name = (c: number) => (c >= 0 ? classes[c] ?? String(c) : "–");
    let train = 0;
    for (let i = 0; i < d.train.length; i++) if (d.train[i]) train++;
    const count = box.querySelector(".panel-count");
    if (count) count.textContent = `the ${this.rows.length} most suspicious of ${train} training samples`;
    for (const r of Array.from(box.querySelectorAll<HTMLElement>(".sus-row"))) {
      const i = Number(r.dataset.index);
      const pred = predictedOf(d, i);
      r.classList.toggle("wrong", Boolean(d.predicted) && pred !== d.label[i]);
      r.querySelector(".cls")!.textContent = d.predicted ? `${name(d.label[i])} → ${name(pred)}` : name(d.label[i]);
    }
    (window as any).__ttvis.suspects = { rows: this.rows.map((r) => r.index), sort: this.deps.state.sort, epoch: d.epoch, thumbnails: this.thumbsDone };
  }

  /** Mark the rows of the selected samples. */
  mark(indices: number[] | undefined): void {
    const sel = new Set(indices ?? []);
    for (const r of Array.from(this.deps.box.querySelectorAll<HTMLElement>(".sus-row"))) r.classList.toggle("selected", sel.has(Number(r.dataset.index)));
  }
}
