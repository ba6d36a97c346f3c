// How an epoch becomes regl-scatterplot points: position, colour, size/opacity, and which are shown.
//
// regl-scatterplot keeps two values per point: valueA (its "z", the 3rd texture component) and
// valueB ("w", the 4th). Integers are categorical (an index into `pointColor`); a float in [0, 1] is
// continuous once the draw says `zDataType`/`wDataType: "continuous"` (index floor(v * (n - 1))).
// Colours must be hex strings or [r, g, b(, a)] arrays: a CSS "rgb(…)" string becomes white.
//   valueA: the colour: class index (label / predicted), 0 correct / 1 wrong, or confidence rescaled
//           from [chance, 1] to [0, 1] (chance = 1 / number of classes: the least a top score can be)
//   valueB: the split, 0 train / 1 test: it drives point size and opacity (test: larger, faded)
import { EpochData } from "./data";
import { ColorBy, ViewState } from "./state";

const VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];

function hex(v: number): string {
  return Math.round(v).toString(16).padStart(2, "0");
}

/** `n` colours evenly along the piecewise-linear ramp through `stops` (hex strings). */
function ramp(stops: string[], n: number): string[] {
  const rgb = stops.map((s) => [1, 3, 5].map((k) => parseInt(s.slice(k, k + 2), 16)));
  return Array.from({ length: n }, (_, i) => {
    const t = (i / (n - 1)) * (stops.length - 1);
    const k = Math.min(Math.floor(t), stops.length - 2);
    const f = t - k;
    return "#" + [0, 1, 2].map((c) => hex(rgb[k][c] * (1 - f) + rgb[k + 1][c] * f)).join("");
  });
}

/** Colours for confidence 0 (first) to 1 (last): viridis, dark purple (unsure) to yellow (sure). */
export const CONFIDENCE_RAMP: string[] = ramp(VIRIDIS, 16);
/** Colours of correct (index 0) and wrong (index 1) predictions. */
export const CORRECTNESS_COLORS = ["#2ca02c", "#d62728"];
/** Point size of train (index 0) and test (index 1) samples. */
export const SPLIT_SIZE = [4, 7];
/** Point opacity of train (index 0) and test (index 1) samples. */
export const SPLIT_OPACITY = [0.9, 0.45];

/** The lowest confidence (top softmax score) a run with `nClasses` classes can have: 1 / nClasses. */
export function confidenceFloor(nClasses: number): number {
  return nClasses >= 2 ? 1 / nClasses : 0;
}

/** The predicted class of sample `i` (its label when the run has no predictions). */
export function predictedOf(d: EpochData, i: number): number {
  return d.predicted ? d.predicted[i] : d.label[i];
}

/** The epoch as regl-scatterplot points (normalised device coordinates over the territory's scale);
 * `nClasses` sets the confidence ramp's low end (see confidenceFloor). */
export function pointsOf(d: EpochData, colorBy: ColorBy, nClasses: number): { x: Float32Array; y: Float32Array; valueA: Float32Array; valueB: Float32Array } {
  const n = d.label.length;
  const [x0, y0, x1, y1] = d.scale;
  const lo = confidenceFloor(nClasses);
  const x = new Float32Array(n), y = new Float32Array(n), a = new Float32Array(n), b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = ((d.xy[2 * i] - x0) / (x1 - x0)) * 2 - 1;
    y[i] = ((d.xy[2 * i + 1] - y0) / (y1 - y0)) * 2 - 1;
    const lab = Math.max(d.label[i], 0);
    const pred = predictedOf(d, i);
    a[i] = colorBy === "label" ? lab
      : colorBy === "predicted" ? Math.max(pred, 0)
      : colorBy === "correctness" ? (pred === d.label[i] ? 0 : 1)
      : d.confidence ? Math.min(Math.max((d.confidence[i] - lo) / (1 - lo), 0), 1) : 1;
    b[i] = d.train[i] ? 0 : 1;
  }
  return { x, y, valueA: a, valueB: b };
}

/** The scatterplot properties (`plot.set`) for colour mode `colorBy`; `classColors` are the run's palette. */
export function encodingSettings(colorBy: ColorBy, classColors: string[]): Record<string, unknown> {
  const pointColor = colorBy === "confidence" ? CONFIDENCE_RAMP : colorBy === "correctness" ? CORRECTNESS_COLORS : classColors;
  return { colorBy: "valueA", pointColor, sizeBy: "valueB", pointSize: SPLIT_SIZE, opacityBy: "valueB", opacity: SPLIT_OPACITY };
}

/** The draw options that say how to read valueA and valueB for colour mode `colorBy`. */
export function dataTypes(colorBy: ColorBy): { zDataType: string; wDataType: string } {
  return { zDataType: colorBy === "confidence" ? "continuous" : "categorical", wDataType: "categorical" };
}

/** The samples the filters let through, ascending. `before` is the epoch preceding `d` in the run
 * (for "prediction changed"; null at the first epoch, where nothing can have changed; a run without
 * predictions ignores that filter). */
export function visibleIndices(d: EpochData, state: ViewState, before: EpochData | null): number[] {
  const hidden = new Set(state.hiddenClasses);
  const out: number[] = [];
  for (let i = 0; i < d.label.length; i++) {
    const pred = predictedOf(d, i);
    const cls = state.colorBy === "predicted" ? pred : d.label[i];
    if (hidden.has(cls)) continue;
    if (state.split === "train" && !d.train[i]) continue;
    if (state.split === "test" && d.train[i]) continue;
    if (state.misclassifiedOnly && pred === d.label[i]) continue;
    if (state.changedOnly && d.predicted && (!before?.predicted || before.predicted[i] === d.predicted[i])) continue;
    out.push(i);
  }
  return out;
}
