// Training of the shown run's method, as the page sees it: a neutral progress note while a job runs
// (from `ttvis/describe` at start, then `ttvis/trainProgress`), each epoch drawn as it lands
// (`ttvis/epochReady`), how the job ended (`ttvis/trainFinished`), and "partial: 7/20 epochs" when the
// results stop short of what their run planned. A job run by another process (the CLI) is polled.
//
// A live run (`ttvis/watch`: the server follows a run while it is being recorded, describe's state
// "watching") shows a "live" badge until the watch ends. New epochs extend the slider; the view follows
// the newest when it is at the newest, and stays where the user put it otherwise. A watch job is known
// from describe (its state and job), or from its progress stage ("watching for epoch N") before the run
// can be described at all (an empty folder).
import { EpochStore } from "./data";
import { ViewState } from "./state";
import { StatusLine } from "./status";
import { Transport } from "./transport";

const POLL_MS = 5000;
const WATCH_STAGE = /^watching\b/;

/** What the training view works with. */
export interface TrainingDeps {
  transport: Transport;
  state: ViewState;
  status: StatusLine;
  store: EpochStore;
  /** the element beside the epoch label that shows "partial: n/m epochs" */
  partialEl: HTMLElement;
  /** the "live" badge, shown while the shown run and method are followed as they are recorded */
  liveEl: HTMLElement;
  /** the epoch drawn now, if any */
  drawnEpoch(): number | undefined;
  /** the epoch the view is at or heading to (the user's position), if any */
  viewEpoch(): number | undefined;
  /** draw `epoch` */
  show(epoch: number): void;
  /** the list of epochs changed (slider range, labels) */
  epochsChanged(): void;
  /** the job replaced the earlier results: forget what was cached of them */
  resultsReplaced(): void;
  /** the run could not be described when the page started (nothing recorded yet): start again */
  restart(): void;
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
  /** the run's path as the server spells it (notifications carry that one); unset until described */
  runPath?: string;
  private running = false;
  private poll: number | null = null;
  /** jobs known to follow a run being recorded (ttvis/watch) */
  private watchJobs = new Set<string>();
  private asked = new Set<string>();

  constructor(private deps: TrainingDeps) {
    const t = deps.transport;
    t.onNotification("ttvis/trainProgress", (p) => this.ours(p) && this.progress(p));
    t.onNotification("ttvis/epochReady", (p) => this.ours(p) && this.epochReady(p));
    t.onNotification("ttvis/trainFinished", (p) => this.ours(p) && void this.finished(p));
  }

  /** Whether the shown run and method are followed live now. */
  get live(): boolean {
    return !this.deps.liveEl.hidden;
  }

  private ours(p: any): boolean {
    return (p.path === this.runPath || p.path === this.deps.state.path) && p.method === this.deps.state.method;
  }

  private setLive(on: boolean): void {
    const el = this.deps.liveEl;
    el.hidden = !on;
    el.title = on ? `the server follows this run as it is recorded: each new epoch of ${this.deps.state.method} appears as it lands` : "";
    (window as any).__ttvis.live = on;
  }

  private isWatch(job?: string): boolean {
    return job !== undefined && this.watchJobs.has(job);
  }

  /** Take the method's state from `ttvis/describe`: progress note while it trains or is followed live,
   * partial note. */
  fromDescribe(m: MethodState | undefined): void {
    const epochs = m?.epochs ?? [];
    const watching = m?.state === "watching";
    const busy = m?.state === "training" || watching;
    if (watching && m?.job) this.watchJobs.add(m.job);
    this.setLive(watching);
    const partial = !busy && m?.planned && epochs.length < m.planned ? `partial: ${epochs.length}/${m.planned} epochs` : "";
    this.deps.partialEl.textContent = partial;
    this.deps.partialEl.title = partial ? "the training that made these results stopped before its last planned epoch" : "";
    if (busy) {
      this.running = true;
      this.deps.status.clearError(); // e.g. "no results: train it first"
      this.deps.status.note(m?.job ? this.progressText({ ...m, job: m.job }) : `Training ${this.deps.state.method}${m?.by ? ` (${m.by})` : ""}: ${this.firstFrame()}`);
      if (!m?.job) this.pollExternal();
    } else if (this.running && !m?.job) {
      this.running = false; // the other process finished
      this.deps.status.note("");
    }
  }

