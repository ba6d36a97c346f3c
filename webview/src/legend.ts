// The legend (the side column's first panel, never over the plot): what the colours of the active colour mode mean, with counts of the
// visible samples, and how train and test samples are told apart.
import { EpochData } from "./data";
import { CONFIDENCE_RAMP, CORRECTNESS_COLORS, confidenceFloor, predictedOf } from "./encoding";
import { ViewState } from "./state";

/** What the legend shows. */
export interface LegendInput {
  d: EpochData;
  /** the samples the filters let through */
  visible: number[];
  state: ViewState;
  classes: string[];
  colors: string[];
  /** the epoch "prediction changed" compares with (undefined: `d` is the run's first epoch) */
  before?: number;
  /** a class row was clicked (label / predicted modes): show or hide that class */
  onToggleClass(c: number): void;
}

const TITLES = { label: "label", predicted: "predicted class", correctness: "correct / wrong", confidence: "confidence" };

function el(tag: string, cls: string, text = ""): HTMLElement {
  const e = document.createElement(tag);
  e.className = cls;
  e.textContent = text;
  return e;
}

/** One legend row: a swatch of `color`, a name and a count (a button when `onclick` is given). */
function row(color: string, name: string, count: number, onclick?: () => void): HTMLElement {
  const r = el(onclick ? "button" : "div", "legend-row");
  const sw = el("span", "swatch");
  sw.style.background = color; // CSSOM: allowed by the CSP
  r.append(sw, el("span", "name", name), el("span", "count", String(count)));
  if (onclick) {
    r.title = "click to show/hide this class";
    r.onclick = onclick;
  }
  return r;
}

function classRows(box: HTMLElement, inp: LegendInput): void {
  const { d, visible, state } = inp;
  const counts = new Array(inp.classes.length).fill(0);
  const byPred = state.colorBy === "predicted" && d.predicted;
  for (const i of visible) {
    const c = byPred ? d.predicted![i] : d.label[i];
    if (c >= 0) counts[c]++;
  }
  inp.classes.forEach((name, c) => {
    const r = row(inp.colors[c], name, counts[c], () => inp.onToggleClass(c));
    r.classList.toggle("off", state.hiddenClasses.includes(c));
    r.dataset.cls = String(c);
    box.appendChild(r);
  });
}

function correctnessRows(box: HTMLElement, inp: LegendInput): void {
  let wrong = 0;
  for (const i of inp.visible) if (predictedOf(inp.d, i) !== inp.d.label[i]) wrong++;
  const [ok, bad] = [row(CORRECTNESS_COLORS[0], "correct", inp.visible.length - wrong), row(CORRECTNESS_COLORS[1], "wrong", wrong)];
  ok.dataset.kind = "correct";
  bad.dataset.kind = "wrong";
  box.append(ok, bad);
}

function confidenceRamp(box: HTMLElement, inp: LegendInput): void {
  const conf = inp.d.confidence;
  const r = el("div", "legend-ramp");
  const bar = el("span", "ramp-bar");
  bar.style.background = `linear-gradient(to right, ${CONFIDENCE_RAMP.join(", ")})`;
  const lo = confidenceFloor(inp.classes.length);
  r.append(el("span", "ramp-end low", `${+lo.toFixed(2)} (${lo ? "chance" : "unsure"})`), bar, el("span", "ramp-end high", "1 (sure)"));
  box.appendChild(r);
  if (conf && inp.visible.length) {
    let sum = 0, lo = 1;
    for (const i of inp.visible) {
      sum += conf[i];
      lo = Math.min(lo, conf[i]);
    }
    box.appendChild(el("div", "legend-note", `mean ${(sum / inp.visible.length).toFixed(2)} · lowest ${lo.toFixed(2)}`));
  } else if (!conf) {
    box.appendChild(el("div", "legend-note", "this run has no predictions"));
  }
}

/** Render the legend of the active colour mode into `box`: label / predicted: the classes (click to
 * hide one); correct / wrong: two rows; confidence: the colour ramp with its low (chance) and high ends. Below
 * it, the train / test encoding and, with "prediction changed" on, which epoch is compared. */
export function renderLegend(box: HTMLElement, inp: LegendInput): void {
  const mode = inp.state.colorBy;
  box.textContent = "";
  box.dataset.mode = mode;
  box.appendChild(el("div", "legend-title", `colour: ${TITLES[mode]}`));
  if (mode === "correctness") correctnessRows(box, inp);
  else if (mode === "confidence") confidenceRamp(box, inp);
  else classRows(box, inp);

  let train = 0;
  for (const i of inp.visible) if (inp.d.train[i]) train++;
  const split = el("div", "legend-split");
  const keyTrain = el("div", "split-row");
  keyTrain.append(el("span", "split-key train"), el("span", "name", "train: small, solid"), el("span", "count", String(train)));
  const keyTest = el("div", "split-row");
  keyTest.append(el("span", "split-key test"), el("span", "name", "test: large, faded"), el("span", "count", String(inp.visible.length - train)));
  split.append(keyTrain, keyTest);
  box.appendChild(split);

  if (inp.state.changedOnly && inp.d.predicted) {
    box.appendChild(el("div", "legend-note changed", inp.before === undefined
      ? `epoch ${inp.d.epoch} is the first: no earlier prediction to compare with`
      : `prediction changed since epoch ${inp.before}`));
  }
}
