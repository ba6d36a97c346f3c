// The territory backgrounds of one plot as WebGL textures, made once per epoch (a texture belongs to
// the plot's own WebGL context, so each plot of a compare view has its own cache).
import { EpochData } from "./data";

/** Epoch -> texture of one plot's territory background. */
export class TextureCache {
  private cache = new Map<number, any>();

  constructor(private plot: any) {}

  /** The texture of `d`'s territories (null: the method has no inverse map, so no territories). */
  async get(d: EpochData): Promise<any> {
    if (!d.background) return null;
    const hit = this.cache.get(d.epoch);
    if (hit) return hit;
    const tex = await this.plot.createTextureFromUrl(`data:image/png;base64,${d.background}`);
    this.cache.set(d.epoch, tex);
    return tex;
  }

  /** Forget every texture (the results were replaced). */
  clear(): void {
    this.cache.clear();
  }
}
