// The training-events panel (#events): what happened to the samples from the previous epoch with results
// to the one on screen (`ttvis/events`), in four kinds with counts: the predicted class changed, the
// confidence changed by more than the threshold, the dot moved far more than its representation did
// (the picture exaggerates), the representation moved far more than its dot (the picture hides it).
// Clicking a kind selects those samples. It follows the epoch on screen.
import { ViewState } from "./state";
import { Transport } from "./transport";

/** The four kinds, in the order the panel lists them: key in the answer, name, what it means. */
export const EVENT_KINDS: [string, string, string][] = [
  ["flipped", "prediction changed", "the predicted class is another than at the previous epoch"],
  ["confidence", "confidence jumped", "the predicted class's probability changed by more than the threshold"],
  ["moved_2d_only", "moved in 2-D only", "the dot moved far more than the sample's representation did: the picture exaggerates"],
  ["moved_high_only", "moved unseen", "the representation moved far more than the dot did: the picture hides it"],
];
/** `ttvis/events`' default threshold for "confidence jumped" (the server's); the panel lets the user change it. */
export const CONFIDENCE_THRESHOLD = 0.3;

/** What the panel works with. */
export interface EventsDeps {
  box: HTMLElement;
  transport: Transport;
  state: ViewState;
  /** select these samples in the plot */
  select(indices: number[]): void;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ""): HTMLElementTagNameMap[K] {
  return Object.assign(document.createElement(tag), { className, textContent: text });
}

/** The training-events panel; `update(epoch)` after each epoch drawn. */
export class EventsPanel {
  private shownKey = "";
  private token = 0;
  /** the smallest change of the predicted class's probability that counts as "confidence jumped" */
  threshold = CONFIDENCE_THRESHOLD;

  constructor(private deps: EventsDeps) {}

  /** Show the transition into `epoch` (nothing to do when it is shown already). */
  async update(epoch: number): Promise<void> {
    const { state, box } = this.deps;
    const key = `${state.path}\n${state.method}\n${epoch}\n${this.threshold}`;
    if (key === this.shownKey) return;
    this.shownKey = key;
    const token = ++this.token;
    let r: any;
    try {
      r = await this.deps.transport.request("ttvis/events", { path: state.path, method: state.method, epoch, threshold: this.threshold });
    } catch (e) {
      if (token !== this.token) return;
      this.shownKey = ""; // try again next time
      box.textContent = "";
      box.appendChild(el("div", "panel-note", `No training events: ${e instanceof Error ? e.message : e}`));
      (window as any).__ttvis.events = { epoch, error: true };
      return;
    }
    if (token !== this.token) return;
    box.textContent = "";
    if (r.previous === null || r.previous === undefined) {
      box.appendChild(el("div", "panel-note", r.note ?? `epoch ${epoch} is the first: no transition`));
      (window as any).__ttvis.events = { epoch, previous: null, counts: {} };
      return;
    }
    box.appendChild(el("div", "panel-hint", `epoch ${r.previous} → ${r.epoch}; click a kind to select its samples`));
    const counts: Record<string, number> = {};
    for (const [k, name, what] of EVENT_KINDS) {
      const idx: number[] = r[k] ?? [];
      counts[k] = idx.length;
      const b = el("button", "event-kind");
      b.dataset.kind = k;
      b.title = k === "confidence" ? `${what} (${this.threshold})` : what;
      b.disabled = !idx.length;
      b.append(el("span", "name", name), el("span", "count", String(idx.length)));
      b.onclick = () => this.deps.select(idx);
      box.appendChild(b);
      if (k === "confidence") box.appendChild(this.thresholdControl(epoch));
    }
    (window as any).__ttvis.events = { epoch: r.epoch, previous: r.previous, counts, threshold: this.threshold };
  }

  /** The "confidence jumped" threshold, a probability change from 0.01 to 0.99; a change recounts. */
  private thresholdControl(epoch: number): HTMLElement {
    const label = el("label", "event-threshold", "jump ≥ ");
    const input = Object.assign(document.createElement("input"), { type: "number", min: "0.01", max: "0.99", step: "0.05", value: String(this.threshold) });
    input.id = "confidenceThreshold";
    input.setAttribute("aria-label", "confidence jump threshold");
    input.title = "the least change of the predicted class's probability between the two epochs that counts as a jump";
    input.onchange = () => {
      const v = Number(input.value);
      if (!(v > 0 && v < 1)) { input.value = String(this.threshold); return; }
      this.threshold = v;
      void this.update(epoch);
    };
    label.appendChild(input);
    return label;
  }

  /** Forget what is shown (another run or method). */
  reset(): void {
    this.shownKey = "";
    this.token++;
    this.deps.box.textContent = "";
  }
}
