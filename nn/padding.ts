/**
 * The padding layers, as PyTorch's: `ZeroPad1d`/`2d`, `ConstantPad1d`/`2d`,
 * `ReflectionPad1d`/`2d`, `ReplicationPad1d`/`2d` and `CircularPad1d`/`2d`, over `pad`.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import { pad, paddedShape, type PadMode } from "../tensor/ops_pad.ts";
import type { Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** Options of {@link Pad}. */
export interface PadConfig {
  /**
   * The pads: one number for each side of the last `axes` axes, or PyTorch's tuple from the
   * last axis backwards (`[left, right]`, `[left, right, top, bottom]`, …).
   */
  padding: number | readonly number[];
  /** The axes a single number pads (default 2); a tuple says it by its length. */
  axes?: number;
  /** The padding mode (default `"constant"`). */
  mode?: PadMode;
  /** The fill of constant padding (default 0). */
  value?: number;
}

const PAD_OPTIONS = optionNames<PadConfig>({ padding: true, axes: true, mode: true, value: true });

/**
 * Pads the last axes of its input as `pad` does: the layer behind PyTorch's padding modules,
 * and one for any mode and number of axes.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { Pad } from "./padding.ts";
 * await defaultDevice();
 * const layer = new Pad({ padding: [1, 1, 2, 0], mode: "reflect" });
 * console.log(layer.forward(randn([1, 3, 4, 4])).shape); // [1, 3, 6, 6]
 * ```
 */
export class Pad extends Module {
  /** The pads, from the last axis backwards (`[left, right, top, bottom]` in 2-D). */
  readonly padding: readonly number[];
  /** The padding mode. */
  readonly mode: PadMode;
  /** The fill of constant padding. */
  readonly value: number;

  /** Creates the layer. */
  constructor(config: PadConfig) {
    super();
    checkOptions("Pad", config, PAD_OPTIONS, true);
    const { padding, axes = 2, mode = "constant", value = 0 } = config;
    const pads = typeof padding === "number" ? Array(2 * axes).fill(padding) : [...padding];
    const sized = typeof padding === "number" || config.axes === undefined ||
      pads.length === 2 * axes;
    if (!sized || pads.length % 2 !== 0 || !pads.every(Number.isInteger)) {
      throw new RangeError(
        `${new.target.name}: padding must be an integer or ${2 * axes} integers, got ${padding}`,
      );
    }
    this.padding = pads;
    this.mode = mode;
    this.value = value;
  }

  /** Pads `x`. */
  forward(x: Tensor<Shape, "f32">): Tensor<Shape, "f32"> {
    const options = this.mode === "constant" ? { mode: this.mode, value: this.value } : {
      mode: this.mode,
    };
    return pad(x, this.padding, options) as Tensor<Shape, "f32">;
  }

  /** The output shape for an input shape. */
  outputShape(input: readonly number[]): number[] {
    return paddedShape(input, this.padding);
  }
}

/** The padding of a 1-D layer (`[left, right]`) or of a 2-D one (`[left, right, top, bottom]`). */
export type Padding = number | readonly number[];

/**
 * Zero padding of the last axis, as PyTorch's `nn.ZeroPad1d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { ZeroPad1d } from "./padding.ts";
 * await defaultDevice();
 * console.log(await new ZeroPad1d([1, 0]).forward(tensor([[[1, 2]]])).toArray()); // [[[0, 1, 2]]]
 * ```
 */
export class ZeroPad1d extends Pad {
  /** Creates the layer. */
  constructor(padding: Padding) {
    super({ padding, axes: 1, mode: "constant" });
  }
}

/**
 * Zero padding of the last two axes, as PyTorch's `nn.ZeroPad2d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { ZeroPad2d } from "./padding.ts";
 * await defaultDevice();
 * console.log(new ZeroPad2d([1, 1, 2, 0]).forward(randn([1, 3, 4, 4])).shape); // [1, 3, 6, 6]
 * ```
 */
export class ZeroPad2d extends Pad {
  /** Creates the layer. */
  constructor(padding: Padding) {
    super({ padding, axes: 2, mode: "constant" });
  }
}

