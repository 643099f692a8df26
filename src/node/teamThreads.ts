// A team (core/team.ts) of this thread and worker threads over shared memory: its barrier is a
// counter and a generation in an Int32Array of a SharedArrayBuffer (Atomics: every write before a
// barrier is visible to every member after it). A member waits by spinning for a few tens of
// microseconds (the usual wait: the leader's O(n) step between two O(n²) passes), then sleeps on
// the generation (Atomics.wait) until the last member arrives. A member that fails sets the
// failed flag; the others' barriers then throw instead of waiting for ever.
import type { Team } from '../core/team';

/** Int32 values a team's barrier takes. */
export const BARRIER_INTS = 4;
const COUNT = 0;
const GENERATION = 1;
const FAILED = 2;
const SPINS = 20000;

export class TeamFailed extends Error {
  constructor() {
    super('another thread of the team failed');
  }
}

export function sharedTeam(state: Int32Array, rank: number, size: number): Team {
  return {
    rank,
    size,
    barrier() {
      const generation = Atomics.load(state, GENERATION);
      if (Atomics.add(state, COUNT, 1) === size - 1) {
        Atomics.store(state, COUNT, 0);
        Atomics.add(state, GENERATION, 1);
        Atomics.notify(state, GENERATION);
        return;
      }
      for (let spin = 0; Atomics.load(state, GENERATION) === generation; spin++) {
        if (Atomics.load(state, FAILED) !== 0) throw new TeamFailed();
        if (spin > SPINS) Atomics.wait(state, GENERATION, generation, 50);
      }
    },
  };
}

/** Marks the team failed and wakes its members (their barriers throw TeamFailed). */
export function failTeam(state: Int32Array): void {
  Atomics.store(state, FAILED, 1);
  Atomics.add(state, GENERATION, 1);
  Atomics.notify(state, GENERATION);
}
