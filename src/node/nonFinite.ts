// NaN and infinite values in what a model returned: counted where the values come back from the
// engine, so that none becomes a silent black image.

export interface NonFiniteCount {
  nan: number;
  inf: number;
}

export function countNonFinite(values: Float32Array): NonFiniteCount {
  let nan = 0;
  let inf = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== v) nan++;
    else if (v === Infinity || v === -Infinity) inf++;
  }
  return { nan, inf };
}

/** "1234 NaN and 5 infinite values" (counts that are 0 left out). */
export function describeCount({ nan, inf }: NonFiniteCount): string {
  const parts = [nan ? `${nan} NaN` : '', inf ? `${inf} infinite` : ''].filter(Boolean).join(' and ');
  return `${parts} value${nan + inf === 1 ? '' : 's'}`;
}

/**
 * "12 NaN values of 15680, from t = 0.5 on" when the fields (frames of equal size, in time order;
 * toys: their data-plane view) hold NaN or infinite values; undefined when they are all finite.
 */
export function nonFiniteFields(fields: Float32Array, times: readonly number[]): string | undefined {
  const count = countNonFinite(fields);
  if (count.nan + count.inf === 0) return undefined;
  const per = fields.length / times.length;
  let first = 0;
  while (first < times.length - 1 && fields.subarray(first * per, (first + 1) * per).every(Number.isFinite)) first++;
  return `${describeCount(count)} of ${fields.length}, from t = ${times[first]} on`;
}
