// Training of the shown run's method, as the page sees it: a neutral progress note while a job runs
// (from `ttvis/describe` at start, then `ttvis/trainProgress`), each epoch drawn as it lands
// (`ttvis/epochReady`), how the job ended (`ttvis/trainFinished`), and "partial: 7/20 epochs" when the
// results stop short of what their run planned. A job run by another process (the CLI) is polled.
import { EpochStore } from "./data";
import { ViewState } from "./state";
import { StatusLine } from "./status";
import { Transport } from "./transport";

const POLL_MS = 5000;

/** What the training view works with. */
export interface TrainingDeps {
  transport: Transport;
  state: ViewState;
  status: StatusLine;
  store: EpochStore;
  /** the element beside the epoch label that shows "partial: n/m epochs" */
  partialEl: HTMLElement;
  /** the epoch drawn now, if any */
  drawnEpoch(): number | undefined;
  /** draw `epoch` */
  show(epoch: number): void;
  /** the list of epochs changed (slider range, labels) */
  epochsChanged(): void;
  /** the job replaced the earlier results: forget what was cached of them */
  resultsReplaced(): void;
}

/** A method's entry in `ttvis/describe`'s `methods`. */
export interface MethodState {
  state?: string;
  epochs?: number[];
  planned?: number;
  percentage?: number;
  done?: number;
  total?: number;
  stage?: string;
  job?: string;
  by?: string;
}

/** Follows the training of the shown run and method and keeps the status note and epochs current. */
export class TrainingView {
  /** the run's path as the server spells it (notifications carry that one) */
  runPath?: string;
  private running = false;
  private poll: number | null = null;

  constructor(private deps: TrainingDeps) {
    const t = deps.transport;
    t.onNotification("ttvis/trainProgress", (p) => this.ours(p) && this.progress(p));
    t.onNotification("ttvis/epochReady", (p) => this.ours(p) && this.epochReady(p));
    t.onNotification("ttvis/trainFinished", (p) => this.ours(p) && void this.finished(p));
  }

  private ours(p: any): boolean {
    return (p.path === this.runPath || p.path === this.deps.state.path) && p.method === this.deps.state.method;
  }

  /** Take the method's state from `ttvis/describe`: progress note while it trains, partial note. */
  fromDescribe(m: MethodState | undefined): void {
    const epochs = m?.epochs ?? [];
    const training = m?.state === "training";
    const partial = !training && m?.planned && epochs.length < m.planned ? `partial: ${epochs.length}/${m.planned} epochs` : "";
    this.deps.partialEl.textContent = partial;
    this.deps.partialEl.title = partial ? "the training that made these results stopped before its last planned epoch" : "";
    if (training) {
      this.running = true;
      this.deps.status.clearError(); // e.g. "no results: train it first"
      this.deps.status.note(m?.job ? this.progressText(m) : `Training ${this.deps.state.method}${m?.by ? ` (${m.by})` : ""}: ${this.firstFrame()}`);
      if (!m?.job) this.pollExternal();
    } else if (this.running && !m?.job) {
      this.running = false; // the other process finished
      this.deps.status.note("");
    }
  }

  private firstFrame(): string {
    return this.deps.drawnEpoch() === undefined ? "the first frame appears when its first epoch is done" : "new epochs appear as they land";
  }

  private progressText(p: { done?: number; total?: number; stage?: string }): string {
    const total = p.total ?? 0;
    const at = total ? ` epoch ${Math.min((p.done ?? 0) + 1, total)}/${total}` : "";
    const stage = p.stage ? ` — ${p.stage}…` : "…";
    return `Training ${this.deps.state.method}:${at}${stage} (${this.firstFrame()})`;
  }

  private progress(p: any): void {
    this.running = true;
    this.deps.partialEl.textContent = "";
    this.deps.status.clearError();
    this.deps.status.note(this.progressText(p));
  }

  private epochReady(p: any): void {
    const { store } = this.deps;
    const drawn = this.deps.drawnEpoch();
    const latest = store.epochs[store.epochs.length - 1];
    if (p.done === 1) {
      // the job's first epoch: earlier results were moved aside (a new run) or are continued (a resumed
      // one); drop what was cached, and the epoch's load brings the server's list of epochs
      store.clear();
      this.deps.resultsReplaced();
    }
    store.add(p.epoch);
    this.deps.epochsChanged();
    this.running = true;
    this.deps.status.note(this.progressText({ done: p.done, total: p.total }));
    if (drawn === undefined || p.done === 1 || drawn === latest) this.deps.show(p.epoch);
  }

  private async finished(p: any): Promise<void> {
    this.running = false;
    const text = `Training ${this.deps.state.method} ${p.message ?? p.status}`;
    if (p.status === "failed") {
      this.deps.status.note("");
      this.deps.status.error(text);
    } else {
      this.deps.status.note(text);
    }
    await this.refresh();
  }

  /** Ask `ttvis/describe` again and take the method's state and epochs from it; draw the last epoch
   * when nothing is drawn yet. */
  async refresh(): Promise<void> {
    const { state, store } = this.deps;
    try {
      const desc = await this.deps.transport.request("ttvis/describe", { path: state.path });
      const m: MethodState | undefined = desc.methods?.[state.method];
      this.fromDescribe(m);
      const fresh = m?.epochs ?? [];
      const grew = fresh.some((e) => !store.epochs.includes(e));
      for (const e of fresh) if (!store.epochs.includes(e)) store.add(e);
      if (grew) this.deps.epochsChanged();
      if (fresh.length && this.deps.drawnEpoch() === undefined) this.deps.show(fresh[fresh.length - 1]);
    } catch {
      // the next notification or poll tries again
    }
  }

  private pollExternal(): void {
    if (this.poll !== null) return;
    this.poll = window.setInterval(() => {
      if (!this.running) {
        window.clearInterval(this.poll!);
        this.poll = null;
        return;
      }
      void this.refresh();
    }, POLL_MS);
  }
}
