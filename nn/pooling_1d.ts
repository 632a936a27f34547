/**
 * The 1-D pooling layers: max, average, and adaptive max and average pooling over `[N, C, L]`
 * signals, as PyTorch's `nn.MaxPool1d`, `nn.AvgPool1d`, `nn.AdaptiveMaxPool1d` and
 * `nn.AdaptiveAvgPool1d`.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import { checkPoolPadding, windowOutput } from "../tensor/ops_cnn.ts";
import {
  adaptiveAvgPool1d,
  adaptiveMaxPool1d,
  avgPool1d,
  type AvgPool1dOptions,
  maxPool1d,
  type MaxPool1dOptions,
  maxPool1dWithIndices,
  type PoolWinners,
} from "../tensor/ops_pool_family.ts";
import type { Dim, Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";
import { pooledShape } from "./_unbatched.ts";

/** Options of {@link MaxPool1d}. */
export interface MaxPool1dConfig {
  /** Window length. */
  kernelSize: number;
  /** Step between windows (default: the kernel). */
  stride?: number;
  /** −∞ padding at each end, at most half the (dilated) window (default 0). */
  padding?: number;
  /** Spacing between window taps (default 1). */
  dilation?: number;
  /** Keep a last window that runs past the padded input (PyTorch's `ceil_mode`, default false). */
  ceilMode?: boolean;
  /**
   * PyTorch's `return_indices` (default false): the layer is called through
   * `forwardWithIndices` (`{ values, indices }`), and its `forward` refuses; as `MaxPool2d`'s.
   */
  returnIndices?: boolean;
}

const MAX_POOL1D_OPTIONS = optionNames<MaxPool1dConfig>({
  kernelSize: true,
  stride: true,
  padding: true,
  dilation: true,
  ceilMode: true,
  returnIndices: true,
});

/**
 * Max pooling over `[N, C, L]` (or one unbatched `[C, L]`), as PyTorch's `nn.MaxPool1d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { MaxPool1d } from "./pooling_1d.ts";
 * await defaultDevice();
 * const pool = new MaxPool1d({ kernelSize: 3, stride: 2 });
 * console.log(pool.forward(randn([2, 4, 50]).withRank(3)).shape); // [2, 4, 24]
 * const withIndices = new MaxPool1d({ kernelSize: 2, returnIndices: true });
 * const { values, indices } = withIndices.forwardWithIndices(randn([4, 50]));
 * console.log(values.shape, indices.shape); // [4, 25] [4, 25]
 * ```
 */
export class MaxPool1d extends Module {
  /** The window, as `maxPool1d` takes it. */
  readonly window: Readonly<Required<MaxPool1dOptions>>;

  /** Whether the layer gives its winners too (PyTorch's `return_indices`). */
  readonly returnIndices: boolean;

  /** Creates the layer. */
  constructor(config: MaxPool1dConfig) {
    super();
    checkOptions("MaxPool1d", config, MAX_POOL1D_OPTIONS, true);
    const { kernelSize: kernel, stride = kernel, padding = 0, dilation = 1 } = config;
    checkPoolPadding("MaxPool1d", kernel, padding, dilation);
    this.window = { kernel, stride, padding, dilation, ceilMode: config.ceilMode ?? false };
    this.returnIndices = config.returnIndices ?? false;
  }

  /** Pools `x [N, C, L]`, or one unbatched `[C, L]`. */
  forward<C extends Dim>(x: Tensor<readonly [C, Dim], "f32">): Tensor<[C, number], "f32">;
  /** The same over a batch, `x [N, C, L]`. */
  forward<N extends Dim, C extends Dim>(
    x: Tensor<readonly [N, C, Dim], "f32">,
  ): Tensor<[N, C, number], "f32">;
  forward(x: Tensor<Shape, "f32">): Tensor<Shape, "f32"> {
    if (this.returnIndices) {
      throw new TypeError(
        "MaxPool1d: a layer with returnIndices gives { values, indices }: call " +
          "forwardWithIndices(x), not forward(x)",
      );
    }
    return maxPool1d(x, this.window);
  }

  /**
   * Pools `x [N, C, L]` (or one unbatched `[C, L]`) and gives each window's winner, as PyTorch's
   * layer with `return_indices=True`: see `maxPool1dWithIndices`.
   */
  forwardWithIndices(x: Tensor<Shape, "f32">): PoolWinners<Tensor<Shape, "f32">> {
    return maxPool1dWithIndices(x, this.window);
  }

  /** The output shape for an input shape `[N, C, L]` (or `[C, L]`). */
  outputShape(input: readonly number[]): number[] {
    const { kernel, stride, padding, dilation, ceilMode } = this.window;
    return pooledShape(
      "MaxPool1d",
      input,
      1,
      ([l]) => [
        windowOutput([1, l], [1, kernel], [1, stride], [0, padding], ceilMode, [1, dilation])[1],
      ],
    );
  }
}

/** Options of {@link AvgPool1d}. */
export interface AvgPool1dConfig {
  /** Window length. */
  kernelSize: number;
  /** Step between windows (default: the kernel). */
  stride?: number;
  /** Zero padding at each end, at most half the kernel (default 0). */
  padding?: number;
  /** Keep a last window that runs past the padded input (default false). */
  ceilMode?: boolean;
  /** Divide by the window's length including the padding it covers (default true). */
  countIncludePad?: boolean;
}

const AVG_POOL1D_OPTIONS = optionNames<AvgPool1dConfig>({
  kernelSize: true,
  stride: true,
  padding: true,
  ceilMode: true,
  countIncludePad: true,
});

