// Long lists in messages (an ImageNet model has 1000 classes): the first few, then how many more.

/** The first `max` items joined by commas, then `, ... (N more<note>)` when there are more. */
export function listHead(items: readonly string[], max: number, note = ''): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')}, ... (${items.length - max} more${note})`;
}
