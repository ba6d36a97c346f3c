// A multi-sample selection (lasso, box, search, an events kind, the data map) in the #detail pane: a
// gallery of cards (thumbnail or text line, index, label → prediction, confidence at the epoch shown),
// the first MAX_ROWS of them; the 2-D trails over all epochs of the first MAX_TRAILS; and "Export CSV"
// of every selected sample (a Blob download in a browser; VS Code's host saves it, see main.ts); and the
// "Similar" action (similar.ts): a selection it made lists the query first, then the neighbours nearest
// first, with their distances.
import { EpochData } from "./data";
import { predictedOf } from "./encoding";
import { ndc } from "./neighbours";
import { fillThumbs, SampleStore, thumbSlot } from "./samples";
import { SimilarAction, similarHint, similarOrder } from "./similar";

/** Most cards the gallery shows; a line says how many more are selected. */
export const MAX_ROWS = 100;
/** Most trails drawn at once; a line says "trails for the first 50 of N". */
export const MAX_TRAILS = 50;
const TRAIL_COLOR = [0.1, 0.1, 0.1, 0.55];

/** What the gallery works with. */
export interface GalleryDeps {
  detail: HTMLElement;
  plot: any;
  samples: SampleStore;
  classes: string[];
  /** select these samples (a card: that one sample) */
  select(indices: number[]): void;
  /** hand a CSV file to the user (download or the VS Code host) */
  exportCsv(csv: string, name: string): void;
  /** the "Similar" action */
  similar: SimilarAction;
}

function csvField(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The CSV of the selected `points` at epoch `d`: one row per sample (index, split, label and its
 * class name, predicted class and its name, confidence, epoch), a header first. */
export function selectionCsv(points: number[], d: EpochData, classes: string[]): string {
  const name = (c: number) => (c >= 0 ? classes[c] ?? String(c) : "");
  const rows = [["index", "split", "label", "label_name", "predicted", "predicted_name", "confidence", "epoch"].join(",")];
  for (const i of points) {
    const lab = d.label[i];
    const pred = d.predicted ? d.predicted[i] : null;
    rows.push([i, d.train[i] ? "train" : "test", lab >= 0 ? lab : "", name(lab), pred ?? "", pred === null ? "" : name(pred),
      d.confidence ? d.confidence[i].toFixed(6) : "", d.epoch].map(csvField).join(","));
  }
  return rows.join("\n") + "\n";
}

/** Offer `csv` as a file download named `name`: a Blob URL link (`a#csvLink`) put in `where` and clicked. */
export function downloadCsv(csv: string, name: string, where: HTMLElement): void {
  const old = document.getElementById("csvLink") as HTMLAnchorElement | null;
  if (old) {
    URL.revokeObjectURL(old.href);
    old.remove();
  }
  const a = Object.assign(document.createElement("a"), {
    id: "csvLink", href: URL.createObjectURL(new Blob([csv], { type: "text/csv" })), download: name, textContent: `download ${name}`,
  });
  where.appendChild(a);
  a.click();
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ""): HTMLElementTagNameMap[K] {
  return Object.assign(document.createElement(tag), { className, textContent: text });
}

/** Show the selected `points` (ascending) at epoch `d` in the pane, draw their trails, and resolve
 * once thumbnails and trails are in; `live()` turns false when a newer view replaced this one.
 * `report` receives what is shown (for tests and the pane's debug state). */
export async function showGallery(deps: GalleryDeps, d: EpochData, points: number[], live: () => boolean,
  report: (v: Record<string, unknown>) => void): Promise<void> {
  const { detail, plot, classes } = deps;
  const name = (c: number) => (c >= 0 ? classes[c] ?? String(c) : "–");
  plot.clearAnnotations?.();
  detail.hidden = false;
  detail.classList.add("list");
  detail.textContent = "";
  const head = el("div", "sel-head");
  const exportBtn = el("button", "sel-export", "Export CSV");
  exportBtn.id = "exportCsv";
  exportBtn.title = `save the ${points.length} selected samples (index, label, prediction, confidence at epoch ${d.epoch}) as CSV`;
  exportBtn.onclick = () => deps.exportCsv(selectionCsv(points, d, classes), `selection-epoch${d.epoch}.csv`);
  head.append(el("h3", "", `${points.length} samples selected`), exportBtn);
  const trailsNote = el("div", "sel-hint trails", points.length > MAX_TRAILS
    ? `trails for the first ${MAX_TRAILS} of ${points.length}` : `trails for all ${points.length}`);
  const rows = el("div", "sel-rows gallery");
  const sim = deps.similar.resultFor(points);
  const distance = new Map(sim?.neighbours.map((n) => [n.index, n.distance]) ?? []);
  const hint = el("div", "sel-hint", `label → predicted (confidence) at epoch ${d.epoch}; click one for its detail`);
  detail.append(head, deps.similar.controls(points), ...(sim ? [el("div", "sel-hint similar-hint", similarHint(sim))] : []), hint, trailsNote, rows);
  if (sim) points = similarOrder(points, sim);
  const shown = points.slice(0, MAX_ROWS);
  const slots: [number, HTMLElement][] = [];
  for (const i of shown) {
    const r = el("button", "sel-row");
    const pred = predictedOf(d, i);
    if (d.predicted && pred !== d.label[i]) r.classList.add("wrong");
    r.dataset.index = String(i);
    r.title = `select sample #${i}`;
    const thumb = thumbSlot();
    slots.push([i, thumb]);
    r.append(thumb, el("span", "idx", `#${i}`),
      el("span", "cls", d.predicted ? `${name(d.label[i])} → ${name(pred)}` : name(d.label[i])),
      el("span", "conf", d.confidence ? d.confidence[i].toFixed(2) : ""));
    if (sim) {
      const dist = distance.get(i);
      r.classList.toggle("query", dist === undefined);
      r.append(el("span", "dist", dist === undefined ? "query" : `d ${dist.toFixed(2)}`));
      if (dist !== undefined) r.dataset.distance = String(dist);
    }
    r.onclick = () => deps.select([i]);
    rows.appendChild(r);
  }
  if (points.length > shown.length) {
    detail.appendChild(el("div", "sel-more", `and ${points.length - shown.length} more (the gallery shows the first ${MAX_ROWS}; Export CSV has all)`));
  }
  report({ list: points.length, shown: shown.length });
  const trailed = points.slice(0, MAX_TRAILS);
  const trails = (async () => {
    const got = await Promise.all(trailed.map((i) => deps.samples.get(i).catch(() => null)));
    if (!live()) return 0;
    const lines = got.filter((s) => s?.trajectory?.positions?.length > 1).map((s) => ({
      vertices: s.trajectory.positions.map((p: number[]) => ndc(d, p)), lineColor: TRAIL_COLOR, lineWidth: 1,
    }));
    await plot.drawAnnotations(lines);
    return lines.length;
  })();
  const [, drawn] = await Promise.all([fillThumbs(deps.samples, slots, live), trails]);
  if (live()) report({ list: points.length, shown: shown.length, thumbnails: true, trails: drawn });
}
