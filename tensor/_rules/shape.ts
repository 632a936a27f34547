/**
 * Shape ops. `reshape` of contiguous data, `permute` and `expand` (a broadcast, stride 0 along
 * the new axes) are views; `contiguous`, `slice` and
 * `concat` copy with the strided-copy primitive. Their gradients move the gradient back into
 * the input's layout.
 *
 * @module
 */

import { empty, type RawTensor } from "../_core.ts";
import { contiguous, copyInto, expanded, place, reshape } from "../_primitives.ts";
import { contiguousStrides } from "../shape.ts";
import { summedTo } from "./elementwise.ts";
import type { Rules } from "./rule.ts";

/** A contiguous copy of every `step`-th element of `[start, end)` along `axis` of `x`. */
function sliceOf(x: RawTensor, axis: number, start: number, end: number, step = 1): RawTensor {
  const shape = x.shape.map((d, i) => (i === axis ? Math.ceil((end - start) / step) : d));
  const strides = x.strides.map((s, i) => (i === axis ? s * step : s));
  const view = x.view(shape, strides, x.offset + start * x.strides[axis]);
  const out = contiguous(view);
  view.dispose();
  return out;
}

/** `x` with its axes reordered, as a view. */
export function permuted(x: RawTensor, order: readonly number[]): RawTensor {
  return x.view(order.map((a) => x.shape[a]), order.map((a) => x.strides[a]), x.offset);
}

/** The shape rules. */
export const shapeRules: Rules<
  "contiguous" | "reshape" | "permute" | "expand" | "slice" | "concat"
> = {
  contiguous: {
    forward: ([x]) => contiguous(x),
    backward: (g) => [g.alias()],
  },
  reshape: {
    forward: ([x], { shape }) => reshape(x, shape),
    backward: (g, _p, ctx) => [reshape(g, ctx.inputs[0].shape)],
  },
  permute: {
    forward: ([x], { order }) => permuted(x, order),
    backward(g, { order }) {
      const inverse = new Array<number>(order.length);
      order.forEach((a, i) => (inverse[a] = i));
      return [permuted(g, inverse)];
    },
  },
  expand: {
    forward: ([x], { shape }) => expanded(x, shape),
    // Each element was read once per copy: its gradient is the sum over the broadcast axes.
    backward: (g, _p, ctx) => [summedTo(g, ctx.inputs[0].shape)],
  },
  slice: {
    forward: ([x], { axis, start, end, step }) => sliceOf(x, axis, start, end, step),
    backward(g, { axis, start, step }, ctx) {
      const shape = ctx.inputs[0].shape;
      const strides = contiguousStrides(shape);
      const stepped = strides.map((s, i) => (i === axis ? s * step : s));
      return [place(g, shape, start * strides[axis], stepped)];
    },
  },
  concat: {
    forward(xs, { axis }) {
      const first = xs[0];
      const total = xs.reduce((sum, t) => sum + t.shape[axis], 0);
      const out = empty(
        first.device,
        first.shape.map((d, i) => (i === axis ? total : d)),
        first.dtype,
      );
      let at = 0;
      for (const t of xs) {
        copyInto(t, out, at * out.strides[axis]);
        at += t.shape[axis];
      }
      return out;
    },
    backward(g, { axis }, ctx) {
      let at = 0;
      return ctx.inputs.map(({ shape }) => {
        const part = sliceOf(g, axis, at, at + shape[axis]);
        at += shape[axis];
        return part;
      });
    },
  },
};
