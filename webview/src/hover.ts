// The tooltip over the main plot: the hovered sample's sprite (or text line), index, split, label,
// and predicted class with its confidence at the epoch on screen.
import { EpochData } from "./data";
import { SampleStore } from "./samples";

/** What the tooltip works with. */
export interface HoverDeps {
  plot: any;
  tooltip: HTMLElement;
  samples: SampleStore;
  current(): EpochData | null;
  classes(): string[];
}

function fmt(v: unknown): string {
  return typeof v === "number" ? v.toFixed(2) : "–";
}

/** Show the tooltip while the pointer is over a point of `plot` (window.__ttvis.hovered: its index). */
export function attachHover(deps: HoverDeps): void {
  const { plot, tooltip } = deps;
  const debug = (window as any).__ttvis;
  const byId = (id: string) => document.getElementById(id) as HTMLElement;
  plot.subscribe("pointOver", async (i: number) => {
    const d = deps.current();
    if (!d) return;
    const classes = deps.classes();
    const [sx, sy] = plot.getScreenPosition(i);
    const pred = d.predicted ? d.predicted[i] : null;
    const conf = d.confidence ? d.confidence[i] : null;
    tooltip.innerHTML = `<img id="tipSprite" alt=""><div class="tip-text"><div><b>#${i}</b> ${d.train[i] ? "train" : "test"}</div>` +
      (d.label[i] >= 0 ? `<div>label: <span id="tipLabel"></span></div>` : "") +
      (pred !== null ? `<div>predicted: <span id="tipPred"></span> (${fmt(conf)})</div>` : "") + `</div>`;
    if (d.label[i] >= 0) byId("tipLabel").textContent = classes[d.label[i]] ?? String(d.label[i]);
    if (pred !== null) byId("tipPred").textContent = classes[pred] ?? String(pred);
    tooltip.style.left = `${sx + 14}px`;
    tooltip.style.top = `${sy + 14}px`;
    tooltip.hidden = false;
    debug.hovered = i;
    const s = await deps.samples.get(i);
    const img = document.getElementById("tipSprite") as HTMLImageElement | null;
    if (img && debug.hovered === i) {
      if (s.sprite) img.src = `data:image/png;base64,${s.sprite}`;
      else if (s.text) img.replaceWith(Object.assign(document.createElement("div"), { className: "tip-sample-text", textContent: s.text }));
    }
  });
  plot.subscribe("pointOut", () => {
    tooltip.hidden = true;
    debug.hovered = null;
  });
}