  private firstFrame(): string {
    return this.deps.drawnEpoch() === undefined ? "the first frame appears when its first epoch is done" : "new epochs appear as they land";
  }

  private progressText(p: { done?: number; total?: number; stage?: string; job?: string; epoch?: number }): string {
    if (this.isWatch(p.job)) {
      const what = p.stage ? (p.epoch && !WATCH_STAGE.test(p.stage) ? `epoch ${p.epoch}: ${p.stage}` : p.stage) : `epoch ${p.epoch} is in`;
      return `Following ${this.deps.state.method} live — ${what}${p.stage ? "…" : ""}` +
        (this.deps.drawnEpoch() === undefined ? " (the first frame appears when the first recorded epoch is projected)" : "");
    }
    const total = p.total ?? 0;
    const at = total ? ` epoch ${Math.min((p.done ?? 0) + 1, total)}/${total}` : "";
    const stage = p.stage ? ` — ${p.stage}…` : "…";
    return `Training ${this.deps.state.method}:${at}${stage} (${this.firstFrame()})`;
  }

  private progress(p: any): void {
    if (p.job && WATCH_STAGE.test(p.stage ?? "")) this.watchJobs.add(p.job);
    else if (p.job && !this.isWatch(p.job)) void this.learnKind(p.job);
    if (this.isWatch(p.job)) this.setLive(true);
    this.running = true;
    this.deps.partialEl.textContent = "";
    this.deps.status.clearError();
    this.deps.status.note(this.progressText(p));
  }

  /** Ask describe once whether `job` (met in a notification) follows the run live. */
  private async learnKind(job: string): Promise<void> {
    if (this.asked.has(job)) return;
    this.asked.add(job);
    try {
      const desc = await this.deps.transport.request("ttvis/describe", { path: this.deps.state.path });
      const m: MethodState | undefined = desc.methods?.[this.deps.state.method];
      if (m?.job === job && m.state === "watching") {
        this.watchJobs.add(job);
        this.setLive(true);
      }
    } catch {
      this.asked.delete(job); // nothing recorded yet: ask again next time
    }
  }

  private epochReady(p: any): void {
    if (!this.runPath) {
      // the page could not describe the run when it started (nothing was recorded yet): now it can
      if (p.job) this.learnKindLater(p.job);
      this.deps.restart();
      return;
    }
    const { store } = this.deps;
    const at = this.deps.viewEpoch();
    const latest = store.epochs[store.epochs.length - 1];
    // the job's first epoch at or before the newest known: the earlier results were moved aside (a new run)
    const replaced = p.done === 1 && latest !== undefined && p.epoch <= latest;
    if (p.done === 1) {
      // a new run, or a continued one: drop what was cached, and the epoch's load brings the server's list
      store.clear();
      this.deps.resultsReplaced();
    }
    if (replaced) store.epochs = store.epochs.filter((e) => e < p.epoch);
    store.add(p.epoch);
    this.deps.epochsChanged();
    this.running = true;
    if (this.isWatch(p.job)) this.setLive(true);
    else if (p.job) void this.learnKind(p.job);
    this.deps.status.note(this.progressText({ done: p.done, total: p.total, job: p.job, epoch: p.epoch }));
    // follow the newest epoch only when the view is at the newest (a user who went back stays there)
    if (at === undefined || replaced || at === latest) this.deps.show(p.epoch);
  }

  private learnKindLater(job: string): void {
    this.asked.delete(job);
    window.setTimeout(() => void this.learnKind(job), 0);
  }

  private async finished(p: any): Promise<void> {
    this.running = false;
    const watch = this.isWatch(p.job) || this.live;
    this.setLive(false);
    const text = watch ? `Live view of ${this.deps.state.method} ended: ${p.message ?? p.status}` : `Training ${this.deps.state.method} ${p.message ?? p.status}`;
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
