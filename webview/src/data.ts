// Per-epoch data from `ttvis/epoch` (projection, predictions, labels, split, territory), decoded and
// cached by epoch, and the run's list of epochs with results.
import { decodeArray, WireArray } from "./arrays";
import { Transport } from "./transport";

/** One epoch as the page uses it: `ttvis/epoch`'s answer with its arrays decoded. */
export interface EpochData {
  epoch: number;
  xy: Float32Array;
  predicted: Int32Array | null;
  confidence: Float32Array | null;
  label: Int32Array;
  train: Uint8Array;
  scale: number[];
  background: string | null;
  metrics: Record<string, any>;
}

/** Loads epochs of one run and method through the transport, once each. */
export class EpochStore {
  /** the epochs with results, ascending (from describe, each `ttvis/epoch` answer and epochReady) */
  epochs: number[] = [];
  private cache = new Map<number, EpochData>();

  constructor(private transport: Transport, private where: () => { path?: string; method: string }) {}

  /** The epoch's data, from the cache or `ttvis/epoch`; rejects with the server's RpcError. */
  async load(epoch: number): Promise<EpochData> {
    const hit = this.cache.get(epoch);
    if (hit) return hit;
    const { path, method } = this.where();
    const r = await this.transport.request("ttvis/epoch", { path, method, epoch });
    const d: EpochData = {
      epoch,
      xy: decodeArray(r.projection as WireArray) as Float32Array,
      predicted: r.predicted ? (decodeArray(r.predicted) as Int32Array) : null,
      confidence: r.confidence ? (decodeArray(r.confidence) as Float32Array) : null,
      label: decodeArray(r.label) as Int32Array,
      train: decodeArray(r.train) as Uint8Array,
      scale: r.scale,
      background: r.background,
      metrics: r.metrics ?? {},
    };
    if (Array.isArray(r.epochs)) this.epochs = r.epochs;
    this.cache.set(epoch, d);
    return d;
  }

  /** The epoch before `epoch` in the run's list of epochs, or undefined for the first. */
  before(epoch: number): number | undefined {
    const k = this.epochs.indexOf(epoch);
    return k > 0 ? this.epochs[k - 1] : undefined;
  }

  /** Add an epoch that just landed (training) and drop any stale copy of it. */
  add(epoch: number): void {
    if (!this.epochs.includes(epoch)) this.epochs = [...this.epochs, epoch].sort((a, b) => a - b);
    this.cache.delete(epoch);
  }

  /** Forget every cached epoch (the results were replaced). */
  clear(): void {
    this.cache.clear();
  }
}