/**
 * Constant padding of the last axis, as PyTorch's `nn.ConstantPad1d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { ConstantPad1d } from "./padding.ts";
 * await defaultDevice();
 * const layer = new ConstantPad1d(1, -1);
 * console.log(await layer.forward(tensor([[[1, 2]]])).toArray()); // [[[-1, 1, 2, -1]]]
 * ```
 */
export class ConstantPad1d extends Pad {
  /** Creates the layer. */
  constructor(padding: Padding, value: number) {
    super({ padding, axes: 1, mode: "constant", value });
  }
}

/**
 * Constant padding of the last two axes, as PyTorch's `nn.ConstantPad2d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { ConstantPad2d } from "./padding.ts";
 * await defaultDevice();
 * console.log(new ConstantPad2d(1, 3.5).forward(randn([1, 3, 4, 4])).shape); // [1, 3, 6, 6]
 * ```
 */
export class ConstantPad2d extends Pad {
  /** Creates the layer. */
  constructor(padding: Padding, value: number) {
    super({ padding, axes: 2, mode: "constant", value });
  }
}

/**
 * Reflection padding of the last axis (the edge not repeated), as PyTorch's
 * `nn.ReflectionPad1d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { ReflectionPad1d } from "./padding.ts";
 * await defaultDevice();
 * const layer = new ReflectionPad1d(2);
 * console.log(await layer.forward(tensor([[[1, 2, 3]]])).toArray()); // [[[3, 2, 1, 2, 3, 2, 1]]]
 * ```
 */
export class ReflectionPad1d extends Pad {
  /** Creates the layer. */
  constructor(padding: Padding) {
    super({ padding, axes: 1, mode: "reflect" });
  }
}

/**
 * Reflection padding of the last two axes, as PyTorch's `nn.ReflectionPad2d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { ReflectionPad2d } from "./padding.ts";
 * await defaultDevice();
 * console.log(new ReflectionPad2d(1).forward(randn([1, 3, 4, 4])).shape); // [1, 3, 6, 6]
 * ```
 */
export class ReflectionPad2d extends Pad {
  /** Creates the layer. */
  constructor(padding: Padding) {
    super({ padding, axes: 2, mode: "reflect" });
  }
}

/**
 * Edge-replicating padding of the last axis, as PyTorch's `nn.ReplicationPad1d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { ReplicationPad1d } from "./padding.ts";
 * await defaultDevice();
 * const layer = new ReplicationPad1d([2, 1]);
 * console.log(await layer.forward(tensor([[[1, 2, 3]]])).toArray()); // [[[1, 1, 1, 2, 3, 3]]]
 * ```
 */
export class ReplicationPad1d extends Pad {
  /** Creates the layer. */
  constructor(padding: Padding) {
    super({ padding, axes: 1, mode: "replicate" });
  }
}

/**
 * Edge-replicating padding of the last two axes, as PyTorch's `nn.ReplicationPad2d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { ReplicationPad2d } from "./padding.ts";
 * await defaultDevice();
 * console.log(new ReplicationPad2d([3, 0, 1, 1]).forward(randn([1, 3, 4, 4])).shape); // [1, 3, 6, 7]
 * ```
 */
export class ReplicationPad2d extends Pad {
  /** Creates the layer. */
  constructor(padding: Padding) {
    super({ padding, axes: 2, mode: "replicate" });
  }
}

/**
 * Circular (wrap-around) padding of the last axis, as PyTorch's `nn.CircularPad1d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { CircularPad1d } from "./padding.ts";
 * await defaultDevice();
 * const layer = new CircularPad1d(1);
 * console.log(await layer.forward(tensor([[[1, 2, 3]]])).toArray()); // [[[3, 1, 2, 3, 1]]]
 * ```
 */
export class CircularPad1d extends Pad {
  /** Creates the layer. */
  constructor(padding: Padding) {
    super({ padding, axes: 1, mode: "circular" });
  }
}

/**
 * Circular (wrap-around) padding of the last two axes, as PyTorch's `nn.CircularPad2d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { CircularPad2d } from "./padding.ts";
 * await defaultDevice();
 * console.log(new CircularPad2d(2).forward(randn([1, 3, 4, 4])).shape); // [1, 3, 8, 8]
 * ```
 */
export class CircularPad2d extends Pad {
  /** Creates the layer. */
  constructor(padding: Padding) {
    super({ padding, axes: 2, mode: "circular" });
  }
}
