/**
 * The arithmetic behind `Tensor`'s methods: PyTorch's dtype promotion for `add`, `sub`, `mul`
 * and `div` (i32 with i32 stays i32, wrapping; with f32 or a fraction, f32), the integer
 * divisions and powers, the comparisons, `where` and `maskedFill`, and the matrix product's plan.
 *
 * @module
 */

import { type RawTensor, requireFloat, sameDevice } from "./_core.ts";
import {
  binary,
  type BinaryOp,
  cast,
  type Comparison,
  fill,
  type IntegerDivision,
  unary,
  upload,
} from "./_primitives.ts";
import { clampBounds, matmulPlan, scalarOp } from "./_tensor_args.ts";
import { tidy } from "./memory.ts";
import { apply, isTensor, rawOfTensor, type TensorHandle, wrap } from "./_tensor_handle.ts";
import { broadcastShapes, describeValue, sameShape, ShapeError } from "./shape.ts";
import { requireNumber } from "./options.ts";

/** `a op b` as f32 1 or 0, for a tensor or a number `b`; not recorded (no gradient). */
export function compared(op: Comparison, a: TensorHandle, b: TensorHandle | number): TensorHandle {
  const x = rawOfTensor(a);
  if (typeof b !== "number") return wrap(binary(x, rawOfTensor(b, op), op));
  if (x.dtype === "i32" && Number.isInteger(b) && Math.abs(b) < 2 ** 31) {
    // An integer against an i32 tensor compares exactly, as integers.
    return wrap(withInt32Scalar(x, b, op));
  }
  // Else an i32 tensor is compared as f32, as PyTorch promotes it against a float.
  const float = x.dtype === "f32" ? x.alias() : cast(x, "f32");
  const out = unary(float, `${op}Scalar`, b);
  float.dispose();
  return wrap(out);
}

/** `where(condition, a, b)`, a number branch taking the other's dtype (f32 when both are). */
export function selected(
  condition: TensorHandle,
  a: TensorHandle | number,
  b: TensorHandle | number,
): TensorHandle {
  const tensors = [a, b].filter((t): t is TensorHandle => typeof t !== "number");
  const dtype = tensors[0]?.dtype ?? "f32";
  if (tensors.some((t) => t.dtype !== dtype)) {
    throw new TypeError(
      `where: the branches are ${tensors[0].dtype} and ${tensors[1].dtype}; ` +
        "convert one with .float() or .int()",
    );
  }
  const made: TensorHandle[] = [];
  const asTensor = (t: TensorHandle | number) => {
    if (typeof t !== "number") return t;
    if (dtype === "i32" && !Number.isInteger(t)) {
      throw new TypeError(`where: ${t} is not an integer, and the other branch is i32`);
    }
    const data = dtype === "i32" ? Int32Array.of(t) : Float32Array.of(t);
    const scalar = wrap(upload(condition.device, data, [], dtype));
    made.push(scalar);
    return scalar;
  };
  try {
    return apply("where", [condition, asTensor(a), asTensor(b)], {});
  } finally {
    for (const t of made) t.dispose();
  }
}

/** `x op value` for an i32 tensor `x` and an integer `value`, unrecorded. */
export function withInt32Scalar(x: RawTensor, value: number, op: BinaryOp): RawTensor {
  const scalar = upload(x.device, Int32Array.of(value), [], "i32");
  try {
    return binary(x, scalar, op);
  } finally {
    scalar.dispose();
  }
}

/**
 * `a op b` for an i32 tensor `a` and an i32 tensor or integer `b`, into i32 (wrapping past
 * ±2³¹, as PyTorch's int32), unrecorded: an integer tensor has no gradient.
 */
export function integerArithmetic(
  op: "add" | "sub" | "mul" | IntegerDivision,
  a: TensorHandle,
  b: TensorHandle | number,
): TensorHandle {
  const x = rawOfTensor(a);
  if (typeof b !== "number") return wrap(binary(x, rawOfTensor(b, op), op));
  if (b < -(2 ** 31) || b >= 2 ** 31) {
    // As PyTorch: "value cannot be converted to type int32 without overflow".
    throw new RangeError(`${op}: ${b} does not fit an i32 (the tensor's dtype)`);
  }
  return wrap(withInt32Scalar(x, b, op));
}

/**
 * `a op b` for an integer division (`//`, `%`, `fmod`): both i32 (a tensor and an integer, or
 * two tensors), as there are no float kernels for them yet.
 */
export function integerDivided(
  op: IntegerDivision,
  a: TensorHandle,
  b: TensorHandle | number,
): TensorHandle {
  if (typeof b !== "number" && !isTensor(b)) {
    throw new TypeError(`${op}: the operand is a Tensor or a number, got ${describeValue(b)}`);
  }
  const bType = typeof b === "number" ? (Number.isInteger(b) ? "i32" : "f32") : b.dtype;
  if (a.dtype !== "i32" || bType !== "i32") {
    throw new TypeError(
      `${op}: takes an i32 tensor and an i32 tensor or integer, got ${a.dtype} and ` +
        `${typeof b === "number" ? b : bType}; f32 has no ${op} yet`,
    );
  }
  return integerArithmetic(op, a, b);
}

/**
 * `x^exponent` for an i32 tensor and a non-negative integer exponent, as i32 (wrapping), by
 * repeated squaring: one multiplication per bit of the exponent and one per set bit.
 */
