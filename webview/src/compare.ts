// The compare view's right side: a second plot beside the main one, for another method on the same run or
// the same method on another run. It has its own epochs, territories, faithfulness numbers (NPR, PPR or
// "no inverse map", the temporal measures) and trajectory, and shares the rest with the left side: the
// epoch (one slider drives both, over the epochs both sides have), the colour mode and the filters, the
// selection (made on either side) and the hovered sample (its tooltip shows on both). Sample i is linked
// with sample i; when the two runs differ in size, only the indices both have are linked, and a note in
// the header says so, as it says when the sides' epochs differ.
import createScatterplot from "regl-scatterplot";
import { EpochData, EpochStore } from "./data";
import { dataTypes, encodingSettings, pointsOf, visibleIndices } from "./encoding";
import { attachHover, Tip } from "./hover";
import { boxSize, followBox } from "./layout";
import { MethodInfo, renderMetrics } from "./methods";
import { ndc } from "./neighbours";
import { SampleStore } from "./samples";
import { keepLassoSelection } from "./scatterfix";
import { CompareTarget, ViewState } from "./state";
import { TextureCache } from "./textures";
import { Transport } from "./transport";

/** The left side, as the right one links with it. */
export interface LeftSide {
  plot: any;
  tip: Tip;
  current(): EpochData | null;
}

/** What the right side works with. */
export interface CompareDeps {
  transport: Transport;
  /** the shared view state (colour mode, filters, speed) */
  state: ViewState;
  /** what this side shows (state.compare) */
  target: CompareTarget;
  canvas: HTMLCanvasElement;
  metrics: HTMLElement;
  title: HTMLElement;
  tooltip: HTMLElement;
  /** the header's note on what differs between the sides */
  note: HTMLElement;
  left: LeftSide;
  /** the methods the server knows (whether this side's has an inverse map) */
  methods(): MethodInfo[];
  /** the user selected these samples on this side */
  selected(indices: number[]): void;
  /** the user cleared the selection on this side */
  deselected(): void;
  /** an epoch of this side landed (training or a live run): the shared epochs may have grown */
  epochsChanged(): void;
}

/** Epochs as short ranges: [1, 2, 3, 5] -> "1–3, 5". */
export function epochRanges(epochs: number[]): string {
  const out: string[] = [];
  for (let k = 0; k < epochs.length; k++) {
    let j = k;
    while (j + 1 < epochs.length && epochs[j + 1] === epochs[j] + 1) j++;
    out.push(j > k ? `${epochs[k]}–${epochs[j]}` : String(epochs[k]));
    k = j;
  }
  return out.join(", ") || "none";
}

function debug(): Record<string, any> {
  const d = (window as any).__ttvis;
  return (d.compare ??= {});
}

/** The right side of a compare view. */
export class CompareSide {
  /** the right plot (tests: window.__ttvis.plotB) */
  readonly plot: any;
  readonly store: EpochStore;
  readonly samples: SampleStore;
  /** the epoch drawn on this side */
  current: EpochData | null = null;
  /** "run · method" of this side, once described */
  name = "";
  /** the run's path as the server spells it */
  runPath?: string;
  /** how many samples this side's run has (0: not known yet) */
  count = 0;
  private textures: TextureCache;
  private tip: Tip;
  private colors: string[] = [];
  private classes: string[] = [];
  private summary: Record<string, any> = {};
  private selection: number[] | undefined;
  private trail = 0;

  constructor(private deps: CompareDeps) {
    const { canvas, target } = deps;
    const where = () => ({ path: target.path, method: target.method });
    this.store = new EpochStore(deps.transport, where);
    this.samples = new SampleStore(deps.transport, where);
    this.plot = createScatterplot({
      canvas, ...boxSize(canvas.parentElement!), pointSize: 4, pointSizeSelected: 6, pointOutlineWidth: 2,
      backgroundColor: getComputedStyle(document.body).getPropertyValue("--bg").trim() || "#ffffff",
      opacity: 0.9, lassoOnLongPress: true, deselectOnEscape: true,
    } as any);
    followBox(this.plot, canvas.parentElement!); // the pane's plot area, not the canvas (layout.ts)
    keepLassoSelection(this.plot, canvas);
    this.textures = new TextureCache(this.plot);
    this.plot.subscribe("select", ({ points }: { points: number[] }) => deps.selected([...points]));
    this.plot.subscribe("deselect", () => deps.deselected());
    this.tip = attachHover({
      plot: this.plot, tooltip: deps.tooltip, samples: this.samples, current: () => this.current, classes: () => this.classes,
      key: "hoveredB", linked: (i) => this.linkLeft(i),
    });
    deps.transport.onNotification("ttvis/epochReady", (p) => {
      if (p.method !== target.method || (p.path !== target.path && p.path !== this.runPath)) return;
      if (p.done === 1) {
        this.store.clear(); // a new (or continued) run's first epoch: drop what was cached of the old one
        this.textures.clear();
      }
      this.store.add(p.epoch);
      deps.epochsChanged();
    });
  }

