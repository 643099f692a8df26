// The zoom levels of the field panels: integers from 1 to 16 (square pixels), and 1/2 and 1/4,
// which fit the panels of a 256 x 256 model.
export const ZOOM_LEVELS = [0.25, 0.5, 1, 2, 3, 4, 5, 6, 8, 10, 12, 16];

export function nextZoom(zoom: number, dir: 1 | -1): number {
  if (dir > 0) return ZOOM_LEVELS.find((z) => z > zoom) ?? 16;
  return [...ZOOM_LEVELS].reverse().find((z) => z < zoom) ?? ZOOM_LEVELS[0];
}

/** A zoom the grid can show: an integer from 1 to 16, or 1/2 or 1/4 (anything else is rounded to one). */
export function validZoom(zoom: number): number {
  if (!Number.isFinite(zoom) || zoom <= 0) return 1;
  if (zoom >= 0.75) return Math.min(16, Math.max(1, Math.round(zoom)));
  return zoom >= 0.375 ? 0.5 : 0.25;
}
