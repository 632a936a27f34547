/**
 * The 1-D convolution layer.
 *
 * @module
 */

import { checkOptions, optionNames, requireCount } from "../tensor/options.ts";
import type { Device } from "../tensor/default_device.ts";
import { currentDevice } from "../tensor/default_device.ts";
import { checkSizes, convPadding, windowOutput } from "../tensor/ops_cnn.ts";
import { conv1d } from "../tensor/ops_conv_family.ts";
import { convModePads, pad, type PadMode } from "../tensor/ops_pad.ts";
import type { Generator } from "../tensor/random.ts";
import type { Dim, Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { defaultInit, type ParameterInit } from "./_init.ts";
import { WeightedLayer } from "./weighted_layer.ts";
import { convolvedShape } from "./_unbatched.ts";

/** Options of {@link Conv1d}, PyTorch's `nn.Conv1d` arguments. */
export interface Conv1dConfig {
  /** Input channels C. */
  inChannels: number;
  /** Output channels O (filters). */
  outChannels: number;
  /** Kernel taps K. */
  kernelSize: number;
  /** Step between windows (default 1). */
  stride?: number;
  /** Padding at each end (default 0), or `"same"` / `"valid"` as PyTorch's. */
  padding?: number | "same" | "valid";
  /**
   * What the padding holds (PyTorch's `padding_mode`): `"zeros"` (default), or the input
   * `"reflect"`ed, `"replicate"`d or wrapped (`"circular"`), as `pad` makes it.
   */
  paddingMode?: "zeros" | Exclude<PadMode, "constant">;
  /** Channel groups (default 1). */
  groups?: number;
  /** Spacing between kernel taps (default 1). */
  dilation?: number;
  /** Whether to add a learned bias (default true). */
  bias?: boolean;
  /** Where the parameters live (default: the default device). */
  device?: Device;
  /** Random stream of the default initialisation (default: the global generator). */
  generator?: Generator;
  /** Initial values; default PyTorch's, uniform in ±1/√fan_in for weight and bias. */
  init?: ParameterInit;
}

const CONV1D_OPTIONS = optionNames<Conv1dConfig>({
  inChannels: true,
  outChannels: true,
  kernelSize: true,
  stride: true,
  padding: true,
  paddingMode: true,
  groups: true,
  dilation: true,
  bias: true,
  device: true,
  generator: true,
  init: true,
});

/**
 * 1-D convolution over `[N, C, L]` signals, as PyTorch's `nn.Conv1d`: weight `[O, C/groups, K]`
 * and bias `[O]`, on the 2-D convolution's kernels.
 *
 * @example A length-preserving 5-tap filter bank
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { Conv1d } from "./conv1d.ts";
 * await defaultDevice();
 * const conv = new Conv1d({ inChannels: 2, outChannels: 6, kernelSize: 5, padding: "same" });
 * console.log(conv.forward(randn([3, 2, 50]).withRank(3)).shape); // [3, 6, 50]
 * console.log(conv.weight.shape); // [6, 2, 5]
 * ```
 */
export class Conv1d extends WeightedLayer {
  /** Input channels. */
  readonly inChannels: number;
  /** Output channels. */
  readonly outChannels: number;
  /** Kernel taps. */
  readonly kernelSize: number;
  /** Step between windows. */
  readonly stride: number;
  /** Padding at each end, or `"same"` / `"valid"` as given. */
  readonly padding: number | "same" | "valid";
  /** What the padding holds. */
  readonly paddingMode: "zeros" | Exclude<PadMode, "constant">;
  /** Channel groups. */
  readonly groups: number;
  /** Spacing between kernel taps. */
  readonly dilation: number;

  /** Creates the layer and initialises its parameters on `config.device`. */
  constructor(config: Conv1dConfig) {
    super();
    checkOptions("Conv1d", config, CONV1D_OPTIONS, true);
    requireCount("Conv1d", "inChannels", config.inChannels, 0);
    requireCount("Conv1d", "outChannels", config.outChannels, 0);
    requireCount("Conv1d", "groups", config.groups ?? 1);
    checkSizes("Conv1d", [["kernelSize", config.kernelSize, 1]]);
    this.inChannels = config.inChannels;
    this.outChannels = config.outChannels;
    this.kernelSize = config.kernelSize;
    this.stride = config.stride ?? 1;
    this.padding = config.padding ?? 0;
    this.paddingMode = config.paddingMode ?? "zeros";
    if (!["zeros", "reflect", "replicate", "circular"].includes(this.paddingMode)) {
      throw new RangeError(
        `Conv1d: paddingMode must be "zeros", "reflect", "replicate" or "circular", got ` +
          `"${this.paddingMode}"`,
      );
    }
    this.groups = config.groups ?? 1;
    this.dilation = config.dilation ?? 1;
    // Checked here as PyTorch's constructor does ("same" with a stride, …).
    convPadding(this.padding, this.kernelSize, this.stride, this.dilation, "Conv1d");
    const g = this.groups;
    if (!(Number.isInteger(g) && g >= 1) || this.inChannels % g || this.outChannels % g) {
      throw new RangeError(
        `Conv1d: ${this.inChannels} → ${this.outChannels} channels do not split in ${g} groups`,
      );
    }
    const device = config.device ?? currentDevice();
    const init = config.init ??
      defaultInit((this.inChannels / g) * this.kernelSize, config.generator);
    const shape = [this.outChannels, this.inChannels / g, this.kernelSize];
    const weight = init("weight", shape, device); // (drawn first, as PyTorch)
    const bias = config.bias ?? true ? init("bias", [this.outChannels], device) : null;
    this.registerWeights({ weight, bias });
  }

  /** Convolves `x [N, C, L]`, or one unbatched `[C, L]` (to `[O, OL]`). */
  forward(x: Tensor<readonly [Dim, Dim], "f32">): Tensor<[number, number], "f32">;
  /** The same over a batch, `x [N, C, L]`. */
  forward<N extends Dim>(
    x: Tensor<readonly [N, Dim, Dim], "f32">,
  ): Tensor<[N, number, number], "f32">;
  forward(x: Tensor<Shape, "f32">): Tensor<Shape, "f32"> {
    const options = { stride: this.stride, groups: this.groups, dilation: this.dilation };
    if (this.paddingMode === "zeros") {
      return conv1d(x, this.weight, this.bias, { ...options, padding: this.padding });
    }
    // PyTorch's order: the input padded in the mode, then an unpadded convolution.
    const pads = convModePads(this.padding, [this.kernelSize], [this.dilation]);
    const padded = pad(x, pads, { mode: this.paddingMode });
    const y = conv1d(padded, this.weight, this.bias, { ...options, padding: 0 });
    padded.dispose(); // (the graph holds what the backward needs)
    return y;
  }

  /** The output shape for an input shape `[N, C, L]` (or `[C, L]`). */
  outputShape(input: readonly number[]): number[] {
    return convolvedShape("Conv1d", input, 1, this.inChannels, ([n, , l]) => {
      if (this.padding === "same") return [n, this.outChannels, l];
      const [, length] = windowOutput(
        [1, l],
        [1, this.kernelSize],
        [1, this.stride],
        [0, this.padding === "valid" ? 0 : this.padding],
        false,
        [1, this.dilation],
      );
      return [n, this.outChannels, length];
    });
  }
}
