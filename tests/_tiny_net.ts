/**
 * A two-layer perceptron with dropout for the training-loop tests: fast on a software
 * rasteriser, its dropout generator exposed for the loop state, and hooks on its forward calls
 * (to stop a run, or to poison a step's output with NaN).
 */

import { fromTypedArray, keep, type Tensor } from "../mod.ts";
import { Dropout } from "../nn/dropout.ts";
import { Flatten } from "../nn/flatten.ts";
import { Linear } from "../nn/linear.ts";
import { Module } from "../nn/module.ts";
import { Sequential } from "../nn/sequential.ts";
import { Generator } from "../tensor/random.ts";

/** Sizes of a {@link TinyNet}. */
export interface TinyNetOptions {
  /** Side of the square inputs; default 8. */
  size?: number;
  /** Outputs; default 4. */
  classes?: number;
  /** Hidden units; default 32. */
  hidden?: number;
  /** Drop probability; default 0.25. */
  dropout?: number;
}

/** Linear → ReLU → dropout → linear, initialised from `seed`, its dropout from `seed + 1000`. */
export class TinyNet extends Module {
  /** The dropout masks' generator (a loop state's `dropout`). */
  readonly generator: Generator;
  readonly net: Sequential;
  /** Called before each training-mode forward with the call's index. */
  onForward: (call: number) => void = () => {};
  /** Training-mode forward calls whose output is poisoned with NaN. */
  poison: (call: number) => boolean = () => false;
  /** Called before each evaluation-mode forward with the call's index. */
  onEvalForward: (call: number) => void = () => {};
  /** Training-mode forward calls so far. */
  calls = 0;
  /** Evaluation-mode forward calls so far. */
  evalCalls = 0;
  #nan: Tensor;

  constructor(seed: number, options: TinyNetOptions = {}) {
    super();
    const { size = 8, classes = 4, hidden = 32, dropout = 0.25 } = options;
    const init = new Generator(seed);
    this.generator = new Generator(seed + 1000);
    this.net = this.registerModule(
      "net",
      new Sequential(
        new Flatten(),
        new Linear({
          inFeatures: 3 * size * size,
          outFeatures: hidden,
          relu: true,
          generator: init,
        }),
        new Dropout({ p: dropout, generator: this.generator }),
        new Linear({ inFeatures: hidden, outFeatures: classes, generator: init }),
      ),
    );
    this.#nan = keep(fromTypedArray(new Float32Array([NaN]), [1]));
  }

  forward(x: Tensor): Tensor {
    if (!this.training) {
      this.onEvalForward(this.evalCalls++);
      return this.net.forward(x);
    }
    const call = this.calls++;
    this.onForward(call);
    const y = this.net.forward(x);
    return this.poison(call) ? y.mul(this.#nan) : y;
  }
}
