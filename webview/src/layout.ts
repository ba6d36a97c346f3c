// The page's layout, as scripts see it: each plot follows the size of its pane's plot area (a
// ResizeObserver on that box, not on the canvas: regl-scatterplot fixes the canvas's CSS size in px from the
// width/height it is given, so an observed canvas never changes again), and the header's "panels" button
// hides or shows the side column. The boxes themselves reflow in CSS (main.css): nothing but the hover
// tooltip is drawn over a plot.

/** The size `box` offers a plot now, in CSS px ("auto" where it has none yet, e.g. a hidden webview:
 * regl-scatterplot then stretches the canvas until the box has a size). */
export function boxSize(box: HTMLElement): { width: number | "auto"; height: number | "auto" } {
  return { width: box.clientWidth > 0 ? box.clientWidth : "auto", height: box.clientHeight > 0 ? box.clientHeight : "auto" };
}

/** Keep `plot` (a regl-scatterplot instance) the size of `box`, the element its canvas is drawn in: on
 * every change of the box's size (window resize, the side column hidden or stacked, a VS Code sidebar
 * hidden) set the plot's width and height (regl-scatterplot's README, "Resizing the scatterplot"), which
 * resizes the canvas, its drawing buffer and the camera's aspect. */
export function followBox(plot: any, box: HTMLElement): void {
  new ResizeObserver(() => {
    const { clientWidth: width, clientHeight: height } = box;
    if (width > 0 && height > 0 && (width !== plot.get("width") || height !== plot.get("height"))) plot.set({ width, height });
  }).observe(box);
}

/** Wire the header's `button` to hide and show the side column (the plots take its room). */
export function wireSideToggle(button: HTMLButtonElement): void {
  button.onclick = () => {
    const hidden = document.body.classList.toggle("side-hidden");
    button.setAttribute("aria-pressed", String(!hidden));
    button.textContent = hidden ? "panels ⇤" : "panels ⇥";
    button.title = `${hidden ? "show" : "hide"} the side panels (legend, selection, training events, data map, suspicious samples)`;
  };
}
