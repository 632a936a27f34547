/**
 * Elementwise ops, each with its backward beside its forward.
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import { binary, type BinaryOp, fill, unary, type UnaryOp } from "../kernels/elementwise.ts";
import { recordOp } from "./_autograd.ts";
import { Storage } from "./memory.ts";
import { broadcastShapes, type DType, numel, type Shape, ShapeError } from "./shape.ts";
import { Tensor } from "./tensor.ts";
import { sum } from "./ops_reduce.ts";
import { contiguous, reshape } from "./ops_shape.ts";

/** A new, uninitialised contiguous tensor (internal: ops fill it). */
export function empty<D extends DType>(
  device: Device,
  shape: readonly number[],
  dtype: D,
  label = "tensor",
): Tensor<Shape, D> {
  const buffer = device.alloc(Math.max(numel(shape), 1) * 4, label);
  return new Tensor<Shape, D>(new Storage(buffer), shape, dtype);
}

/** Throws unless all tensors live on one device, naming both and pointing to `.to()`. */
export function sameDevice(op: string, ...tensors: Tensor[]): Device {
  const device = tensors[0].device;
  for (const t of tensors) {
    if (t.device !== device) {
      throw new Error(
        `${op}: tensors are on different devices (${device.describe()} and ` +
          `${t.device.describe()}); move one with \`await t.to(device)\``,
      );
    }
  }
  return device;
}

/** Throws unless every tensor has dtype f32. */
export function requireFloat(op: string, ...tensors: Tensor[]): void {
  for (const t of tensors) {
    if (t.dtype !== "f32") {
      throw new TypeError(`${op}: expected an f32 tensor, got ${t.dtype} of shape [${t.shape}]`);
    }
  }
}

/** Applies a unary map; `value` is the scalar of `pow` and the `*Scalar` maps. */
export function unaryOp(x: Tensor, op: UnaryOp, value = 0): Tensor<Shape, "f32"> {
  requireFloat(op, x);
  const input = contiguous(x);
  const out = empty(x.device, x.shape, "f32");
  unary(x.device, op, input.storage.buffer, out.storage.buffer, x.size, value);
  if (input !== x) input.dispose();
  const saved = op === "exp" || op === "sqrt" || op === "relu" || op === "tanh" ||
      op === "sigmoid"
    ? [out]
    : [x];
  return recordOp(out, op, [x], saved, ([s]) => (g) => [unaryBackward(op, value, g, s)]);
}

/** The gradient of a unary map; `s` is the output for maps whose gradient is cheaper that way. */
function unaryBackward(op: UnaryOp, value: number, g: Tensor, s: Tensor): Tensor | null {
  switch (op) {
    case "copy":
    case "addScalar":
      return unaryOp(g, "copy");
    case "neg":
      return unaryOp(g, "neg");
    case "mulScalar":
      return unaryOp(g, "mulScalar", value);
    case "exp":
      return binaryOp(g, s, "mul");
    case "log":
      return binaryOp(g, s, "div");
    case "sqrt": {
      const twice = unaryOp(s, "mulScalar", 2);
      const out = binaryOp(g, twice, "div");
      twice.dispose();
      return out;
    }
    case "abs": {
      const sign = unaryOp(s, "sign");
      const out = binaryOp(g, sign, "mul");
      sign.dispose();
      return out;
    }
    case "pow": {
      const power = unaryOp(s, "pow", value - 1);
      const scaled = unaryOp(power, "mulScalar", value);
      const out = binaryOp(g, scaled, "mul");
      power.dispose();
      scaled.dispose();
      return out;
    }
    case "relu":
      return binaryOp(g, s, "reluMask");
    case "tanh": {
      const square = binaryOp(s, s, "mul");
      const slope = unaryOp(square, "rsubScalar", 1);
      const out = binaryOp(g, slope, "mul");
      square.dispose();
      slope.dispose();
      return out;
    }
    case "sigmoid": {
      const complement = unaryOp(s, "rsubScalar", 1);
      const slope = binaryOp(s, complement, "mul");
      const out = binaryOp(g, slope, "mul");
      complement.dispose();
      slope.dispose();
      return out;
    }
    case "rdivScalar": {
      const square = binaryOp(s, s, "mul");
      const ratio = binaryOp(g, square, "div");
      const out = unaryOp(ratio, "mulScalar", -value);
      square.dispose();
      ratio.dispose();
      return out;
    }
    case "rsubScalar":
      return unaryOp(g, "neg");
    case "sign":
    case "gtScalar":
      return null;
  }
}

