/**
 * Channel-wise dropout, `nn.Dropout1d`, `nn.Dropout2d` and `nn.Dropout3d`: whole feature maps
 * are zeroed together, as PyTorch's `feature_dropout` does.
 *
 * @module
 */

import { tidy } from "../tensor/memory.ts";
import { dropout, dropoutMask } from "../tensor/ops_cnn.ts";
import { globalGenerator } from "../tensor/random.ts";
import { type Shape, ShapeError } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Dropout, type DropoutConfig } from "./dropout.ts";

/**
 * Zeroes each channel of each sample (a whole `[L]`, `[H, W]` or `[D, H, W]` map) with
 * probability `p` in training and scales the rest by `1/(1−p)`; the identity in evaluation.
 * `p = 1` zeroes everything, as PyTorch (which multiplies by 0, so ±∞ and NaN become NaN).
 *
 * @example A channel dropout of 2-D feature maps, as `Dropout2d`
 * ```ts
 * import { defaultDevice, ones } from "../mod.ts";
 * import { FeatureDropout } from "./feature_dropout.ts";
 * await defaultDevice();
 * class MapDropout extends FeatureDropout {
 *   constructor() {
 *     super(4, { p: 0.5 });
 *   }
 * }
 * const sums = await new MapDropout().forward(ones([2, 3, 2, 2])).sum([2, 3]).data();
 * console.log(sums.every((s) => s === 0 || s === 8)); // true
 * ```
 */
export abstract class FeatureDropout extends Dropout {
  /** The rank of a batch `[N, C, …]`; one less is an unbatched `[C, …]`. */
  readonly batchedRank: number;

  /**
   * A channel dropout of `batchedRank`-D batches (and unbatched inputs of one rank less),
   * `config.p` default 0.5.
   */
  constructor(batchedRank: number, config: DropoutConfig = {}) {
    super(config);
    this.batchedRank = batchedRank;
  }

  /** Drops whole channels (training) or passes `x` through (evaluation). */
  override forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    const rank = x.rank;
    if (rank !== this.batchedRank && rank !== this.batchedRank - 1) {
      const batched = this.batchedRank;
      throw new ShapeError(
        `${this.constructor.name}: expected a ${
          batched - 1
        }-D (unbatched) or ${batched}-D (batched) ` +
          `input, got [${x.shape}]`,
      );
    }
    if (!this.training || this.p === 0) {
      return dropout(x, 0, { training: false }) as Tensor<S, "f32">;
    }
    // One mask value a channel of a sample: [N, C, 1, …] or, unbatched, [C, 1, …].
    const channelAxes = rank === this.batchedRank ? 2 : 1;
    const maskShape = x.shape.map((d, i) => (i < channelAxes ? d : 1));
    const generator = this.generator ?? globalGenerator();
    return tidy(() =>
      x.mul(dropoutMask(maskShape, this.p, generator, x.device)) as Tensor<S, "f32">
    );
  }
}

/**
 * `nn.Dropout1d`: channel-wise dropout of `[N, C, L]` or unbatched `[C, L]` input.
 *
 * @example
 * ```ts
 * import { defaultDevice, Generator, ones } from "../mod.ts";
 * import { Dropout1d } from "./feature_dropout.ts";
 * await defaultDevice();
 * const drop = new Dropout1d({ p: 0.5, generator: new Generator(1) });
 * const y = await drop.forward(ones([1, 3, 2])).data(); // 3 channels of 2
 * console.log([0, 2, 4].every((c) => y[c] === y[c + 1])); // true: each channel all 0 or all 2
 * ```
 */
export class Dropout1d extends FeatureDropout {
  /** Creates the layer (`p` default 0.5). */
  constructor(config: DropoutConfig = {}) {
    super(3, config);
  }
}

/**
 * `nn.Dropout2d`: channel-wise dropout of `[N, C, H, W]` input. A 3-D input is taken, as
 * PyTorch 2 takes it (with a warning there), as a batch `[N, C, L]`, not as an unbatched
 * `[C, H, W]`: give the latter a batch axis of 1.
 *
 * @example
 * ```ts
 * import { defaultDevice, Generator, ones } from "../mod.ts";
 * import { Dropout2d } from "./feature_dropout.ts";
 * await defaultDevice();
 * const drop = new Dropout2d({ p: 0.5, generator: new Generator(1) });
 * const sums = await drop.forward(ones([1, 4, 2, 2])).sum([2, 3]).data();
 * console.log(sums.every((s) => s === 0 || s === 8)); // true: whole maps dropped or doubled
 * ```
 */
export class Dropout2d extends FeatureDropout {
  /** Creates the layer (`p` default 0.5). */
  constructor(config: DropoutConfig = {}) {
    super(4, config);
  }

  /** A 3-D input is a batch `[N, C, L]` (PyTorch's reading), as 4-D is `[N, C, H, W]`. */
  override forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    if (x.rank !== 3) return super.forward(x);
    return tidy(() =>
      super.forward(x.reshape([...x.shape, 1]) as Tensor<Shape, "f32">).reshape(x.shape)
    ) as Tensor<S, "f32">;
  }
}

/**
 * `nn.Dropout3d`: channel-wise dropout of `[N, C, D, H, W]` or unbatched `[C, D, H, W]` input.
 *
 * @example
 * ```ts
 * import { defaultDevice, ones } from "../mod.ts";
 * import { Dropout3d } from "./feature_dropout.ts";
 * await defaultDevice();
 * const drop = new Dropout3d({ p: 0.5 }).eval();
 * console.log(await drop.forward(ones([1, 1, 1, 2])).toArray()); // [[[[1, 1]]]]
 * ```
 */
export class Dropout3d extends FeatureDropout {
  /** Creates the layer (`p` default 0.5). */
  constructor(config: DropoutConfig = {}) {
    super(5, config);
  }
}
