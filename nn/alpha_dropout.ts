/**
 * Alpha dropout, `nn.AlphaDropout` and `nn.FeatureAlphaDropout`: the dropout of self-normalising
 * networks (SELU), which keeps the activations' mean 0 and variance 1.
 *
 * @module
 */

import { tidy } from "../tensor/memory.ts";
import { dropout } from "../tensor/ops_cnn.ts";
import { type Generator, globalGenerator } from "../tensor/random.ts";
import { type Shape, ShapeError } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Dropout } from "./dropout.ts";

/** SELU's saturation value, negated: −λα, which dropped activations are set to. */
const SELU_SATURATION = 1.7580993408473766;

/**
 * `x` alpha-dropped with probability `p`, one draw per element of `maskShape` (broadcast to
 * `x`): PyTorch's `_dropout_impl` with `alpha_dropout`. Each dropped element becomes −λα and
 * then everything is mapped by `a·y + b`, `a = ((λα)²·p + 1)·(1 − p))^−½` and `b = λα·a·p`
 * so that zero-mean unit-variance inputs stay so.
 */
function alphaDropped(
  x: Tensor<Shape, "f32">,
  p: number,
  maskShape: readonly number[],
  generator: Generator,
): Tensor<Shape, "f32"> {
  if (p === 1) return x.mul(0); // PyTorch's: everything zeroed (±∞ and NaN become NaN)
  const alpha = SELU_SATURATION;
  const a = 1 / Math.sqrt((alpha * alpha * p + 1) * (1 - p));
  return tidy(() => {
    const keep = generator.bernoulli(maskShape, 1 - p, 1, x.device);
    const shift = keep.sub(1).mul(alpha * a).add(alpha * a * p);
    return x.mul(keep.mul(a)).add(shift);
  });
}

/**
 * `nn.AlphaDropout`: in training each element is dropped with probability `p` to SELU's
 * saturation value and the result rescaled and shifted so that a standard normal input keeps
 * its mean and variance (with SELU activations); the identity in evaluation.
 *
 * @example
 * ```ts
 * import { defaultDevice, Generator, zeros } from "../mod.ts";
 * import { AlphaDropout } from "./alpha_dropout.ts";
 * await defaultDevice();
 * const drop = new AlphaDropout({ p: 0.2, generator: new Generator(1) });
 * const y = await drop.forward(zeros([4])).data(); // kept: b = λα·a·p, dropped: b − λα·a
 * console.log(Array.from(y, (v) => v.toFixed(4)).every((v) => v === "0.3090" || v === "-1.2362")); // true
 * console.log(await drop.eval().forward(zeros([2])).toArray()); // [0, 0]
 * ```
 */
export class AlphaDropout extends Dropout {
  /** The shape of the drawn mask: one draw per element. */
  protected maskShape(x: Tensor): number[] {
    return [...x.shape];
  }

  /** Alpha-drops (training) or passes `x` through (evaluation). */
  override forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    if (!this.training || this.p === 0) {
      return dropout(x, 0, { training: false }) as Tensor<S, "f32">;
    }
    const generator = this.generator ?? globalGenerator();
    return alphaDropped(x, this.p, this.maskShape(x), generator) as Tensor<S, "f32">;
  }
}

/**
 * `nn.FeatureAlphaDropout`: alpha dropout of whole channels (one draw per sample and channel
 * of `[N, C, …]` input, at least 2-D), as PyTorch's `feature_alpha_dropout`.
 *
 * @example
 * ```ts
 * import { defaultDevice, zeros } from "../mod.ts";
 * import { FeatureAlphaDropout } from "./alpha_dropout.ts";
 * await defaultDevice();
 * const y = await new FeatureAlphaDropout({ p: 0.5 }).forward(zeros([1, 2, 3])).data();
 * console.log(y[0] === y[1] && y[1] === y[2] && y[3] === y[4] && y[4] === y[5]); // true
 * ```
 */
export class FeatureAlphaDropout extends AlphaDropout {
  /** One draw per sample and channel: `[N, C, 1, …]`. */
  protected override maskShape(x: Tensor): number[] {
    if (x.rank < 2) {
      throw new ShapeError(
        `FeatureAlphaDropout: feature dropout requires at least 2 dimensions, got [${x.shape}]`,
      );
    }
    return x.shape.map((d, i) => (i < 2 ? d : 1));
  }
}
