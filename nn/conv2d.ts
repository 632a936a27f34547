/**
 * The 2-D convolution layer.
 *
 * @module
 */

import { checkOptions, optionNames, requireCount } from "../tensor/options.ts";
import type { Device } from "../tensor/default_device.ts";
import { currentDevice } from "../tensor/default_device.ts";
import {
  checkSizes,
  conv2d,
  type ConvPadding,
  convPadding,
  type Pair,
  pair,
  windowOutput,
} from "../tensor/ops_cnn.ts";
import { convModePads, pad, type PadMode } from "../tensor/ops_pad.ts";
import type { Generator } from "../tensor/random.ts";
import type { Dim, Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { defaultInit, type ParameterInit } from "./_init.ts";
import { finishActivation, layerActivation } from "./_activation.ts";
import type { Activation } from "./activation.ts";
import { Module, type Parameter } from "./module.ts";
import { convolvedShape } from "./_unbatched.ts";

/** Options of {@link Conv2d}. */
export interface Conv2dConfig {
  /** Input channels C. */
  inChannels: number;
  /** Output channels O (filters). */
  outChannels: number;
  /** Kernel size, square or `[height, width]`. */
  kernelSize: Pair;
  /** Step between windows (default 1). */
  stride?: Pair;
  /**
   * Zero padding on each side (default 0), or PyTorch's `"valid"` (none) and `"same"` (the
   * output keeps the input's size; stride 1 only).
   */
  padding?: ConvPadding;
  /**
   * What the padding holds (PyTorch's `padding_mode`): `"zeros"` (default), or the input
   * `"reflect"`ed, `"replicate"`d or wrapped (`"circular"`): then the input is padded so by
   * `pad` and convolved unpadded, as PyTorch does.
   */
  paddingMode?: "zeros" | Exclude<PadMode, "constant">;
  /** Channel groups: output group g sees only input group g (default 1). */
  groups?: number;
  /** Spacing between kernel taps, square or `[height, width]` (PyTorch's `dilation`, default 1). */
  dilation?: Pair;
  /** Whether to add a learned bias (default true). */
  bias?: boolean;
  /** Apply ReLU in the convolution's epilogue: one kernel instead of two (default false). */
  relu?: boolean;
  /**
   * The nonlinearity on the output (default none): `"relu"` is fused into the kernel (the same
   * as `relu: true`), `"tanh"` runs after it.
   */
  activation?: Activation | null;
  /** Where the parameters live (default: the default device). */
  device?: Device;
  /** Random stream of the default initialisation (default: the global generator). */
  generator?: Generator;
  /** Initial values; default PyTorch's, uniform in ±1/√fan_in for weight and bias. */
  init?: ParameterInit;
}

const CONV2D_OPTIONS = optionNames<Conv2dConfig>({
  inChannels: true,
  outChannels: true,
  kernelSize: true,
  stride: true,
  padding: true,
  paddingMode: true,
  groups: true,
  dilation: true,
  bias: true,
  relu: true,
  activation: true,
  device: true,
  generator: true,
  init: true,
});

/**
 * 2-D convolution over NCHW tensors: weight `[O, C/groups, KH, KW]` and bias `[O]`, as
 * PyTorch's `nn.Conv2d` (cross-correlation).
 *
 * @example Same-size outputs; an atrous (dilated) 3×3 that sees a 5×5 field, padded to match
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { Conv2d } from "./conv2d.ts";
 * await defaultDevice();
 * const conv = new Conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1 });
 * const y = conv.forward(randn([2, 3, 16, 16]).withRank(4));
 * console.log(y.shape); // [2, 8, 16, 16]
 * const atrous = new Conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3, padding: 2, dilation: 2 });
 * console.log(atrous.forward(randn([2, 3, 16, 16]).withRank(4)).shape); // [2, 8, 16, 16]
 * ```
 */
export class Conv2d extends Module {
  /** Input channels. */
  readonly inChannels: number;
  /** Output channels. */
  readonly outChannels: number;
  /** `[KH, KW]`. */
  readonly kernelSize: readonly [number, number];
  /** `[SH, SW]`. */
  readonly stride: readonly [number, number];
  /**
   * `[PH, PW]` on each side. With `"same"`: the larger half of the padding on each side, the
   * extra first row (column) of an odd total dropped from the output (see `convPadding`).
   */
  readonly padding: readonly [number, number];
  /** Output rows and columns dropped from the start (padding "same" of an even span). */
  readonly #trim: readonly [number, number];
  /** Channel groups. */
  readonly groups: number;
  /** `[DH, DW]`: spacing between kernel taps. */
  readonly dilation: readonly [number, number];
  /** The nonlinearity on the output, or null for none. */
  readonly activation: Activation | null;
  /** What the padding holds: zeros, or the input reflected, replicated or wrapped. */
  readonly paddingMode: "zeros" | Exclude<PadMode, "constant">;
  #hasBias: boolean;

  /** Creates the layer and initialises its parameters on `config.device`. */
  constructor(config: Conv2dConfig) {
    super();
    checkOptions("Conv2d", config, CONV2D_OPTIONS, true);
    requireCount("Conv2d", "inChannels", config.inChannels, 0);
    requireCount("Conv2d", "outChannels", config.outChannels, 0);
    requireCount("Conv2d", "groups", config.groups ?? 1);
    checkSizes("Conv2d", [["kernelSize", config.kernelSize, 1], ["stride", config.stride ?? 1, 1]]);
    this.inChannels = config.inChannels;
    this.outChannels = config.outChannels;
    this.kernelSize = pair(config.kernelSize);
    this.stride = pair(config.stride ?? 1);
    this.groups = config.groups ?? 1;
    this.dilation = pair(config.dilation ?? 1);
    if (!this.dilation.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new RangeError(
        `Conv2d: dilation must be a positive integer (or a pair of them), got ${config.dilation}`,
      );
    }
    const { padding, trim } = convPadding(
      config.padding ?? 0,
      this.kernelSize,
      this.stride,
      this.dilation,
      "Conv2d",
    );
    this.padding = pair(padding);
    this.#trim = trim;
    this.paddingMode = config.paddingMode ?? "zeros";
    if (!["zeros", "reflect", "replicate", "circular"].includes(this.paddingMode)) {
      throw new RangeError(
        `Conv2d: paddingMode must be "zeros", "reflect", "replicate" or "circular", got ` +
          `"${this.paddingMode}"`,
      );
    }
    this.activation = layerActivation("Conv2d", config);
    this.#hasBias = config.bias ?? true;
    const g = this.groups;
    if (!(g >= 1) || this.inChannels % g !== 0 || this.outChannels % g !== 0) {
      throw new RangeError(
        `Conv2d: ${this.inChannels} → ${this.outChannels} channels do not split in ${g} groups`,
      );
    }
    const [kh, kw] = this.kernelSize;
    const device = config.device ?? currentDevice();
    const fanIn = (this.inChannels / g) * kh * kw;
    const init = config.init ?? defaultInit(fanIn, config.generator);
    const shape = [this.outChannels, this.inChannels / g, kh, kw];
    this.registerParameter("weight", init("weight", shape, device));
    if (this.#hasBias) {
      this.registerParameter("bias", init("bias", [this.outChannels], device));
    }
  }

  /** The weight, `[O, C/groups, KH, KW]`. */
  get weight(): Parameter {
    return this.getParameter("weight");
  }

  /** Whether ReLU is fused into the output (`activation === "relu"`). */
  get relu(): boolean {
    return this.activation === "relu";
  }

  /** The bias `[O]`, or null when the layer has none. */
  get bias(): Parameter | null {
    return this.#hasBias ? this.getParameter("bias") : null;
  }

  /** Convolves `x [N, C, H, W]`, or one unbatched `[C, H, W]` (to `[O, OH, OW]`). */
  forward(x: Tensor<readonly [Dim, Dim, Dim], "f32">): Tensor<[number, number, number], "f32">;
  /** The same over a batch, `x [N, C, H, W]`. */
  forward<N extends Dim>(
    x: Tensor<readonly [N, Dim, Dim, Dim], "f32">,
  ): Tensor<[N, number, number, number], "f32">;
  forward(x: Tensor<Shape, "f32">): Tensor<Shape, "f32"> {
    const options = {
      stride: this.stride,
      groups: this.groups,
      dilation: this.dilation,
      relu: this.relu,
    };
    const same = this.#trim.some((t) => t > 0);
    let y: Tensor<Shape, "f32">;
    if (this.paddingMode === "zeros") {
      y = conv2d(x, this.weight, this.bias, { ...options, padding: same ? "same" : this.padding });
    } else {
      // PyTorch's order: the input padded in the mode, then an unpadded convolution.
      const given = same ? "same" : this.padding;
      const pads = convModePads(given, this.kernelSize, this.dilation);
      const padded = pad(x, pads, { mode: this.paddingMode });
      y = conv2d(padded, this.weight, this.bias, { ...options, padding: 0 });
      padded.dispose(); // (the graph holds what the backward needs)
    }
    return finishActivation(y, this.activation);
  }

  /** The output shape for an input shape `[N, C, H, W]` (or `[C, H, W]`). */
  outputShape(input: readonly number[]): number[] {
    return convolvedShape("Conv2d", input, 2, this.inChannels, ([n, , h, w]) => {
      const [outH, outW] = windowOutput(
        [h, w],
        this.kernelSize,
        this.stride,
        this.padding,
        false,
        this.dilation,
      );
      return [n, this.outChannels, outH - this.#trim[0], outW - this.#trim[1]];
    });
  }
}
