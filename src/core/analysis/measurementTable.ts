// The Field Visualizer's measurements in one table: their keys, names, units and digits. The core
// types (FrameMeasurement, MeasurementSeries, Measurements in measurements.ts), the protocol's
// zod schema (src/shared/protocol/visualizer.ts), the panel's plots (webview/visualizer/plots.ts)
// and the CLI's table (src/cli/fields.ts) are all made from it, so a measurement is named once.
//
// Each entry is a measurement per frame and field (z, x, u, v); the series of a trajectory hold
// one number per frame for each. SCALARS are the two numbers a series holds once.

/** The kinds of model the measurements are made of. */
export type MeasurementKind = 'image' | 'toy';

/** One measurement per frame and field. */
export interface MeasurementSpec {
  /** Its key in FrameMeasurement, the series and the protocol. */
  readonly key: string;
  /** Its name in running text (the plot card's title starts it with a capital: see title()). */
  readonly label: string;
  /** Its name in a column header or a legend, next to the field's name ('PR x', 'x PR'). */
  readonly short: string;
  /** What the number counts or is measured in (for axis labels and exports; not shown yet). */
  readonly unit: string;
  /** Decimals in a table of numbers (the CLI's). */
  readonly digits: number;
  /** The kinds of model whose series hold it: measured for every kind is always there, otherwise optional. */
  readonly kinds: readonly MeasurementKind[];
  /** The value it is compared with, drawn as a reference line (the plots) and named in the CLI. */
  readonly reference?: { readonly label: string; readonly value: number };
  /** Its plot's y range when it has a fixed one (a share: [0, 1]). */
  readonly range?: readonly [number, number];
  /** What it is (the plot card's help). */
  readonly description: string;
}

export const MEASUREMENTS = [
  {
    key: 'rms', label: 'RMS', short: 'RMS', unit: 'field value', digits: 3, kinds: ['image', 'toy'],
    description: 'Root mean square of each field per frame, averaged over the samples.',
  },
  {
    key: 'participationRatio', label: 'participation ratio', short: 'PR', unit: 'dimensions', digits: 2, kinds: ['image', 'toy'],
    description: 'Effective dimension of p\u00d7p patches (toy models: of the points): the participation ratio of their covariance, '
      + '(sum of eigenvalues)\u00b2 / sum of squared eigenvalues.',
  },
  {
    key: 'components95', label: 'components for 95 % of the variance', short: '95%', unit: 'components', digits: 0, kinds: ['image', 'toy'],
    description: 'Number of principal components holding 95 % of the variance of p\u00d7p patches (toy models: of the points).',
  },
  {
    key: 'highFrequencyShare', label: 'high-frequency share', short: 'HF', unit: 'share of spectral energy', digits: 3, kinds: ['image', 'toy'],
    reference: { label: 'white noise', value: 0.8 }, range: [0, 1],
    // (a toy point has no spatial frequencies: its share is 0 throughout)
    description: 'Share of spectral energy above half the Nyquist radius. White noise is about 0.8, natural images much less.',
  },
  {
    key: 'offPlaneNorm', label: 'off-plane norm', short: 'off', unit: 'field value', digits: 3, kinds: ['toy'],
    description: 'Mean norm of the part of each field outside the 2D data plane (toy models).',
  },
] as const satisfies readonly MeasurementSpec[];

/** The numbers a series of measurements holds once (not per frame). */
export const SCALARS = [
  {
    key: 'patchDim', label: 'patch dimension', short: 'patch dim', unit: 'dimensions', integer: true,
    description: 'Dimension of a patch (p\u00b7p\u00b7C; toy models: the points\u2019 dimension, at most the points used minus one): '
      + 'the largest possible participation ratio or number of components.',
  },
  {
    key: 'ms', label: 'measuring time', short: 'ms', unit: 'ms', integer: false,
    description: 'Time taken to measure (not part of a series: the Measurements sent to the panel carry it).',
  },
] as const;

type Spec = (typeof MEASUREMENTS)[number];

/** The key of a measurement per frame and field. */
export type MeasurementKey = Spec['key'];

/** The keys every series holds (measured for every kind of model), and those only some hold. */
export type AlwaysMeasured = Always<Spec>;
export type SometimesMeasured = Exclude<MeasurementKey, AlwaysMeasured>;

/** A value per measurement key: present for the always-measured keys, optional for the others. */
export type PerMeasurement<T> = Flat<{ [K in AlwaysMeasured]: T } & { [K in SometimesMeasured]?: T }>;

/** S's key when S is measured for every kind of model (distributes over the union of entries). */
type Always<S extends Spec> = S extends Spec ? (MeasurementKind extends S['kinds'][number] ? S['key'] : never) : never;

/** One object type instead of an intersection (so that type equality checks see through it). */
export type Flat<T> = { [K in keyof T]: T[K] };

/** The keys of MEASUREMENTS in table order. */
export const MEASUREMENT_KEYS: readonly MeasurementKey[] = MEASUREMENTS.map((m) => m.key);

/** The table's entry for a key. */
export function measurement<K extends MeasurementKey>(key: K): Extract<Spec, { key: K }> {
  return MEASUREMENTS.find((m) => m.key === key) as Extract<Spec, { key: K }>;
}

/** The SCALARS entry for a key ('patchDim' or 'ms'). */
export function scalar<K extends (typeof SCALARS)[number]['key']>(key: K): Extract<(typeof SCALARS)[number], { key: K }> {
  return SCALARS.find((s) => s.key === key) as Extract<(typeof SCALARS)[number], { key: K }>;
}

/** Whether a model of this kind has the measurement. */
export function measuredFor(spec: MeasurementSpec, kind: MeasurementKind): boolean {
  return spec.kinds.includes(kind);
}

/** Whether every kind of model has it (its key is never missing from a series). */
export function alwaysMeasured(spec: MeasurementSpec): boolean {
  return measuredFor(spec, 'image') && measuredFor(spec, 'toy');
}

/** A label as a title: its first letter a capital ('high-frequency share' -> 'High-frequency share'). */
export function title(label: string): string {
  return label.charAt(0).toUpperCase() + label.slice(1);
}
