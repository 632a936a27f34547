/**
 * The 1-D transposed convolution layer.
 *
 * @module
 */

import { checkOptions, optionNames, requireCount } from "../tensor/options.ts";
import { checkSizes } from "../tensor/ops_cnn.ts";
import { convTranspose1d } from "../tensor/ops_conv_family.ts";
import type { Dim, Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  type ConvTranspose2dConfig,
  transposedOutput,
  transposedParameters,
} from "./conv_transpose2d.ts";
import { WeightedLayer } from "./weighted_layer.ts";
import { convolvedShape } from "./_unbatched.ts";

/** Options of {@link ConvTranspose1d}, PyTorch's `nn.ConvTranspose1d` arguments. */
export interface ConvTranspose1dConfig extends
  Omit<
    ConvTranspose2dConfig,
    "kernelSize" | "stride" | "padding" | "outputPadding" | "dilation"
  > {
  /** Kernel taps K. */
  kernelSize: number;
  /** Step between the input's samples in the output (default 1). */
  stride?: number;
  /** Samples cropped from each end of the full output (default 0). */
  padding?: number;
  /** Samples added after the output, below the stride or the dilation (default 0). */
  outputPadding?: number;
  /** Spacing between kernel taps (default 1). */
  dilation?: number;
}

const CONV_TRANSPOSE1D_OPTIONS = optionNames<ConvTranspose1dConfig>({
  inChannels: true,
  outChannels: true,
  groups: true,
  bias: true,
  device: true,
  generator: true,
  init: true,
  kernelSize: true,
  stride: true,
  padding: true,
  outputPadding: true,
  dilation: true,
});

/**
 * 1-D transposed convolution over `[N, Cin, L]` signals, as PyTorch's `nn.ConvTranspose1d`:
 * weight `[Cin, Cout/groups, K]` and bias `[Cout]`.
 *
 * @example Stride 4 upsamples by four
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { ConvTranspose1d } from "./conv_transpose1d.ts";
 * await defaultDevice();
 * const up = new ConvTranspose1d({ inChannels: 4, outChannels: 2, kernelSize: 4, stride: 4 });
 * console.log(up.forward(randn([1, 4, 25]).withRank(3)).shape); // [1, 2, 100]
 * ```
 */
export class ConvTranspose1d extends WeightedLayer {
  /** Input channels. */
  readonly inChannels: number;
  /** Output channels. */
  readonly outChannels: number;
  /** `[K]`. */
  readonly kernelSize: readonly [number];
  /** `[stride]`. */
  readonly stride: readonly [number];
  /** `[padding]` cropped from each end. */
  readonly padding: readonly [number];
  /** `[outputPadding]` added after the output. */
  readonly outputPadding: readonly [number];
  /** Channel groups. */
  readonly groups: number;
  /** `[dilation]`. */
  readonly dilation: readonly [number];

  /** Creates the layer and initialises its parameters on `config.device`. */
  constructor(config: ConvTranspose1dConfig) {
    super();
    checkOptions("ConvTranspose1d", config, CONV_TRANSPOSE1D_OPTIONS, true);
    requireCount("ConvTranspose1d", "inChannels", config.inChannels, 0);
    requireCount("ConvTranspose1d", "outChannels", config.outChannels, 0);
    requireCount("ConvTranspose1d", "groups", config.groups ?? 1);
    checkSizes("ConvTranspose1d", [["kernelSize", config.kernelSize, 1]]);
    this.inChannels = config.inChannels;
    this.outChannels = config.outChannels;
    this.kernelSize = [config.kernelSize];
    this.stride = [config.stride ?? 1];
    this.padding = [config.padding ?? 0];
    this.outputPadding = [config.outputPadding ?? 0];
    this.groups = config.groups ?? 1;
    this.dilation = [config.dilation ?? 1];
    this.registerWeights(transposedParameters("ConvTranspose1d", config, this.kernelSize));
  }

  /**
   * Transposes the convolution over `x [N, Cin, L]` (or one unbatched `[Cin, L]`); `outputSize`
   * picks the output length.
   */
  forward(
    x: Tensor<readonly [Dim, Dim], "f32">,
    outputSize?: number,
  ): Tensor<[number, number], "f32">;
  /** The same over a batch, `x [N, C, L]`. */
  forward<N extends Dim>(
    x: Tensor<readonly [N, Dim, Dim], "f32">,
    outputSize?: number,
  ): Tensor<[N, number, number], "f32">;
  forward(x: Tensor<Shape, "f32">, outputSize?: number): Tensor<Shape, "f32"> {
    return convTranspose1d(x, this.weight, this.bias, {
      stride: this.stride[0],
      padding: this.padding[0],
      outputPadding: this.outputPadding[0],
      groups: this.groups,
      dilation: this.dilation[0],
      outputSize,
    });
  }

  /** The output shape for an input shape `[N, Cin, L]` (or `[Cin, L]`). */
  outputShape(input: readonly number[]): number[] {
    return convolvedShape("ConvTranspose1d", input, 1, this.inChannels, ([n, , l]) => [
      n,
      this.outChannels,
      ...transposedOutput(this, [l]),
    ]);
  }
}
