/**
 * What the cyclical schedules (OneCycleLR, CyclicLR) share: the momentum they cycle, SGD's
 * `momentum` or β1 of Adam's `betas`, as PyTorch's `cycle_momentum` does.
 *
 * @module
 */

/** A parameter group as a cyclical schedule sees it: its rate, and its momentum or betas. */
export interface CycledGroup {
  /** Learning rate. */
  lr: number;
  /** SGD's momentum. */
  momentum?: number;
  /** Adam's betas: β1 is the momentum. */
  betas?: [number, number];
}

/** Throws unless every group has a momentum or betas to cycle. */
export function requireMomentum(what: string, groups: readonly CycledGroup[]): void {
  groups.forEach((g, i) => {
    if (g.momentum === undefined && g.betas === undefined) {
      throw new TypeError(
        `${what}: group ${i} has no momentum or betas to cycle (set cycleMomentum: false)`,
      );
    }
  });
}

/** Sets a group's momentum: β1 of its betas when it has them, else its `momentum`. */
export function setMomentum(group: CycledGroup, momentum: number): void {
  if (group.betas !== undefined) group.betas = [momentum, group.betas[1]];
  else group.momentum = momentum;
}

/** One value for every group, or one a group, each finite and ≥ 0. */
export function perGroup(
  what: string,
  value: number | readonly number[],
  groups: number,
): number[] {
  const list = typeof value === "number" ? Array(groups).fill(value) : [...value];
  if (list.length !== groups) {
    throw new RangeError(
      `${what}: expected one value or ${groups} (one a group), got ${list.length}`,
    );
  }
  for (const v of list) {
    if (!Number.isFinite(v) || v < 0) {
      throw new RangeError(`${what} must be finite numbers ≥ 0, got ${v}`);
    }
  }
  return list;
}
