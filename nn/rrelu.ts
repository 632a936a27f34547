/**
 * The randomized leaky rectifier, `nn.RReLU` (Xu et al., 2015).
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import { tidy } from "../tensor/memory.ts";
import { leakyRelu } from "../tensor/ops_activation.ts";
import { type Generator, globalGenerator } from "../tensor/random.ts";
import type { Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { ShapePreserving } from "./activation.ts";

/** The options of {@link RReLU}; defaults follow PyTorch. */
export interface RReLUConfig {
  /** The lowest negative slope (default 1/8). */
  lower?: number;
  /** The highest negative slope (default 1/3). */
  upper?: number;
  /** Random stream of the slopes (default: the global generator at each call). */
  generator?: Generator;
}

/**
 * The randomized leaky ReLU (`nn.RReLU`): `x` where `x > 0`, else `a·x`. In training each
 * element draws its own slope `a` uniform in `[lower, upper]` (its gradient is that `a`, as
 * PyTorch's, for `x ≤ 0`); in evaluation `a` is the mean slope `(lower + upper) / 2`, a leaky
 * ReLU.
 *
 * @example
 * ```ts
 * import { defaultDevice, Generator, tensor } from "../mod.ts";
 * import { RReLU } from "./rrelu.ts";
 * await defaultDevice();
 * const layer = new RReLU({ lower: 0.1, upper: 0.3, generator: new Generator(1) });
 * const y = await layer.forward(tensor([-10, 2])).data(); // [-10·a, 2], a in [0.1, 0.3]
 * console.log(y[0] >= -3 && y[0] <= -1, y[1]); // true 2
 * console.log(await layer.eval().forward(tensor([-10, 2])).toArray()); // [-2, 2]
 * ```
 */
export class RReLU extends ShapePreserving {
  /** The lowest negative slope. */
  readonly lower: number;
  /** The highest negative slope. */
  readonly upper: number;
  /** The slopes' stream, when one was given. */
  readonly generator: Generator | undefined;

  /** Creates the layer. */
  constructor(config: RReLUConfig = {}) {
    super();
    checkOptions(
      "RReLU",
      config,
      optionNames<RReLUConfig>({ lower: true, upper: true, generator: true }),
    );
    this.lower = config.lower ?? 1 / 8;
    this.upper = config.upper ?? 1 / 3;
    for (const [key, v] of [["lower", this.lower], ["upper", this.upper]] as const) {
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new RangeError(`RReLU: ${key} must be a finite number, got ${v}`);
      }
    }
    if (this.lower > this.upper) {
      throw new RangeError(
        `RReLU: lower (${this.lower}) must not exceed upper (${this.upper})`,
      );
    }
    this.generator = config.generator;
  }

  /** Random slopes (training) or the mean slope (evaluation) for the inputs ≤ 0. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    if (!this.training) return leakyRelu(x, (this.lower + this.upper) / 2);
    return tidy(() => {
      const generator = this.generator ?? globalGenerator();
      const slopes = generator.uniform(x.shape, this.lower, this.upper, x.device);
      // The factor of each element: its slope where x ≤ 0, else 1 (NaN passes through).
      return x.mul(slopes.where(x.le(0), 1)) as Tensor<S, "f32">;
    });
  }
}