/**
 * Average pooling over `[N, C, L]`, as PyTorch's `nn.AvgPool1d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { AvgPool1d } from "./pooling_1d.ts";
 * await defaultDevice();
 * const pool = new AvgPool1d({ kernelSize: 4, padding: 1 });
 * console.log(pool.forward(randn([2, 4, 50]).withRank(3)).shape); // [2, 4, 13]
 * ```
 */
export class AvgPool1d extends Module {
  /** The window, as `avgPool1d` takes it. */
  readonly window: Readonly<Required<AvgPool1dOptions>>;

  /** Creates the layer. */
  constructor(config: AvgPool1dConfig) {
    super();
    checkOptions("AvgPool1d", config, AVG_POOL1D_OPTIONS, true);
    const { kernelSize: kernel, stride = kernel, padding = 0 } = config;
    checkPoolPadding("AvgPool1d", kernel, padding);
    this.window = {
      kernel,
      stride,
      padding,
      ceilMode: config.ceilMode ?? false,
      countIncludePad: config.countIncludePad ?? true,
    };
  }

  /** Pools `x [N, C, L]`, or one unbatched `[C, L]`. */
  forward<C extends Dim>(x: Tensor<readonly [C, Dim], "f32">): Tensor<[C, number], "f32">;
  /** The same over a batch, `x [N, C, L]`. */
  forward<N extends Dim, C extends Dim>(
    x: Tensor<readonly [N, C, Dim], "f32">,
  ): Tensor<[N, C, number], "f32">;
  forward(x: Tensor<Shape, "f32">): Tensor<Shape, "f32"> {
    return avgPool1d(x, this.window);
  }

  /** The output shape for an input shape `[N, C, L]` (or `[C, L]`). */
  outputShape(input: readonly number[]): number[] {
    const { kernel, stride, padding, ceilMode } = this.window;
    return pooledShape(
      "AvgPool1d",
      input,
      1,
      ([l]) => [windowOutput([1, l], [1, kernel], [1, stride], [0, padding], ceilMode)[1]],
    );
  }
}

/** A positive output length, or a RangeError naming `layer`. */
function checkedLength(layer: string, outputSize: number): number {
  if (!(Number.isInteger(outputSize) && outputSize >= 1)) {
    throw new RangeError(`${layer}: outputSize must be a positive integer, got ${outputSize}`);
  }
  return outputSize;
}

/**
 * Max pooling to a fixed length whatever the input's, as PyTorch's `nn.AdaptiveMaxPool1d`:
 * output `i` is the maximum of samples `floor(i·L/OL)` to `ceil((i+1)·L/OL)` (exclusive).
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { AdaptiveMaxPool1d } from "./pooling_1d.ts";
 * await defaultDevice();
 * console.log(new AdaptiveMaxPool1d(5).forward(randn([2, 3, 17]).withRank(3)).shape); // [2, 3, 5]
 * ```
 */
export class AdaptiveMaxPool1d extends Module {
  /** The output length. */
  readonly outputSize: number;

  /** Creates the layer. */
  constructor(outputSize: number) {
    super();
    this.outputSize = checkedLength("AdaptiveMaxPool1d", outputSize);
  }

  /** The output shape for an input shape `[N, C, L]` (or `[C, L]`). */
  outputShape(input: readonly number[]): number[] {
    return pooledShape("AdaptiveMaxPool1d", input, 1, () => [this.outputSize]);
  }

  /** Pools `x [N, C, L]` to `[N, C, outputSize]`, or one unbatched `[C, L]`. */
  forward<C extends Dim>(x: Tensor<readonly [C, Dim], "f32">): Tensor<[C, number], "f32">;
  /** The same over a batch, `x [N, C, L]`. */
  forward<N extends Dim, C extends Dim>(
    x: Tensor<readonly [N, C, Dim], "f32">,
  ): Tensor<[N, C, number], "f32">;
  forward(x: Tensor<Shape, "f32">): Tensor<Shape, "f32"> {
    return adaptiveMaxPool1d(x, this.outputSize);
  }
}

/**
 * Average pooling to a fixed length whatever the input's, as PyTorch's `nn.AdaptiveAvgPool1d`:
 * output `i` averages samples `floor(i·L/OL)` to `ceil((i+1)·L/OL)` (exclusive).
 *
 * @example A global average over time
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { AdaptiveAvgPool1d } from "./pooling_1d.ts";
 * await defaultDevice();
 * console.log(new AdaptiveAvgPool1d(1).forward(randn([2, 3, 17]).withRank(3)).shape); // [2, 3, 1]
 * ```
 */
export class AdaptiveAvgPool1d extends Module {
  /** The output length. */
  readonly outputSize: number;

  /** Creates the layer. */
  constructor(outputSize: number) {
    super();
    this.outputSize = checkedLength("AdaptiveAvgPool1d", outputSize);
  }

  /** The output shape for an input shape `[N, C, L]` (or `[C, L]`). */
  outputShape(input: readonly number[]): number[] {
    return pooledShape("AdaptiveAvgPool1d", input, 1, () => [this.outputSize]);
  }

  /** Pools `x [N, C, L]` to `[N, C, outputSize]`, or one unbatched `[C, L]`. */
  forward<C extends Dim>(x: Tensor<readonly [C, Dim], "f32">): Tensor<[C, number], "f32">;
  /** The same over a batch, `x [N, C, L]`. */
  forward<N extends Dim, C extends Dim>(
    x: Tensor<readonly [N, C, Dim], "f32">,
  ): Tensor<[N, C, number], "f32">;
  forward(x: Tensor<Shape, "f32">): Tensor<Shape, "f32"> {
    return adaptiveAvgPool1d(x, this.outputSize);
  }
}
