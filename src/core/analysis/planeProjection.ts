// Toy models: samples live in D dimensions, the data on a plane spanned by the columns of a
// column-orthonormal D x 2 embedding P. Projecting a field onto that plane shows it in the
// data's own 2D coordinates; the norm of the rest says how far it leaves the plane.

/** Points in plane coordinates and their distances from the plane. */
export interface PlaneProjection {
  /** [points, 2]: P^T p */
  plane: Float32Array;
  /** [points]: |p - P P^T p| */
  offPlane: Float32Array;
}

/**
 * Projects n points of dimension D (points: n x D, back to back) onto the plane spanned by the
 * columns of P (D x 2, column-orthonormal; checked to 1e-3). Computed in float64.
 */
export function projectToPlane(points: Float32Array, P: readonly (readonly number[])[]): PlaneProjection {
  const D = P.length;
  if (D < 2 || P.some((row) => row.length !== 2)) throw new RangeError(`P must be a D x 2 matrix with D >= 2`);
  const p0 = Float64Array.from(P, (row) => row[0]);
  const p1 = Float64Array.from(P, (row) => row[1]);
  const dot = (a: Float64Array, b: Float64Array): number => a.reduce((s, ai, i) => s + ai * b[i], 0);
  if (Math.abs(dot(p0, p0) - 1) > 1e-3 || Math.abs(dot(p1, p1) - 1) > 1e-3 || Math.abs(dot(p0, p1)) > 1e-3) {
    throw new RangeError('P must have orthonormal columns');
  }
  if (points.length % D !== 0) throw new RangeError(`points hold ${points.length} values, not a multiple of D = ${D}`);
  const n = points.length / D;
  const plane = new Float32Array(2 * n);
  const offPlane = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const base = i * D;
    let a0 = 0;
    let a1 = 0;
    for (let k = 0; k < D; k++) {
      a0 += p0[k] * points[base + k];
      a1 += p1[k] * points[base + k];
    }
    let off = 0;
    for (let k = 0; k < D; k++) {
      const r = points[base + k] - p0[k] * a0 - p1[k] * a1;
      off += r * r;
    }
    plane[2 * i] = a0;
    plane[2 * i + 1] = a1;
    offPlane[i] = Math.sqrt(off);
  }
  return { plane, offPlane };
}
