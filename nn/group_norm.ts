/**
 * Group normalisation, as PyTorch's `nn.GroupNorm`.
 *
 * @module
 */

import { checkOptions, optionNames, requireCount } from "../tensor/options.ts";
import { ones, zeros } from "../tensor/creation.ts";
import type { Device } from "../tensor/default_device.ts";
import { currentDevice } from "../tensor/default_device.ts";
import { groupNorm } from "../tensor/ops_norm.ts";
import type { Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module, type Parameter } from "./module.ts";

/** Options of {@link GroupNorm}, PyTorch's arguments. */
export interface GroupNormConfig {
  /** Groups the channels are split into; must divide `numChannels`. */
  numGroups: number;
  /** C. */
  numChannels: number;
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn a per-channel scale (`weight`, ones) and shift (`bias`, zeros); default true. */
  affine?: boolean;
  /** Where the parameters live (default: the default device). */
  device?: Device;
}

const GROUP_NORM_OPTIONS = optionNames<GroupNormConfig>({
  numGroups: true,
  numChannels: true,
  eps: true,
  affine: true,
  device: true,
});

/**
 * Normalises each group of consecutive channels of each sample of `x [N, C, *]` by its mean
 * and biased variance, then scales and shifts per channel, as PyTorch's `nn.GroupNorm`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { GroupNorm } from "./group_norm.ts";
 * await defaultDevice();
 * const gn = new GroupNorm({ numGroups: 2, numChannels: 4 });
 * console.log(await gn.forward(tensor([[1, 3, 5, 9]])).toArray()); // ≈ [[-1, 1, -1, 1]]
 * ```
 */
export class GroupNorm extends Module {
  /** Groups of channels. */
  readonly numGroups: number;
  /** C. */
  readonly numChannels: number;
  /** Added to the variance. */
  readonly eps: number;
  /** Whether the layer has `weight` and `bias`. */
  readonly affine: boolean;

  /** Creates the parameters on `config.device`. */
  constructor(config: GroupNormConfig) {
    super();
    checkOptions("GroupNorm", config, GROUP_NORM_OPTIONS, true);
    const { numGroups, numChannels } = config;
    requireCount("GroupNorm", "numGroups", numGroups);
    requireCount("GroupNorm", "numChannels", numChannels);
    if (
      !Number.isInteger(numGroups) || !Number.isInteger(numChannels) || numGroups < 1 ||
      numChannels % numGroups !== 0
    ) {
      throw new RangeError(
        `GroupNorm: num_channels must be divisible by num_groups (got ${numChannels} and ` +
          `${numGroups})`,
      );
    }
    this.numGroups = numGroups;
    this.numChannels = numChannels;
    this.eps = config.eps ?? 1e-5;
    this.affine = config.affine ?? true;
    const device = config.device ?? currentDevice();
    if (this.affine) {
      this.registerParameter("weight", ones([numChannels], { device }));
      this.registerParameter("bias", zeros([numChannels], { device }));
    }
  }

  /** The scale `[C]`, or null without `affine`. */
  get weight(): Parameter | null {
    return this.affine ? this.getParameter("weight") : null;
  }

  /** The shift `[C]`, or null without `affine`. */
  get bias(): Parameter | null {
    return this.affine ? this.getParameter("bias") : null;
  }

  /** Normalises `x [N, C, *]`. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    this.outputShape(x.shape as readonly number[]);
    return groupNorm(x, this.numGroups, {
      weight: this.weight,
      bias: this.bias,
      eps: this.eps,
    }) as Tensor<S, "f32">;
  }

  /** The output shape: the input's, `[N, C, *]` with C = `numChannels`. */
  outputShape(input: readonly number[]): number[] {
    if (input.length < 2 || input[1] !== this.numChannels) {
      throw new RangeError(
        `GroupNorm: expected [N, ${this.numChannels}, *], got [${input}]`,
      );
    }
    return [...input];
  }
}
