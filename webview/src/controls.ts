// The header's view controls and the keys: speed, colour mode, split, misclassified, prediction changed,
// the selection tool (of every plot), the search box; ←/→/space; and the VS Code host's palette commands
// (Play/Pause, Next/Previous Epoch, Export Frame). Each change is saved at once and redraws.
import { SelectTool, ViewState } from "./state";

/** What the controls work with. */
export interface ControlsDeps {
  state: ViewState;
  save(): void;
  /** redraw the epoch on screen (colour or filter changed) */
  redraw(): void;
  /** step `delta` epochs through the shared list */
  step(delta: number): void;
  /** start or stop playing (no argument: toggle) */
  play(on?: boolean): void;
  /** the speed changed: a playing view picks it up */
  speedChanged(): void;
  /** run the search box's query */
  search(text: string): void;
  /** the plots a shift+drag selects on (main, compare, data map) */
  plots(): any[];
  /** the host asked for the frame on screen as a PNG */
  exportFrame(): void;
}

/** The frame `plot` shows now, as a PNG data URL (Export Frame). */
export async function frameDataUrl(plot: any): Promise<string> {
  const img = await plot.export({ scale: 1 });
  const c = document.createElement("canvas");
  c.width = img.width;
  c.height = img.height;
  c.getContext("2d")!.putImageData(img, 0, 0);
  return c.toDataURL("image/png");
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Wire the header's controls to the view state. */
export function wireControls(deps: ControlsDeps): void {
  const { state, save } = deps;
  $("play").onclick = () => deps.play();
  $("prev").onclick = () => deps.step(-1);
  $("next").onclick = () => deps.step(1);
  const speedSel = $<HTMLSelectElement>("speed");
  speedSel.value = String(state.speed);
  speedSel.onchange = () => {
    state.speed = Number(speedSel.value);
    save();
    deps.speedChanged();
  };
  for (const key of ["colorBy", "split"] as const) {
    const sel = $<HTMLSelectElement>(key);
    sel.value = state[key];
    sel.onchange = () => {
      (state as any)[key] = sel.value; // the options are the ColorBy / Split values
      save();
      deps.redraw();
    };
  }
  for (const [id, key] of [["misclassified", "misclassifiedOnly"], ["changed", "changedOnly"]] as const) {
    const box = $<HTMLInputElement>(id);
    box.checked = state[key];
    box.onchange = () => {
      state[key] = box.checked;
      save();
      deps.redraw();
    };
  }
  $<HTMLFormElement>("searchForm").onsubmit = (ev) => {
    ev.preventDefault();
    deps.search($<HTMLInputElement>("search").value);
  };
  const toolSel = $<HTMLSelectElement>("selectTool");
  const useTool = (tool: SelectTool) => {
    for (const p of deps.plots()) p.set({ lassoType: tool === "box" ? "rectangle" : "freeform" });
  };
  toolSel.value = state.selectTool;
  useTool(state.selectTool);
  toolSel.onchange = () => {
    state.selectTool = toolSel.value as SelectTool;
    save();
    useTool(state.selectTool);
  };
  window.addEventListener("keydown", (ev) => {
    if ((ev.target as HTMLElement).tagName === "INPUT") return;
    if (ev.key === "ArrowRight") deps.step(1);
    if (ev.key === "ArrowLeft") deps.step(-1);
    if (ev.key === " ") deps.play();
  });
  window.addEventListener("message", (ev) => {
    const m = ev.data;
    if (!m || m.type !== "command") return;
    if (m.command === "playPause") deps.play();
    if (m.command === "next") deps.step(1);
    if (m.command === "previous") deps.step(-1);
    if (m.command === "export") deps.exportFrame();
  });
}
