/**
 * A small perceptron on 8×8 RGB images for the optimiser and scheduler tests: flatten, then one
 * linear layer, or two with a ReLU between them.
 */

import type { Tensor } from "../mod.ts";
import { ReLU } from "../nn/activation.ts";
import { Flatten } from "../nn/flatten.ts";
import { Linear } from "../nn/linear.ts";
import { Module } from "../nn/module.ts";
import { Sequential } from "../nn/sequential.ts";
import { Generator } from "../tensor/random.ts";

/** Flatten → linear (→ ReLU → linear with `hidden` units), initialised from `seed`. */
export class Mlp extends Module {
  readonly net: Sequential;
  constructor(seed: number, classes: number, hidden?: number) {
    super();
    const generator = new Generator(seed);
    const inFeatures = 3 * 8 * 8;
    const layers = hidden
      ? [
        new Linear({ inFeatures, outFeatures: hidden, generator }),
        new ReLU(),
        new Linear({ inFeatures: hidden, outFeatures: classes, generator }),
      ]
      : [new Linear({ inFeatures, outFeatures: classes, generator })];
    this.net = this.registerModule("net", new Sequential(new Flatten(), ...layers));
  }
  forward(x: Tensor): Tensor {
    return this.net.forward(x);
  }
}
