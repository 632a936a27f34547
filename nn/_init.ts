/**
 * Parameter initialisation shared by the layers: PyTorch's default bounds, and draws of one
 * shard of a larger tensor that reproduce exactly the elements a draw of the whole tensor
 * would give (so a network split over devices starts from the same weights as on one).
 *
 * @module
 */

import { full } from "../tensor/creation.ts";
import type { Device } from "../tensor/default_device.ts";
import { type Generator, globalGenerator } from "../tensor/random.ts";
import { numel } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";

/**
 * Makes the initial value of a layer's parameter `name` (`"weight"` or `"bias"`) with the given
 * shape on `device`. Layers call it once per parameter, weight first.
 */
export type ParameterInit = (name: string, shape: readonly number[], device: Device) => Tensor;

/**
 * PyTorch's default for `Conv2d` and `Linear`: weights and biases uniform in ±1/√fan_in
 * (what `kaiming_uniform_(a=√5)` reduces to), with `fan_in = (in / groups) · kernel area`;
 * a layer with no inputs (fan_in 0) gets zeros, as PyTorch's bias there (±1/√0 drew NaN).
 */
export function defaultInit(fanIn: number, generator?: Generator): ParameterInit {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return (_name, shape, device) =>
    (generator ?? globalGenerator()).uniform(shape, -bound, bound, device);
}

/** A distribution to fill a parameter with. */
export type Fill = { normal: number } | { constant: number };

/**
 * Rows `[start, end)` (along axis 0) of a tensor of `fullShape` drawn from `fill`, exactly
 * as one draw of the whole tensor at the generator's current position would give them. The
 * generator is not advanced; call {@link advance} once after the last shard.
 *
 * Philox element `i` of a draw depends only on the stream position plus `floor(i / 4)` and
 * `i mod 4`, so a shard starts the stream at its first element's counter and drops the
 * leading elements of that group of four.
 */
export function drawRows(
  generator: Generator,
  fill: Fill,
  fullShape: readonly number[],
  start: number,
  end: number,
  device: Device,
): Tensor {
  const shape = [end - start, ...fullShape.slice(1)];
  if ("constant" in fill) return full(shape, fill.constant, { device });
  const first = start * numel(fullShape.slice(1));
  const count = numel(shape);
  const base = generator.state();
  const lead = first % 4;
  generator.setState({ seed: base.seed, offset: base.offset + (first - lead) / 4 });
  const drawn = generator.normal([lead + count], 0, fill.normal, device);
  generator.setState(base);
  const rows = drawn.slice(0, lead, lead + count);
  const out = rows.reshape(shape);
  for (const t of [drawn, rows]) if (t !== out) t.dispose();
  return out;
}

/** Moves the generator past a draw of `shape` from `fill` (constants draw nothing). */
export function advance(generator: Generator, fill: Fill, shape: readonly number[]): void {
  if ("constant" in fill) return;
  const { seed, offset } = generator.state();
  generator.setState({ seed, offset: offset + Math.ceil(numel(shape) / 4) });
}

/**
 * torchvision's convolution initialisation in its ResNets and VGGs: weights normal with
 * `kaiming_normal_(mode="fan_out", nonlinearity="relu")`'s deviation √(2/fan_out), `fan_out =
 * out · kernel area`, and zero biases.
 */
export function kaimingFanOutInit(generator?: Generator): ParameterInit {
  return (name, shape, device) =>
    name === "bias" ? full(shape, 0, { device }) : (generator ?? globalGenerator()).normal(
      shape,
      0,
      Math.sqrt(2 / numel([shape[0], ...shape.slice(2)])),
      device,
    );
}

/** Weights normal with deviation `std`, zero biases: torchvision's VGG classifier (std 0.01). */
export function normalInit(std: number, generator?: Generator): ParameterInit {
  return (name, shape, device) =>
    name === "bias"
      ? full(shape, 0, { device })
      : (generator ?? globalGenerator()).normal(shape, 0, std, device);
}
