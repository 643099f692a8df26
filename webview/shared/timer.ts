// A timer that runs its latest callback once, after the last schedule() (debouncing).
export class Debounce {
  private handle: ReturnType<typeof setTimeout> | undefined;

  schedule(ms: number, fn: () => void): void {
    clearTimeout(this.handle);
    this.handle = setTimeout(fn, ms);
  }

  cancel(): void {
    clearTimeout(this.handle);
    this.handle = undefined;
  }
}
