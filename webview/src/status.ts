// The status line (#status): a neutral note (training progress, what a finished job did) or an error.
// An error shows until the next successful action clears it; the note then shows again.

/** One status line: `error()` wins over `note()` until `clearError()`. */
export class StatusLine {
  private noteText = "";
  private errorText = "";

  constructor(private el: HTMLElement) {}

  /** Show `msg` as an error (red) until a successful action calls `clearError()`. */
  error(msg: string): void {
    this.errorText = msg;
    this.render();
  }

  /** A successful action: drop any error and show the note (if any). */
  clearError(): void {
    if (!this.errorText) return;
    this.errorText = "";
    this.render();
  }

  /** Set the neutral note (empty: none); shown whenever no error is. */
  note(msg: string): void {
    this.noteText = msg;
    this.render();
  }

  /** The note now set (empty: none). */
  get currentNote(): string {
    return this.noteText;
  }

  private render(): void {
    const isError = Boolean(this.errorText);
    this.el.textContent = isError ? this.errorText : this.noteText;
    this.el.classList.toggle("error", isError);
    this.el.classList.toggle("note", !isError && Boolean(this.noteText));
  }
}
