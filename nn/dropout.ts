/**
 * The dropout layer.
 *
 * @module
 */

import { checkOptions, optionNames, requireNumber } from "../tensor/options.ts";
import { dropout } from "../tensor/ops_cnn.ts";
import type { Generator } from "../tensor/random.ts";
import type { Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** Options of {@link Dropout}. */
export interface DropoutConfig {
  /** Probability of zeroing an element (default 0.5). */
  p?: number;
  /** Random stream of the masks (default: the global generator at each call). */
  generator?: Generator;
}

const DROPOUT_OPTIONS = optionNames<DropoutConfig>({ p: true, generator: true });

/**
 * In training mode, zeroes each element with probability `p` and scales the survivors by
 * `1/(1−p)`; in evaluation mode, the identity. This is the paper's dropout with its test-time
 * "multiply by 0.5" moved to training time, so evaluation needs no rescaling.
 *
 * @example
 * ```ts
 * import { defaultDevice, ones } from "../mod.ts";
 * import { Dropout } from "./dropout.ts";
 * import { Generator } from "../tensor/random.ts";
 * await defaultDevice();
 * const drop = new Dropout({ p: 0.5, generator: new Generator(1) });
 * console.log(await drop.forward(ones([4])).toArray()); // each 0 or 2, e.g. [2, 0, 0, 2]
 * console.log(await drop.eval().forward(ones([2])).toArray()); // [1, 1]
 * ```
 */
export class Dropout extends Module {
  /** Drop probability. */
  readonly p: number;
  /** The mask stream, when one was given. */
  readonly generator: Generator | undefined;

  /** Creates the layer. */
  constructor(config: DropoutConfig = {}) {
    super();
    checkOptions(this.constructor.name, config, DROPOUT_OPTIONS);
    this.p = config.p ?? 0.5;
    requireNumber(this.constructor.name, "p", this.p);
    if (!(typeof this.p === "number" && this.p >= 0 && this.p <= 1)) {
      // Named by the subclass too (Dropout2d, AlphaDropout ...).
      throw new RangeError(`${this.constructor.name}: p = ${this.p} is not in [0, 1]`);
    }
    this.generator = config.generator;
  }

  /** Drops (training) or passes `x` through (evaluation). */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return dropout(x, this.p, {
      training: this.training,
      generator: this.generator,
    }) as unknown as Tensor<S, "f32">;
  }

  /** The output shape: the input's. */
  outputShape(input: readonly number[]): number[] {
    return [...input];
  }
}
