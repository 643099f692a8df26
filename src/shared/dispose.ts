// Disposables for both sides of a webview (the extension host and the webview page): what a
// panel registers (listeners, channels, jobs) it gives back in one call. vscode.Disposable has
// the same shape, so the host passes its own disposables in here too.

export interface Disposable {
  dispose(): void;
}

export function toDisposable(fn: () => void): Disposable {
  let done = false;
  return { dispose: () => { if (!done) { done = true; fn(); } } };
}

/** Disposes everything added to it, newest first, once; what is added after that is disposed at once. */
export class DisposableStore implements Disposable {
  private readonly items: Disposable[] = [];
  private disposed = false;

  get isDisposed(): boolean {
    return this.disposed;
  }

  add<T extends Disposable>(d: T): T {
    if (this.disposed) d.dispose();
    else this.items.push(d);
    return d;
  }

  addAll(...ds: Disposable[]): void {
    for (const d of ds) this.add(d);
  }

  dispose(): void {
    this.disposed = true;
    while (this.items.length) this.items.pop()!.dispose();
  }
}
