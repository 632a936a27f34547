/**
 * A few SGD steps of a module, for the layer tests that check a network learns through a new
 * layer.
 *
 * @module
 */

import type { Module } from "../nn/module.ts";
import { type Tensor, tidy } from "../mod.ts";
import { SGD } from "../train/mod.ts";

/**
 * The losses of `steps` SGD steps (momentum 0.9 unless given) on `net`'s parameters, each the
 * scalar `loss(net)` (run under `tidy`).
 */
export async function fit(
  net: Module,
  loss: (net: Module) => Tensor,
  options: { steps: number; lr: number; momentum?: number },
): Promise<number[]> {
  const opt = new SGD({
    params: net.parameters(),
    lr: options.lr,
    momentum: options.momentum ?? 0.9,
  });
  const losses: number[] = [];
  for (let step = 0; step < options.steps; step++) {
    const value = tidy(() => loss(net));
    await value.backward();
    opt.step();
    opt.zeroGrad();
    losses.push(await value.item());
    value.dispose();
  }
  return losses;
}
