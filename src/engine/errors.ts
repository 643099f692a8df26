// A failure the engine reports to its client with a code and a user-facing message.
import type { EngineErrorCode } from './protocol';

export class EngineFailure extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EngineFailure';
  }
}
