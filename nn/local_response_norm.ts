/**
 * Local response normalisation, in the AlexNet paper's form.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import { lrn } from "../tensor/ops_cnn.ts";
import { type Dim, plural } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** Options of {@link LocalResponseNorm}; the defaults are the paper's constants. */
export interface LocalResponseNormConfig {
  /**
   * Channels in the window, n ≥ 1 (default 5): ⌊n/2⌋ before the centre and ⌊(n − 1)/2⌋ after
   * it, as PyTorch's (centred for an odd n).
   */
  size?: number;
  /** Additive constant (default 2). */
  k?: number;
  /** Scale of the sum of squares, not divided by `size` (default 1e-4). */
  alpha?: number;
  /** Exponent (default 0.75). */
  beta?: number;
  /**
   * Channels per group; windows stop at group boundaries (default: all channels, one group).
   * AlexNet on one device uses C/2 so that each tower normalises only its own maps.
   */
  groupSize?: number;
}

const LOCAL_RESPONSE_NORM_OPTIONS = optionNames<LocalResponseNormConfig>({
  size: true,
  k: true,
  alpha: true,
  beta: true,
  groupSize: true,
});

/**
 * `b[i] = a[i] / (k + α·Σ_j a[j]²)^β` over the `size` channels around i (clipped to i's
 * group), as section 3.3 of the AlexNet paper writes it; the window is PyTorch's, one channel
 * longer before i than after it for an even `size`.
 *
 * Differences from PyTorch's `nn.LocalResponseNorm(size, alpha, beta, k)`: PyTorch divides
 * α by `size` (so PyTorch's α = 5e-4 with size 5 is this layer's 1e-4), its default k is 1,
 * and it has no channel groups.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { LocalResponseNorm } from "./local_response_norm.ts";
 * await defaultDevice();
 * const norm = new LocalResponseNorm({ groupSize: 48 }); // two towers of 48 maps
 * console.log(norm.forward(randn([1, 96, 5, 5]).withRank(4)).shape); // [1, 96, 5, 5]
 * ```
 */
export class LocalResponseNorm extends Module {
  /** Window size n. */
  readonly size: number;
  /** k. */
  readonly k: number;
  /** α (not divided by n). */
  readonly alpha: number;
  /** β. */
  readonly beta: number;
  /** Channels per group, or undefined for one group of all channels. */
  readonly groupSize: number | undefined;

  /** Creates the layer. */
  constructor(config: LocalResponseNormConfig = {}) {
    super();
    checkOptions("LocalResponseNorm", config, LOCAL_RESPONSE_NORM_OPTIONS);
    this.size = config.size ?? 5;
    this.k = config.k ?? 2;
    this.alpha = config.alpha ?? 1e-4;
    this.beta = config.beta ?? 0.75;
    this.groupSize = config.groupSize;
    // Checked here, not at the first forward, so that a bad config fails where it is written.
    if (!Number.isInteger(this.size) || this.size < 1) {
      throw new RangeError(`LocalResponseNorm: size must be a positive integer, got ${this.size}`);
    }
    for (
      const [key, value] of [["k", this.k], ["alpha", this.alpha], ["beta", this.beta]] as const
    ) {
      if (!Number.isFinite(value)) {
        throw new RangeError(`LocalResponseNorm: ${key} must be a finite number, got ${value}`);
      }
    }
    const g = this.groupSize;
    if (g !== undefined && (!Number.isInteger(g) || g < 1)) {
      throw new RangeError(`LocalResponseNorm: groupSize must be a positive integer, got ${g}`);
    }
  }

  /** Normalises `x [N, C, H, W]` across channels. */
  forward<S extends readonly [Dim, Dim, Dim, Dim]>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    const channels = x.shape[1];
    const groupSize = this.groupSize ?? channels;
    if (channels % groupSize !== 0) {
      throw new RangeError(
        `LocalResponseNorm: ${plural(channels, "channel")}, not groups of ${groupSize}`,
      );
    }
    return lrn(x, {
      size: this.size,
      k: this.k,
      alpha: this.alpha,
      beta: this.beta,
      groupSize,
    }) as unknown as Tensor<S, "f32">;
  }

  /** The output shape: the input's. */
  outputShape(input: readonly number[]): number[] {
    return [...input];
  }
}
