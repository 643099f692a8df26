// A team of threads running one computation together (SPMD): every member runs the same code on
// the same (shared) buffers, does the parts whose index is its rank modulo the team's size, and
// meets the others at barriers; the leader (rank 0) does the serial steps between. The parts are
// fixed by the problem, never by the team: a reduction sums its parts' partial results in part
// order, so one thread (SOLO, which runs every part itself) and any number of threads give the
// same bits. node/parallelFrechet.ts makes a team of worker threads; core code runs SOLO.

export interface Team {
  /** 0 for the leader. */
  readonly rank: number;
  readonly size: number;
  /** Returns when every member has reached it (memory written before it is visible to all after it). */
  barrier(): void;
}

/** One member: the parts run in order, the barriers cost nothing. */
export const SOLO: Team = { rank: 0, size: 1, barrier: () => {} };

/** Parts into which the reductions of the team computations are split (and summed, in this order). */
export const TEAM_PARTS = 4;

/** Calls fn for each of `parts` parts that this member runs (part p runs on rank p mod size). */
export function forMyParts(team: Team, parts: number, fn: (part: number) => void): void {
  for (let p = team.rank; p < parts; p += team.size) fn(p);
}

/** Rows from..to-1 cut into `parts` contiguous runs of (nearly) equal length: run p is [at(p), at(p + 1)). */
export function evenRuns(from: number, to: number, parts: number): (p: number) => number {
  return (p) => from + Math.floor(((to - from) * p) / parts);
}
