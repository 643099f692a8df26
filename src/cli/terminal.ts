// Everything the pmf command writes passes through escapeControl (src/core/terminalText.ts), so no
// string from a file can drive the terminal. A carriage return that starts a write is kept: it is
// how the command's own progress lines redraw themselves; one inside a write (from data) is escaped.
import { escapeControl } from '../core/terminalText';

export function installEscapingWriters(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (typeof chunk !== 'string') return write(chunk, ...rest);
      const lead = chunk.startsWith('\r') ? '\r' : '';
      return write(lead + escapeControl(chunk.slice(lead.length)), ...rest);
    });
  }
}
