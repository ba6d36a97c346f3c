// Two workarounds for regl-scatterplot (1.16) as this page uses it.
//
// 1. Its lasso draws the long-press indicator with keyframe rules that it inserts into a <style> element
//    of its own (`el.sheet.insertRule`). The page's Content Security Policy (VS Code and browser: no
//    'unsafe-inline' styles) blocks inline <style> elements, so their `sheet` is null: every mouse press
//    on a plot threw, and a long press never became a lasso. Such an element gets a constructed
//    stylesheet instead (CSSOM, which the policy allows), adopted by the document so the animation shows.
// 2. A lasso that ends within a few pixels of where it started (a closed loop) also counts as a click,
//    which replaced the lassoed selection by the one point under the pointer. That click is dropped.

/** Give every <style> element the policy blocked a working, adopted stylesheet (call once, before any plot). */
export function allowBlockedStyleElements(): void {
  const desc = Object.getOwnPropertyDescriptor(HTMLStyleElement.prototype, "sheet");
  if (!desc?.get || typeof CSSStyleSheet !== "function" || !("adoptedStyleSheets" in document)) return;
  const original = desc.get;
  const stand = new WeakMap<HTMLStyleElement, CSSStyleSheet>();
  Object.defineProperty(HTMLStyleElement.prototype, "sheet", {
    configurable: true,
    enumerable: desc.enumerable,
    get(this: HTMLStyleElement) {
      const real = original.call(this) as CSSStyleSheet | null;
      if (real || !this.isConnected) return real;
      let s = stand.get(this);
      if (!s) {
        s = new CSSStyleSheet();
        stand.set(this, s);
        document.adoptedStyleSheets = [...document.adoptedStyleSheets, s];
      }
      return s;
    },
  });
}

/** Drop the click that follows a lasso of `plot` (drawn on `canvas`), so the lassoed selection stays.
 * (regl-scatterplot publishes its events on a timer: `lassoStart` arrives while the lasso is drawn,
 * `lassoEnd` only after the click, which the browser dispatches right after the mouse-up.) */
export function keepLassoSelection(plot: any, canvas: HTMLCanvasElement): void {
  let lassoing = false;
  plot.subscribe("lassoStart", () => {
    lassoing = true;
  });
  plot.subscribe("lassoEnd", () => {
    lassoing = false; // also when the mouse went up outside the canvas: no click then
  });
  // capture phase on the parent: runs before the canvas's own click listener
  canvas.parentElement?.addEventListener("click", (ev) => {
    if (ev.target !== canvas || !lassoing) return;
    lassoing = false;
    ev.stopPropagation();
  }, true);
}