  /** Learn this side's run and method (`ttvis/describe`): its epochs, classes, colours and numbers.
   * Rejects when the run cannot be read or the method has no results on it. */
  async describe(): Promise<void> {
    const { target } = this.deps;
    const desc = await this.deps.transport.request("ttvis/describe", { path: target.path });
    const m = desc.methods?.[target.method];
    this.runPath = desc.path;
    this.store.epochs = m?.epochs ?? [];
    this.colors = desc.colors ?? [];
    this.classes = desc.classes ?? [];
    this.summary = m?.eval ?? {};
    this.count = desc.samples ?? 0;
    this.name = `${desc.name} · ${target.method}`;
    this.deps.title.textContent = this.name;
    if (!this.store.epochs.length) throw new Error(`no ${target.method} results for ${desc.name} (right side) yet`);
  }

  /** The epochs of `left` that this side has too (what the shared slider offers). */
  common(left: number[]): number[] {
    const mine = new Set(this.store.epochs);
    return left.filter((e) => mine.has(e));
  }

  /** Say in the header what differs between the sides: their epochs (the slider offers those both have)
   * and their sizes (hover and selection are linked by index where both have it). */
  explain(leftEpochs: number[], leftCount: number): void {
    const both = this.common(leftEpochs);
    const right = this.store.epochs;
    const parts: string[] = [];
    if (both.length !== leftEpochs.length || both.length !== right.length) {
      parts.push(`epochs ${epochRanges(both)}: those both sides have (left ${epochRanges(leftEpochs)}, right ${epochRanges(right)})`);
    }
    if (leftCount && this.count && leftCount !== this.count) {
      parts.push(`left ${leftCount} samples, right ${this.count}: hover and selection are linked by index for 0–${Math.min(leftCount, this.count) - 1} only`);
    }
    this.deps.note.textContent = parts.join(" · ");
    Object.assign(debug(), { epochs: both, left: leftEpochs, right: [...right], samples: [leftCount, this.count] });
  }

  /** Draw `epoch` on this side with the shared colour mode and filters, and `selected` (the shared
   * selection) where this side has those samples. */
  async draw(epoch: number, transition: boolean, selected: number[] | undefined): Promise<void> {
    const { state } = this.deps;
    const d = await this.store.load(epoch);
    const b = state.changedOnly ? this.store.before(epoch) : undefined;
    const before = b !== undefined ? await this.store.load(b) : null;
    this.current = d;
    const bg = await this.textures.get(d);
    this.plot.set({ backgroundImage: bg, ...encodingSettings(state.colorBy, this.colors) });
    const filter = visibleIndices(d, state, before);
    const animate = transition && this.plot.get("points").length === d.label.length;
    await this.plot.draw(pointsOf(d, state.colorBy, this.classes.length), {
      transition: animate, transitionDuration: Math.round(450 / state.speed),
      filter: filter.length === d.label.length ? undefined : filter, select: this.mine(selected), ...dataTypes(state.colorBy),
    });
    renderMetrics(this.deps.metrics, d, this.deps.methods().find((x) => x.name === this.deps.target.method)?.hasInverse ?? true, this.summary);
    this.selection = selected;
    void this.drawTrajectory();
    (window as any).__ttvis.drawnB = { epoch, visible: filter.length, total: d.label.length, before: before?.epoch ?? null };
  }

  /** The shared selection changed (undefined: none): select it on both plots, without their events. */
  showSelection(indices: number[] | undefined): void {
    this.selection = indices;
    const mine = this.mine(indices);
    if (mine?.length) this.plot.select(mine, { preventEvent: true });
    else this.plot.deselect({ preventEvent: true });
    const left = this.deps.left.plot;
    if (indices?.length) left.select([...indices], { preventEvent: true });
    else left.deselect({ preventEvent: true });
    debug().selected = mine ?? [];
    void this.drawTrajectory();
  }

  /** The pointer is on sample `i` of the left plot (null: off it): highlight it here too, with its tooltip. */
  linkFromLeft(i: number | null): void {
    this.hoverOn(this.plot, this.tip, i);
  }

  private linkLeft(i: number | null): void {
    this.hoverOn(this.deps.left.plot, this.deps.left.tip, i);
  }

  /** Highlight sample `i` on `plot` (not one it lacks or the filters hide: regl-scatterplot then hovers
   * nothing) and show `tip` for it; null clears both. */
  private hoverOn(plot: any, tip: Tip, i: number | null): void {
    plot.hover(i ?? -1, { preventEvent: true });
    const on = i !== null && plot.get("hoveredPoint") === i;
    if (on) tip.show(i!);
    else tip.hide();
    debug().linkedHover = on ? { index: i, side: plot === this.plot ? "right" : "left" } : null;
  }

  /** The indices of `indices` this side has (a copy: regl-scatterplot keeps and edits the array). */
  private mine(indices: number[] | undefined): number[] | undefined {
    const n = this.current?.label.length ?? this.count;
    return indices?.filter((i) => i < n);
  }

  /** One selected sample: its trajectory over this side's epochs (the left side draws its own). */
  private async drawTrajectory(): Promise<void> {
    const token = ++this.trail;
    const d = this.current;
    const sel = this.selection;
    if (!d || sel?.length !== 1 || sel[0] >= d.label.length) {
      this.plot.clearAnnotations?.();
      debug().trajectory = 0;
      return;
    }
    const s = await this.samples.get(sel[0]).catch(() => null);
    if (token !== this.trail || !s) return;
    const traj: number[][] = s.trajectory?.positions ?? [];
    await this.plot.drawAnnotations([{ vertices: traj.map((p) => ndc(d, p)), lineColor: [0.1, 0.1, 0.1, 0.85], lineWidth: 2 }]);
    if (token === this.trail) debug().trajectory = traj.length;
  }
}
