// Seeds as people write them: "0, 1, 2" or ranges "0-3" (inclusive), and back.

/** "0, 1, 2" or "0-3" (inclusive ranges) -> seeds; throws a readable message. At most `max` seeds. */
export function parseSeeds(text: string, max: number): number[] {
  const out: number[] = [];
  for (const part of text.split(/[,\s]+/).filter(Boolean)) {
    const m = /^(\d+)(?:\s*(?:-|\.\.)\s*(\d+))?$/.exec(part);
    if (!m) throw new Error(`"${part}" is not a seed (use whole numbers: 0, 1, 2 or a range 0-3)`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`the range ${part} runs backwards`);
    for (let s = a; s <= b; s++) {
      out.push(s);
      if (out.length > max) throw new Error(`at most ${max} samples`);
    }
  }
  for (const s of out) if (s > 0xffffffff) throw new Error(`seed ${s} is above 2^32 - 1`);
  if (!out.length) throw new Error('at least one seed');
  return out;
}

/** Seeds back to text: a range when they are consecutive (more than two), else a list. */
export function formatSeeds(seeds: number[]): string {
  const n = seeds.length;
  if (n > 2 && seeds.every((s, i) => s === seeds[0] + i)) return `${seeds[0]}-${seeds[n - 1]}`;
  return seeds.join(', ');
}