export function integerPower(x: RawTensor, exponent: number): RawTensor {
  const ones = fill(x.device, x.shape, 1);
  let result = cast(ones, "i32");
  ones.dispose();
  let square = x.alias();
  for (let e = exponent; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) {
      const product = binary(result, square, "mul", "pow");
      result.dispose();
      result = product;
    }
    if (e > 1) {
      const next = binary(square, square, "mul", "pow");
      square.dispose();
      square = next;
    }
  }
  square.dispose();
  return result;
}

/** `x^exponent` for an i32 tensor `x`: i32 for a non-negative integer, f32 for a fraction. */
function integerPow(x: TensorHandle, exponent: number): TensorHandle {
  if (!Number.isInteger(exponent)) {
    using float = x.float();
    return float.pow(exponent);
  }
  if (exponent < 0) {
    throw new RangeError(`pow: integers to negative integer powers are not allowed (${exponent})`);
  }
  return wrap(integerPower(rawOfTensor(x), exponent));
}

/**
 * `a op b` for a tensor or a scalar `b` (a scalar becomes a scalar op). An i32 operand meets an
 * f32 one, or a fraction, as f32, as PyTorch promotes it; i32 with i32 (or an integer) stays
 * i32 for `add`, `sub` and `mul`, and `div` is true division into f32, as PyTorch's.
 */
export function arithmetic(
  op: "add" | "sub" | "mul" | "div",
  a: TensorHandle,
  b: TensorHandle | number,
): TensorHandle {
  const scalar = typeof b === "number";
  if (!scalar && !isTensor(b)) {
    throw new TypeError(`${op}: the operand is a Tensor or a number, got ${describeValue(b)}`);
  }
  const bType = scalar ? (Number.isInteger(b) ? "i32" : "f32") : rawOfTensor(b, op).dtype;
  if (a.dtype === "i32" && bType === "i32" && op !== "div") return integerArithmetic(op, a, b);
  if (a.dtype !== "f32" || (!scalar && b.dtype !== "f32")) {
    // The casts are unrecorded (an i32 tensor has no gradient); the graph keeps what it needs.
    const [left, right] = [a, b].map((t) => typeof t === "number" ? t : t.float());
    const out = arithmetic(op, left as TensorHandle, right);
    for (const [given, cast] of [[a, left], [b, right]]) {
      if (cast !== given) (cast as TensorHandle).dispose();
    }
    return out;
  }
  if (!scalar) return apply(op, [a, b], {});
  const { op: scalarKind, value } = scalarOp(op, b);
  return apply(scalarKind, [a], { value });
}

/**
 * `a.matmul(b)` with PyTorch's rules for 1-D operands and broadcast batch axes: the operands
 * expanded and reshaped to 3-D as planned, one batched product, the result reshaped back.
 */
export function matrixProduct(a: TensorHandle, b: TensorHandle): TensorHandle {
  // Checked before any view or copy is made, so that a refused product allocates nothing.
  requireFloat("matmul", a, b);
  sameDevice("matmul", a, b);
  const plan = matmulPlan(a.shape, b.shape);
  const made: TensorHandle[] = [];
  const operand = (t: TensorHandle, i: 0 | 1) => {
    const expand = plan.expand[i], shape = plan.operands[i];
    let x = t;
    if (expand) made.push(x = apply("expand", [x], { shape: expand }));
    if (!sameShape(x.shape, shape)) {
      made.push(x = apply("reshape", [x], { shape }));
    }
    return x;
  };
  try {
    const product = apply("matmul", [operand(a, 0), operand(b, 1)], {});
    if (sameShape(product.shape, plan.out)) return product;
    made.push(product);
    return apply("reshape", [product], { shape: plan.out });
  } finally {
    for (const t of made) t.dispose();
  }
}

/** `x.maskedFill(mask, value)`: `where(mask, value, x)`, the mask broadcasting to `x`. */
export function maskedFilled(x: TensorHandle, mask: TensorHandle, value: number): TensorHandle {
  requireNumber("maskedFill", "the value", value);
  sameDevice("maskedFill", x, mask);
  const shape = broadcastShapes(mask.shape, x.shape, "maskedFill");
  if (!sameShape(shape, x.shape)) {
    throw new ShapeError(`maskedFill: the mask [${mask.shape}] does not broadcast to [${x.shape}]`);
  }
  return selected(mask, value, x);
}

/** `x.pow(exponent)`: by a tensor (f32), or by a number (an i32 tensor by integer powers). */
export function powerOf(x: TensorHandle, exponent: number | TensorHandle): TensorHandle {
  if (isTensor(exponent)) return apply("powTensor", [x, exponent], {});
  if (typeof exponent !== "number") {
    // It was read as NaN, giving numbers with no meaning.
    throw new TypeError(`pow: the exponent must be a number or a tensor, got ${typeof exponent}`);
  }
  if (x.dtype === "i32") return integerPow(x, exponent);
  return apply("pow", [x], { exponent });
}

/** `x.clamp(min, max)`: by numbers in one op, or by tensors as two `where`s. */
export function clamped(
  x: TensorHandle,
  min?: number | TensorHandle | null,
  max?: number | TensorHandle | null,
): TensorHandle {
  if (isTensor(min) || isTensor(max)) {
    // max(x, min) then min(·, max), each a `where` so that a tie passes the gradient to x.
    return tidy(() => {
      const low = min == null ? x : selected(x.lt(min), min, x);
      return max == null ? low : selected(low.gt(max), max, low);
    });
  }
  return apply("clamp", [x], clampBounds(x.dtype, min, max));
}
