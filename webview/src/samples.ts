// One sample at a time: `ttvis/sample` answers (sprite or text, label, per-epoch predictions, the 2-D
// trajectory), fetched once each and a few at a time, and the small thumbnail every list draws from them.
import { Transport } from "./transport";

const IN_FLIGHT = 6;

/** `ttvis/sample` answers by sample index, fetched once each, at most IN_FLIGHT at a time. */
export class SampleStore {
  private cache = new Map<number, Promise<any>>();
  private running = 0;
  private queue: (() => void)[] = [];

  constructor(private transport: Transport, private where: () => { path?: string; method: string }) {}

  /** Sample `i`'s `ttvis/sample` result (cached; a failed request is retried next time). */
  get(i: number): Promise<any> {
    let p = this.cache.get(i);
    if (!p) {
      p = this.slot().then(async (release) => {
        try {
          const { path, method } = this.where();
          return await this.transport.request("ttvis/sample", { path, index: i, method });
        } finally {
          release();
        }
      });
      p.catch(() => this.cache.delete(i));
      this.cache.set(i, p);
    }
    return p;
  }

  /** Forget every answer (another method: other trajectories). */
  clear(): void {
    this.cache.clear();
  }

  private slot(): Promise<() => void> {
    const release = () => {
      this.running--;
      this.queue.shift()?.();
    };
    return new Promise((resolve) => {
      const go = () => {
        this.running++;
        resolve(release);
      };
      if (this.running < IN_FLIGHT) go();
      else this.queue.push(go);
    });
  }
}

/** An empty thumbnail slot (`span.thumb`) for a list row; `fillThumb` puts the sample in it. */
export function thumbSlot(): HTMLElement {
  return Object.assign(document.createElement("span"), { className: "thumb" });
}

/** Put sample `s` (a `ttvis/sample` answer) into the thumbnail `slot`: its sprite, else its text line
 * (the slot becomes `span.thumb-text`); a sample with neither leaves the slot empty. */
export function fillThumb(slot: HTMLElement, s: any): void {
  if (s.sprite) {
    slot.appendChild(Object.assign(document.createElement("img"), { src: `data:image/png;base64,${s.sprite}`, alt: "" }));
  } else if (s.text) {
    slot.replaceWith(Object.assign(document.createElement("span"), { className: "thumb-text", textContent: s.text, title: s.text }));
  }
}

/** Fill the thumbnail slots `[index, slot]` as their samples arrive, while `live()` holds (a newer
 * view replaced this one otherwise); resolves when every one is in (a failed fetch leaves its slot empty). */
export async function fillThumbs(samples: SampleStore, slots: [number, HTMLElement][], live: () => boolean): Promise<void> {
  await Promise.all(slots.map(async ([i, slot]) => {
    try {
      const s = await samples.get(i);
      if (live()) fillThumb(slot, s);
    } catch {
      // no thumbnail: the row still says what it is
    }
  }));
}