/** Applies a broadcasting binary map. */
export function binaryOp(a: Tensor, b: Tensor, op: BinaryOp): Tensor<Shape, "f32"> {
  requireFloat(op, a, b);
  const device = sameDevice(op, a, b);
  const shape = broadcastShapes(a.shape, b.shape, op);
  const out = empty(device, shape, "f32");
  binary(device, op, shape, operand(a, shape), operand(b, shape), out.storage.buffer);
  if (op !== "add" && op !== "sub" && op !== "mul" && op !== "div") return out;
  return recordOp(out, op, [a, b], op === "add" || op === "sub" ? [] : [a, b], (saved) => (g) => {
    const [sa, sb] = saved;
    switch (op) {
      case "add":
        return [sumTo(g, a.shape), sumTo(g, b.shape)];
      case "sub":
        return [sumTo(g, a.shape), negated(sumTo(g, b.shape))];
      case "mul":
        return [productTo(g, sb, a.shape), productTo(g, sa, b.shape)];
      case "div": {
        // d(a/b)/db = −a / b² = −(a/b) / b.
        const quotient = binaryOp(g, sb, "div");
        const ratio = binaryOp(sa, sb, "div");
        const gradB = binaryOp(quotient, ratio, "mul");
        const result = [sumTo(quotient, a.shape), negated(sumTo(gradB, b.shape))];
        [quotient, ratio, gradB].forEach((t) => t.dispose());
        return result;
      }
    }
  });
}

function negated(t: Tensor): Tensor {
  const out = unaryOp(t, "neg");
  t.dispose();
  return out;
}

function productTo(g: Tensor, factor: Tensor, shape: readonly number[]): Tensor {
  const product = binaryOp(g, factor, "mul");
  const out = sumTo(product, shape);
  if (out !== product) product.dispose();
  return out;
}

/** The strides a tensor is read with when broadcast to `shape` (0 along broadcast axes). */
function operand(t: Tensor, shape: readonly number[]) {
  const shift = shape.length - t.rank;
  return {
    buffer: t.storage.buffer,
    offset: t.offset,
    strides: shape.map((_, axis) => {
      const own = axis - shift;
      return own < 0 || t.shape[own] === 1 ? 0 : t.strides[own];
    }),
  };
}

/** Sums a broadcast gradient back down to `shape`. Returns `g` itself if nothing to reduce. */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) {
    return unaryOp(g, "copy");
  }
  const shift = g.rank - shape.length;
  const axes: number[] = [];
  for (let axis = 0; axis < g.rank; axis++) {
    if (axis < shift || (shape[axis - shift] === 1 && g.shape[axis] !== 1)) axes.push(axis);
  }
  const reduced = sum(g, axes, true);
  const out = reshape(reduced, shape);
  if (out !== reduced) reduced.dispose();
  return out;
}

type Operand = Tensor | number;

function scalarOrTensor(
  op: "add" | "sub" | "mul" | "div",
  a: Tensor,
  b: Operand,
): Tensor<Shape, "f32"> {
  if (typeof b !== "number") return binaryOp(a, b, op);
  if (!Number.isFinite(b) && op !== "mul") {
    throw new RangeError(`${op}: the scalar operand is ${b}`);
  }
  switch (op) {
    case "add":
      return unaryOp(a, "addScalar", b);
    case "sub":
      return unaryOp(a, "addScalar", -b);
    case "mul":
      return unaryOp(a, "mulScalar", b);
    case "div":
      if (b === 0) throw new RangeError("div: division by the scalar 0");
      return unaryOp(a, "mulScalar", 1 / b);
  }
}

/** `a + b` with broadcasting (b may be a number). */
export function add(a: Tensor, b: Operand): Tensor<Shape, "f32"> {
  return scalarOrTensor("add", a, b);
}

/** `a − b` with broadcasting. */
export function sub(a: Tensor, b: Operand): Tensor<Shape, "f32"> {
  return scalarOrTensor("sub", a, b);
}

/** `a · b` elementwise with broadcasting. */
export function mul(a: Tensor, b: Operand): Tensor<Shape, "f32"> {
  return scalarOrTensor("mul", a, b);
}

/** `a / b` elementwise with broadcasting. */
export function div(a: Tensor, b: Operand): Tensor<Shape, "f32"> {
  return scalarOrTensor("div", a, b);
}

/** A tensor of ones with the shape and device of `t`. */
export function onesLike(t: Tensor): Tensor<Shape, "f32"> {
  return full(t.device, t.shape, 1);
}

/** A new tensor of `shape` filled with `value`. */
export function full(
  device: Device,
  shape: readonly number[],
  value: number,
): Tensor<Shape, "f32"> {
  const out = empty(device, shape, "f32");
  fill(device, out.storage.buffer, numel(shape), value);
  return out;
}

/** Throws a ShapeError when shapes differ (used by ops that do not broadcast). */
export function requireShape(op: string, t: Tensor, shape: readonly number[]): void {
  if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`${op}: expected shape [${shape}], got [${t.shape}]`);
  }
}
