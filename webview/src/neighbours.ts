// The selected sample's neighbour lines (`ttvis/neighbors`): to its k nearest neighbours in
// representation space (what the model sees), in 2-D (what the picture shows), or both, in two colours;
// the overlap of the two sets says how faithfully the picture keeps this sample's neighbourhood.
import { EpochData } from "./data";
import { NeighbourMode } from "./state";

/** A `ttvis/neighbors` answer. */
export interface Neighbours {
  high: number[];
  low: number[];
  overlap: number;
}

/** Line colours (RGBA, 0..1) of representation-space (high) and 2-D (low) neighbours. */
export const NEIGHBOUR_COLORS = { high: [0.95, 0.5, 0.05, 0.9], low: [0.12, 0.47, 0.71, 0.9] };
/** The same colours as CSS, for the detail pane's key. */
export const NEIGHBOUR_CSS = { high: "#f2800d", low: "#1f77b4" };
/** The neighbour-mode picker's entries. */
export const NEIGHBOUR_MODES: [NeighbourMode, string][] = [["high", "representation space"], ["low", "2-D"], ["both", "both"]];

/** Sample `i`'s position at epoch `d` in the plot's normalised device coordinates. */
export function ndcOf(d: EpochData, i: number): [number, number] {
  return ndc(d, [d.xy[2 * i], d.xy[2 * i + 1]]);
}

/** A 2-D position `p` (the projection's units) in normalised device coordinates over `d`'s scale. */
export function ndc(d: EpochData, p: number[]): [number, number] {
  const [x0, y0, x1, y1] = d.scale;
  return [((p[0] - x0) / (x1 - x0)) * 2 - 1, ((p[1] - y0) / (y1 - y0)) * 2 - 1];
}

/** How many samples are neighbours of the selected one in both spaces. */
export function overlapCount(nb: Neighbours): number {
  const low = new Set(nb.low);
  return nb.high.filter((j) => low.has(j)).length;
}

/** The annotation lines (regl-scatterplot `drawAnnotations`) from sample `i` to its neighbours that
 * `mode` asks for, and how many of each kind were drawn. */
export function neighbourLines(d: EpochData, i: number, nb: Neighbours, mode: NeighbourMode): { lines: any[]; high: number; low: number } {
  const here = ndcOf(d, i);
  const lines: any[] = [];
  const add = (js: number[], color: number[]) => {
    for (const j of js) lines.push({ vertices: [here, ndcOf(d, j)], lineColor: color, lineWidth: 1 });
    return js.length;
  };
  const low = mode === "high" ? 0 : add(nb.low, NEIGHBOUR_COLORS.low);
  const high = mode === "low" ? 0 : add(nb.high, NEIGHBOUR_COLORS.high);
  return { lines, high, low };
}
