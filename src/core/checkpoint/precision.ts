// pmf.precision: what a reduced-precision variant of a model is and what it costs, as measured when
// it was written (trainer/pmf_trainer/variants.py: `quantize`, `convert-official --dtype int8`).
// A float32 model has no such key. Read leniently: a record this version does not fully
// understand is still shown by what it does say.

export interface PrecisionEvaluation {
  /** One-step class consistency and Frechet distance of the float32 model and of this variant. */
  float32?: { classConsistency?: number; fd?: number };
  variant?: { classConsistency?: number; fd?: number };
  samples?: number;
  classifier?: string;
}

export interface Precision {
  /** e.g. 'int8'. */
  weights: string;
  method?: string;
  /** ||variant - float32|| / ||float32|| of the network's output on random contract inputs. */
  relL2VsFloat32?: number;
  measuredOn?: string;
  source?: string;
  evaluation?: PrecisionEvaluation;
}

const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
const obj = (x: unknown): Record<string, unknown> | undefined =>
  x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined;

function scores(x: unknown): { classConsistency?: number; fd?: number } | undefined {
  const o = obj(x);
  return o && { classConsistency: num(o.class_consistency), fd: num(o.fd_vs_test) };
}

/** The record in pmf.precision's JSON object; undefined when it names no weight precision. */
export function parsePrecision(record: Record<string, unknown>): Precision | undefined {
  const weights = str(record.weights);
  if (!weights) return undefined;
  const ev = obj(record.evaluation);
  const variantScores = ev && scores(ev[weights]);
  return {
    weights,
    method: str(record.method),
    relL2VsFloat32: num(record.rel_l2_vs_float32),
    measuredOn: str(record.measured_on),
    source: str(record.source),
    evaluation: ev && {
      float32: scores(ev.float32),
      variant: variantScores,
      samples: num(obj(ev[weights])?.num_samples),
      classifier: str(ev.classifier),
    },
  };
}

const pct = (x: number | undefined) => (x === undefined ? '?' : `${(100 * x).toFixed(1)} %`);
const fd = (x: number | undefined) => (x === undefined ? '?' : x.toFixed(2));

/** One line for people: "int8 weights: output within 3.5 % (relative L2) of float32 ...; ...". */
export function describePrecision(p: Precision): string {
  const parts = [`${p.weights} weights${p.source ? ` (a variant of ${p.source})` : ''}`];
  if (p.relL2VsFloat32 !== undefined) {
    parts.push(`output ${(100 * p.relL2VsFloat32).toPrecision(2)} % from float32's (relative L2${p.measuredOn ? `, ${p.measuredOn}` : ''})`);
  }
  const e = p.evaluation;
  if (e?.variant) {
    parts.push(`1-NFE class consistency ${pct(e.variant.classConsistency)} (float32 ${pct(e.float32?.classConsistency)}), ` +
      `FD ${fd(e.variant.fd)} (float32 ${fd(e.float32?.fd)})${e.samples ? `, ${e.samples} samples` : ''}`);
  }
  return `${parts.join('; ')}. For previews: report metrics from the float32 model.`;
}
