// The one cancellation error: a job stopped because its AbortSignal fired (Cancel in a
// notification, a panel's newer request, Ctrl-C). Recognised by type or code, never by its text.

export class CancelledError extends Error {
  /**
   * `name` is 'CancelledError', or 'AbortError' (the DOM's name for an aborted operation) for the
   * inspector's jobs, whose errors cross a worker boundary as { name, message }.
   */
  constructor(message = 'Cancelled', name: 'CancelledError' | 'AbortError' = 'CancelledError') {
    super(message);
    this.name = name;
  }
}

/**
 * Whether `e` reports a cancellation: a CancelledError, an error of that name or the DOM's
 * AbortError (from a worker, or an AbortSignal's reason), or an engine error of code 'cancelled'.
 */
export function isCancelled(e: unknown): boolean {
  if (e instanceof CancelledError) return true;
  const { name, code } = (e ?? {}) as { name?: unknown; code?: unknown };
  return name === 'CancelledError' || name === 'AbortError' || code === 'cancelled';
}
