// Text from a checkpoint (tensor names, metadata, class names) on its way to a terminal. A name
// may hold escape sequences that move the cursor and erase lines (a DANGER line could vanish from
// the screen) or bidirectional overrides that show text in another order. Every such character is
// written as a visible \uXXXX escape, which also reads back as the same character in JSON, so
// escaped JSON output still parses to the original strings.

/** C0 controls but tab and newline, DEL, C1 controls, and the invisible format characters that reorder or hide text (control characters in a regex on purpose). */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** `s` with every unsafe character as \uXXXX. */
export function escapeControl(s: string): string {
  return s.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
