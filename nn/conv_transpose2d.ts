/**
 * The 2-D transposed convolution layer.
 *
 * @module
 */

import { checkOptions, optionNames, requireCount } from "../tensor/options.ts";
import type { Device } from "../tensor/default_device.ts";
import { currentDevice } from "../tensor/default_device.ts";
import { checkSizes, type Pair, pair } from "../tensor/ops_cnn.ts";
import { convTranspose2d } from "../tensor/ops_conv_family.ts";
import type { Generator } from "../tensor/random.ts";
import type { Dim, Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { defaultInit, type ParameterInit } from "./_init.ts";
import { WeightedLayer } from "./weighted_layer.ts";
import { convolvedShape } from "./_unbatched.ts";

/** Options of {@link ConvTranspose2d}, PyTorch's `nn.ConvTranspose2d` arguments. */
export interface ConvTranspose2dConfig {
  /** Input channels Cin. */
  inChannels: number;
  /** Output channels Cout. */
  outChannels: number;
  /** Kernel size, square or `[height, width]`. */
  kernelSize: Pair;
  /** Step between the input's pixels in the output (default 1). */
  stride?: Pair;
  /** Rows and columns cropped from each side of the full output (default 0). */
  padding?: Pair;
  /** Rows and columns added after the output, below the stride or the dilation (default 0). */
  outputPadding?: Pair;
  /** Channel groups (default 1). */
  groups?: number;
  /** Spacing between kernel taps (default 1). */
  dilation?: Pair;
  /** Whether to add a learned bias (default true). */
  bias?: boolean;
  /** Where the parameters live (default: the default device). */
  device?: Device;
  /** Random stream of the default initialisation (default: the global generator). */
  generator?: Generator;
  /**
   * Initial values; default PyTorch's, uniform in ±1/√fan_in for weight and bias, where
   * PyTorch reads fan_in from the weight `[Cin, Cout/groups, KH, KW]` as `Cout/groups · KH·KW`.
   */
  init?: ParameterInit;
}

const CONV_TRANSPOSE2D_OPTIONS = optionNames<ConvTranspose2dConfig>({
  inChannels: true,
  outChannels: true,
  kernelSize: true,
  stride: true,
  padding: true,
  outputPadding: true,
  groups: true,
  dilation: true,
  bias: true,
  device: true,
  generator: true,
  init: true,
});

/** The sizes a transposed convolution layer holds, as {@link transposedOutput} reads them. */
export interface TransposedGeometry {
  /** Kernel taps per axis. */
  readonly kernelSize: readonly number[];
  /** Stride per axis. */
  readonly stride: readonly number[];
  /** Padding cropped from each side, per axis. */
  readonly padding: readonly number[];
  /** Output padding added after the output, per axis. */
  readonly outputPadding: readonly number[];
  /** Spacing between kernel taps, per axis. */
  readonly dilation: readonly number[];
}

/**
 * PyTorch's output size of a transposed convolution on each spatial axis of `sizes`:
 * `(in − 1)·stride − 2·padding + dilation·(kernel − 1) + outputPadding + 1`.
 *
 * @example
 * ```ts
 * import { transposedOutput } from "./conv_transpose2d.ts";
 * const g = { kernelSize: [4, 4], stride: [2, 2], padding: [1, 1], outputPadding: [0, 0],
 *   dilation: [1, 1] };
 * console.log(transposedOutput(g, [16, 9])); // [32, 18]
 * ```
 */
export function transposedOutput(g: TransposedGeometry, sizes: readonly number[]): number[] {
  return sizes.map((n, i) =>
    (n - 1) * g.stride[i] - 2 * g.padding[i] + g.dilation[i] * (g.kernelSize[i] - 1) +
    g.outputPadding[i] + 1
  );
}

/**
 * The initial parameters of a transposed convolution: weight `[Cin, Cout/groups, ...kernel]`
 * and bias `[Cout]` (null without one), with PyTorch's default initialisation.
 */
export function transposedParameters(
  layer: string,
  config: {
    inChannels: number;
    outChannels: number;
    groups?: number;
    bias?: boolean;
    device?: Device;
    generator?: Generator;
    init?: ParameterInit;
  },
  kernel: readonly number[],
): { weight: Tensor; bias: Tensor | null } {
  const { inChannels, outChannels, groups = 1 } = config;
  if (!(Number.isInteger(groups) && groups >= 1) || inChannels % groups || outChannels % groups) {
    throw new RangeError(
      `${layer}: ${inChannels} → ${outChannels} channels do not split in ${groups} groups`,
    );
  }
  const device = config.device ?? currentDevice();
  const fanIn = (outChannels / groups) * kernel.reduce((p, k) => p * k, 1);
  const init = config.init ?? defaultInit(fanIn, config.generator);
  const weight = init("weight", [inChannels, outChannels / groups, ...kernel], device);
  return { weight, bias: config.bias ?? true ? init("bias", [outChannels], device) : null };
}

/**
 * 2-D transposed convolution over NCHW tensors, as PyTorch's `nn.ConvTranspose2d`: weight
 * `[Cin, Cout/groups, KH, KW]` and bias `[Cout]`. The decoder's upsampling layer (DCGAN,
 * U-Net); `forward(x, outputSize)` picks among the output sizes a stride allows.
 *
 * @example A 4×4 kernel at stride 2, padding 1 doubles the size
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { ConvTranspose2d } from "./conv_transpose2d.ts";
 * await defaultDevice();
 * const up = new ConvTranspose2d({ inChannels: 8, outChannels: 4, kernelSize: 4, stride: 2, padding: 1 });
 * console.log(up.forward(randn([2, 8, 5, 5]).withRank(4)).shape); // [2, 4, 10, 10]
 * console.log(up.forward(randn([2, 8, 5, 5]).withRank(4), [11, 10]).shape); // [2, 4, 11, 10]
 * ```
 */
export class ConvTranspose2d extends WeightedLayer implements TransposedGeometry {
  /** Input channels. */
  readonly inChannels: number;
  /** Output channels. */
  readonly outChannels: number;
  /** `[KH, KW]`. */
  readonly kernelSize: readonly [number, number];
  /** `[SH, SW]`. */
  readonly stride: readonly [number, number];
  /** `[PH, PW]` cropped from each side. */
  readonly padding: readonly [number, number];
  /** `[OPH, OPW]` added after the output. */
  readonly outputPadding: readonly [number, number];
  /** Channel groups. */
  readonly groups: number;
  /** `[DH, DW]`: spacing between kernel taps. */
  readonly dilation: readonly [number, number];

  /** Creates the layer and initialises its parameters on `config.device`. */
  constructor(config: ConvTranspose2dConfig) {
    super();
    checkOptions("ConvTranspose2d", config, CONV_TRANSPOSE2D_OPTIONS, true);
    requireCount("ConvTranspose2d", "inChannels", config.inChannels, 0);
    requireCount("ConvTranspose2d", "outChannels", config.outChannels, 0);
    requireCount("ConvTranspose2d", "groups", config.groups ?? 1);
    checkSizes("ConvTranspose2d", [["kernelSize", config.kernelSize, 1]]);
    this.inChannels = config.inChannels;
    this.outChannels = config.outChannels;
    this.kernelSize = pair(config.kernelSize);
    this.stride = pair(config.stride ?? 1);
    this.padding = pair(config.padding ?? 0);
    this.outputPadding = pair(config.outputPadding ?? 0);
    this.groups = config.groups ?? 1;
    this.dilation = pair(config.dilation ?? 1);
    this.registerWeights(transposedParameters("ConvTranspose2d", config, this.kernelSize));
  }

  /**
   * Transposes the convolution over `x [N, Cin, H, W]` (or one unbatched `[Cin, H, W]`);
   * `outputSize` (`[OH, OW]`) chooses the output padding instead of the layer's, as PyTorch's
   * `forward(input, output_size)`.
   */
  forward(
    x: Tensor<readonly [Dim, Dim, Dim], "f32">,
    outputSize?: readonly [number, number],
  ): Tensor<[number, number, number], "f32">;
  /** The same over a batch, `x [N, C, H, W]`. */
  forward<N extends Dim>(
    x: Tensor<readonly [N, Dim, Dim, Dim], "f32">,
    outputSize?: readonly [number, number],
  ): Tensor<[N, number, number, number], "f32">;
  forward(
    x: Tensor<Shape, "f32">,
    outputSize?: readonly [number, number],
  ): Tensor<Shape, "f32"> {
    return convTranspose2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      outputPadding: this.outputPadding,
      groups: this.groups,
      dilation: this.dilation,
      outputSize,
    });
  }

  /** The output shape for an input shape `[N, Cin, H, W]` (or `[Cin, H, W]`). */
  outputShape(input: readonly number[]): number[] {
    return convolvedShape("ConvTranspose2d", input, 2, this.inChannels, ([n, , h, w]) => [
      n,
      this.outChannels,
      ...transposedOutput(this, [h, w]),
    ]);
  }
}
