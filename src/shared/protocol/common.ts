// What every panel protocol shares: the envelope each message crosses in (src/shared/channel.ts),
// binary payloads, and a compile-time check that a zod schema and the TypeScript type it mirrors
// agree. One file per panel protocol sits beside this one; the extension (src/extension) and the
// webviews (webview/) both import them, and they import only src/core.
import { z } from 'zod';

/**
 * One message on the wire. Events and requests carry `body`; a request also `request: true`,
 * and the other side answers it with `re` (the request's seq) and a body, nothing (no answer to
 * give), or `error`. Each side numbers what it sends.
 */
export const Envelope = z.object({
  seq: z.number().int().nonnegative(),
  request: z.literal(true).optional(),
  re: z.number().int().nonnegative().optional(),
  body: z.unknown().optional(),
  error: z.string().optional(),
});
export type Envelope = z.infer<typeof Envelope>;

export const f32 = z.custom<Float32Array>((v) => v instanceof Float32Array, 'expected a Float32Array');
export const u8 = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected a Uint8Array');

/** true when A and B are the same type (not merely assignable either way). */
export type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;

/**
 * Compile-time checks, gathered in each protocol file's exported `TypeChecks` tuple (exported, so
 * that no check counts as unused): Assert<true> compiles, Assert<false>
 * does not. With Equals: a schema's z.infer is exactly the core type. With Extends: a core value
 * always passes the schema (a schema that keeps only part of a type, as the inspector's does).
 */
export type Assert<T extends true> = T;
export type Extends<A, B> = [A] extends [B] ? true : false;
