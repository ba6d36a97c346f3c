// The tooltip over a plot: the hovered sample's sprite (or text line), index, split, label, and predicted
// class with its confidence at the epoch on screen. A compare view links two of them: hovering a sample
// on one side shows the same sample on the other (see compare.ts).
import { EpochData } from "./data";
import { SampleStore } from "./samples";

/** What the tooltip works with. */
export interface HoverDeps {
  plot: any;
  tooltip: HTMLElement;
  samples: SampleStore;
  current(): EpochData | null;
  classes(): string[];
  /** the window.__ttvis key that holds the index shown (default "hovered") */
  key?: string;
  /** the pointer went onto sample `i` of this plot, or off it (null): the linked side follows */
  linked?(i: number | null): void;
}

/** A tooltip that can also be shown from outside (the other side of a compare view). */
export interface Tip {
  /** show sample `i` beside its point (a sample this plot does not have: nothing) */
  show(i: number): void;
  hide(): void;
}

function fmt(v: unknown): string {
  return typeof v === "number" ? v.toFixed(2) : "–";
}

/** Show the tooltip while the pointer is over a point of `plot` (window.__ttvis[key]: its index); the
 * returned Tip shows it for a sample chosen elsewhere. */
export function attachHover(deps: HoverDeps): Tip {
  const { plot, tooltip } = deps;
  const key = deps.key ?? "hovered";
  const debug = (window as any).__ttvis;
  const part = (cls: string) => tooltip.querySelector(`.${cls}`) as HTMLElement | null;
  const show = async (i: number) => {
    const d = deps.current();
    if (!d || i < 0 || i >= d.label.length) return;
    const classes = deps.classes();
    const [sx, sy] = plot.getScreenPosition(i);
    const pred = d.predicted ? d.predicted[i] : null;
    const conf = d.confidence ? d.confidence[i] : null;
    tooltip.innerHTML = `<img class="tip-sprite" alt=""><div class="tip-text"><div><b>#${i}</b> ${d.train[i] ? "train" : "test"}</div>` +
      (d.label[i] >= 0 ? `<div>label: <span class="tip-label"></span></div>` : "") +
      (pred !== null ? `<div>predicted: <span class="tip-pred"></span> (${fmt(conf)})</div>` : "") + `</div>`;
    if (d.label[i] >= 0) part("tip-label")!.textContent = classes[d.label[i]] ?? String(d.label[i]);
    if (pred !== null) part("tip-pred")!.textContent = classes[pred] ?? String(pred);
    // ids for the main plot's tooltip (tests and the README's screenshots name them)
    if (key === "hovered") for (const [cls, id] of [["tip-sprite", "tipSprite"], ["tip-label", "tipLabel"], ["tip-pred", "tipPred"]]) {
      const el = part(cls);
      if (el) el.id = id;
    }
    tooltip.hidden = false;
    // beside the point, on the side where it fits inside the plot's pane
    const box = tooltip.offsetParent as HTMLElement | null;
    const [w, h] = [tooltip.offsetWidth, tooltip.offsetHeight];
    const flipX = box && sx + 14 + w > box.clientWidth && sx - 14 - w >= 0;
    const flipY = box && sy + 14 + h > box.clientHeight && sy - 14 - h >= 0;
    tooltip.style.left = `${flipX ? sx - 14 - w : sx + 14}px`;
    tooltip.style.top = `${flipY ? sy - 14 - h : sy + 14}px`;
    debug[key] = i;
    const s = await deps.samples.get(i).catch(() => null);
    const img = part("tip-sprite") as HTMLImageElement | null;
    if (s && img && debug[key] === i) {
      if (s.sprite) img.src = `data:image/png;base64,${s.sprite}`;
      else if (s.text) img.replaceWith(Object.assign(document.createElement("div"), { className: "tip-sample-text", textContent: s.text }));
    }
  };
  const hide = () => {
    tooltip.hidden = true;
    debug[key] = null;
  };
  plot.subscribe("pointOver", (i: number) => {
    void show(i);
    deps.linked?.(i);
  });
  plot.subscribe("pointOut", () => {
    hide();
    deps.linked?.(null);
  });
  return { show: (i) => void show(i), hide };
}
