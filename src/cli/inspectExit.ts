// How pmf inspect ends when a file cannot be inspected: the message (and, for a file a Python
// load would run code from, its DANGER findings) and the exit code of docs/errors.md.
import { InspectError } from '../core/checkpoint/inspect';

/** Exit code of an inspection that found code a Python load would run (or could not rule it out). */
export const EXIT_DANGER = 5;
/** Exit code of a file that is no readable checkpoint. */
export const EXIT_CHECKPOINT = 3;

/** The exit code for an InspectError: 5 when loading it in Python could run code, else 3. */
export function inspectExitCode(e: InspectError): number {
  return e.code === 'dangerous' || e.code === 'ambiguous' ? EXIT_DANGER : EXIT_CHECKPOINT;
}

/** Runs an inspect command; an InspectError becomes its message, its findings and its exit code. */
export async function inspectFailure(run: () => Promise<number>, json: boolean): Promise<number> {
  try {
    return await run();
  } catch (e) {
    if (!(e instanceof InspectError)) throw e;
    if (json) process.stdout.write(JSON.stringify({ error: { code: e.code, message: e.message }, findings: e.findings }, null, 2) + '\n');
    for (const f of e.findings) process.stderr.write(`${f.severity.toUpperCase()}: ${f.message}\n`);
    process.stderr.write(`pmf: ${e.message}\n`);
    return inspectExitCode(e);
  }
}
