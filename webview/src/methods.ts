// The visualization methods as the page sees them (`ttvis/methods`, never a name of its own): which one
// to show, the method picker, and the shown method's numbers in the corner (NPR, PPR or "no inverse
// map", accuracy, and the run's temporal measures).
import { EpochData } from "./data";
import { MethodState } from "./training";

/** A method as `ttvis/methods` lists it (the parts the page uses). */
export interface MethodInfo {
  name: string;
  description: string;
  hasInverse: boolean;
}

function fmt(v: unknown): string {
  return typeof v === "number" ? v.toFixed(2) : "–";
}

/** The method to show when none was asked for: one with results on this run (`desc`, a
 * `ttvis/describe` answer), else one training, else the server's first. */
export function pickMethod(desc: any, methods: MethodInfo[]): string {
  const runMethods: Record<string, MethodState> = desc.methods ?? {};
  const known = methods.map((m) => m.name);
  const withResults = known.filter((n) => runMethods[n]?.epochs?.length);
  const trainingNow = known.filter((n) => runMethods[n]?.state === "training");
  return withResults[0] ?? trainingNow[0] ?? known[0] ?? "";
}

/** Fill the method picker `sel`: the methods with results or a job on this run, and the `shown` one. */
export function fillMethodPicker(sel: HTMLSelectElement, desc: any, methods: MethodInfo[], shown: string): void {
  const runMethods: Record<string, MethodState> = desc.methods ?? {};
  const names = methods.map((m) => m.name).filter((n) => n === shown || runMethods[n]?.epochs?.length || runMethods[n]?.state === "training");
  sel.textContent = "";
  for (const n of names) {
    const opt = document.createElement("option");
    opt.value = opt.textContent = n;
    opt.title = methods.find((m) => m.name === n)?.description ?? "";
    sel.appendChild(opt);
  }
  sel.value = shown;
}

/** The run's temporal measures of `summary.temporal` as the corner shows them: the papers' names only
 * for the papers' numbers (raw representations, eval.json's `temporal.definition`), DynaVis's own, and
 * the standardised variants named as such. An eval.json from before the published definitions (no
 * `stability_standardised` key) held standardised numbers under the papers' names: those show as
 * standardised, with a word to re-evaluate. */
function temporalLines(t: Record<string, any>): string {
  const legacy = t.stability !== undefined && !("stability_standardised" in t);
  const std = legacy
    ? { first: t.ranking_first, mean: t.ranking_mean, stab: t.stability, slices: t.interslice_knn }
    : { first: t.ranking_first_standardised, mean: t.ranking_mean_standardised, stab: t.stability_standardised, slices: t.interslice_knn_standardised };
  const published = legacy
    ? `<div title="this eval.json predates the published definitions: run Evaluate (ttvis evaluate) to compute them"><b>temporal</b> re-evaluate for the published measures</div>`
    : `<div title="over the whole run, on the raw representations as the papers define them: temporal ranking with the first epoch / every epoch as reference (TimeVis, IJCAI 2022), stab_spearman (Vernier et al., EuroVis 2020), interslice kNN (M-PHATE, NeurIPS 2019)">` +
      `<b>temporal</b> rank ${fmt(t.ranking_first)}/${fmt(t.ranking_mean)} · stab ${fmt(t.stability)} · slices ${fmt(t.interslice_knn)}</div>` +
      `<div title="DynaVis's measures (scripts/eval_motion.py, eval_neighbor_change.py): per-sample step-length Spearman, direction agreement, sign agreement of neighbour-distance changes between epochs">` +
      `<b>DynaVis</b> steps ${fmt(t.dynavis_motion_spearman)} · dir ${fmt(t.dynavis_direction)} · nbr ${fmt(t.dynavis_neighbor_change)}</div>`;
  return published +
    `<div title="the same three on each epoch's representations standardised (minus its mean, / its root mean variance: the space the methods project); not the papers' numbers">` +
    `<b>standardised</b> rank ${fmt(std.first)}/${fmt(std.mean)} · stab ${fmt(std.stab)} · slices ${fmt(std.slices)}</div>`;
}

/** The corner box: epoch `d`'s NPR, PPR (or why there is none: `hasInverse` false), accuracy, and the
 * run's temporal measures from `summary` (describe's eval summary of the method). */
export function renderMetrics(box: HTMLElement, d: EpochData, hasInverse: boolean, summary: Record<string, any>): void {
  const m = d.metrics;
  const t = summary.temporal ?? {};
  box.innerHTML = `<div><b>NPR</b> train ${fmt(m.npr_train)} · test ${fmt(m.npr_test)}</div>` +
    (hasInverse ? `<div><b>PPR</b> train ${fmt(m.ppr_train)} · test ${fmt(m.ppr_test)}</div>`
      : `<div title="a method without an inverse map paints no territories and has no PPR"><b>PPR</b> no inverse map</div>`) +
    `<div><b>accuracy</b> train ${fmt(m.accuracy_train)} · test ${fmt(m.accuracy_test)}</div>` +
    temporalLines(t);
}
