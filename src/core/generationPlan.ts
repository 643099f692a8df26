// Which samples a generation makes: classes from a user's spec, one seed per sample.
import type { PmfModelInfo } from './checkpoint/types';
import { listHead } from './listHead';

export interface SamplePlan {
  seeds: number[];
  /** One label per sample (num_classes = unconditional); empty for unconditional models. */
  labels: number[];
}

/**
 * Parses a class spec: comma-separated class names (case-insensitive) or indices, 'all', or
 * 'none' / 'unconditional' for the null class. Unconditional models take no spec.
 */
export function parseClasses(spec: string | undefined, info: PmfModelInfo): number[] {
  if (info.numClasses === 0) {
    if (spec && spec.trim() !== '' && spec.trim() !== 'none') {
      throw new RangeError(`${info.name || 'This model'} is unconditional: it takes no classes.`);
    }
    return [];
  }
  if (!spec || spec.trim() === '' || spec.trim() === 'all') return Array.from({ length: info.numClasses }, (_, i) => i);
  const lower = info.classNames.map((n) => n.toLowerCase());
  return spec.split(',').map((raw) => {
    const s = raw.trim();
    if (s === 'none' || s === 'unconditional') return info.numClasses;
    if (/^\d+$/.test(s)) {
      const i = Number(s);
      if (i <= info.numClasses) return i;
    }
    const i = lower.indexOf(s.toLowerCase());
    if (i >= 0) return i;
    const listed = listHead(info.classNames.map((n, k) => `${k} ${n}`), 20, ': see pmf info');
    throw new RangeError(`Unknown class '${s}'. Classes: ${listed}; or 'none' for unconditional.`);
  });
}

/** Sample i gets seed (seed + i) and class classes[i mod k]. */
export function planSamples(n: number, seed: number, classes: readonly number[]): SamplePlan {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`the number of samples must be a positive integer, got ${n}`);
  if (!Number.isInteger(seed) || seed < 0 || seed + n - 1 > 0xffffffff) {
    throw new RangeError(`seeds must be integers in [0, 4294967295]; got ${seed} to ${seed + n - 1}`);
  }
  return {
    seeds: Array.from({ length: n }, (_, i) => seed + i),
    labels: classes.length ? Array.from({ length: n }, (_, i) => classes[i % classes.length]) : [],
  };
}

export function className(info: PmfModelInfo, label: number | undefined): string {
  if (label === undefined || info.numClasses === 0) return 'unconditional';
  return label === info.numClasses ? 'unconditional' : info.classNames[label] ?? String(label);
}

/** A file-name-safe slug of a class name. */
export function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'x';
}
