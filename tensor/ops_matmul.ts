/**
 * Matrix products. A transposed operand (a view with swapped strides, such as `w.T()`) is read
 * in place by the kernel, so `x.matmul(w.T())` and every backward product cost no copy.
 *
 * @module
 */

import { matmul as matmulKernel } from "../kernels/matmul.ts";
import { recordOp } from "./_autograd.ts";
import { type Shape, ShapeError } from "./shape.ts";
import type { Tensor } from "./tensor.ts";
import { binaryOp, empty, requireFloat, sameDevice } from "./ops_elementwise.ts";
import { sum } from "./ops_reduce.ts";
import { contiguous, transpose } from "./ops_shape.ts";

/** How the kernel reads an operand: its storage, whether transposed, and its batch stride. */
interface Layout {
  tensor: Tensor;
  transposed: boolean;
  batchStride: number;
}

/**
 * Finds a layout the kernel reads directly: row-major, or row-major with the last two axes
 * swapped. Anything else is copied first.
 */
function layoutOf(t: Tensor): Layout {
  const r = t.rank;
  const rows = t.shape[r - 2], cols = t.shape[r - 1];
  const batchStride = r === 3 ? (t.shape[0] === 1 ? 0 : t.strides[0]) : 0;
  const packedBatch = r === 2 || t.shape[0] === 1 || t.strides[0] === rows * cols;
  if (t.offset === 0 && packedBatch) {
    if ((t.strides[r - 1] === 1 || cols === 1) && (t.strides[r - 2] === cols || rows === 1)) {
      return { tensor: t, transposed: false, batchStride };
    }
    if ((t.strides[r - 2] === 1 || rows === 1) && (t.strides[r - 1] === rows || cols === 1)) {
      return { tensor: t, transposed: true, batchStride };
    }
  }
  const packed = contiguous(t);
  return {
    tensor: packed,
    transposed: false,
    batchStride: r === 3 && t.shape[0] !== 1 ? rows * cols : 0,
  };
}

/** `a @ b` for `[M, K] × [K, N]` or batched `[B, M, K] × [B, K, N]` (batch 1 broadcasts). */
export function matmul(a: Tensor, b: Tensor): Tensor<Shape, "f32"> {
  requireFloat("matmul", a, b);
  const device = sameDevice("matmul", a, b);
  const ranks = `${a.rank}-D and ${b.rank}-D`;
  if (a.rank !== b.rank || a.rank < 2 || a.rank > 3) {
    throw new ShapeError(
      `matmul: expected two 2-D or two 3-D tensors, got ${ranks}: [${a.shape}] and [${b.shape}]`,
    );
  }
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  if (k !== k2) {
    throw new ShapeError(
      `matmul: inner dimensions differ: [${a.shape}] × [${b.shape}] (${k} ≠ ${k2})`,
    );
  }
  const batchA = a.rank === 3 ? a.shape[0] : 1;
  const batchB = b.rank === 3 ? b.shape[0] : 1;
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) {
    throw new ShapeError(`matmul: batch sizes ${batchA} and ${batchB} do not broadcast`);
  }
  const batch = Math.max(batchA, batchB);
  const la = layoutOf(a), lb = layoutOf(b);
  const out = empty(device, a.rank === 3 ? [batch, m, n] : [m, n], "f32");
  matmulKernel(device, {
    a: la.tensor.storage.buffer,
    b: lb.tensor.storage.buffer,
    out: out.storage.buffer,
    m,
    n,
    k,
    batch,
    batchStrideA: la.batchStride,
    batchStrideB: lb.batchStride,
    transA: la.transposed,
    transB: lb.transposed,
  });
  if (la.tensor !== a) la.tensor.dispose();
  if (lb.tensor !== b) lb.tensor.dispose();
  return recordOp(out, "matmul", [a, b], [a, b], ([sa, sb]) => (g) => [
    a.requiresGrad ? reduceBatch(matmulTransposed(g, sb, "right"), a.shape) : null,
    b.requiresGrad ? reduceBatch(matmulTransposed(sa, g, "left"), b.shape) : null,
  ]);
}

/** `x · yᵀ` or `xᵀ · y` through a transposed view, which is dropped afterwards. */
function matmulTransposed(x: Tensor, y: Tensor, which: "left" | "right"): Tensor {
  const view = transpose(which === "left" ? x : y, -1, -2);
  const out = which === "left" ? matmul(view, y) : matmul(x, view);
  view.dispose();
  return out;
}

/** Sums a batched gradient over the batch when the operand was broadcast. */
function reduceBatch(grad: Tensor, shape: readonly number[]): Tensor {
  if (grad.rank === shape.length && grad.shape[0] === shape[0]) return grad;
  const summed = sum(grad, [0], true);
  grad.dispose();
  return summed;
}

/**
 * `x · wᵀ + bias`, optionally followed by ReLU, in one kernel (bias and ReLU in the epilogue).
 * `x` is `[N, in]`, `w` is `[out, in]` (PyTorch's `nn.Linear` layout).
 */
export function linear(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  options: { relu?: boolean } = {},
): Tensor<Shape, "f32"> {
  requireFloat("linear", x, w, ...(bias ? [bias] : []));
  const device = sameDevice("linear", x, w, ...(bias ? [bias] : []));
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[1]) {
    throw new ShapeError(
      `linear: input [${x.shape}] does not match weight [${w.shape}] ([N, in] × [out, in])`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== w.shape[0])) {
    throw new ShapeError(`linear: bias [${bias.shape}] does not match ${w.shape[0]} outputs`);
  }
  const xs = contiguous(x), ws = contiguous(w), bs = bias ? contiguous(bias) : null;
  const [n, k] = x.shape;
  const out = empty(device, [n, w.shape[0]], "f32");
  matmulKernel(device, {
    a: xs.storage.buffer,
    b: ws.storage.buffer,
    out: out.storage.buffer,
    m: n,
    n: w.shape[0],
    k,
    transB: true,
    bias: bs?.storage.buffer,
    relu: options.relu ?? false,
  });
  for (const [copy, original] of [[xs, x], [ws, w], [bs, bias]] as const) {
    if (copy && copy !== original) copy.dispose();
  }
  const inputs = bias ? [x, w, bias] : [x, w];
  return recordOp(out, "linear", inputs, [x, w, out], ([sx, sw, sOut]) => (g) => {
    const gz = options.relu ? binaryOp(g, sOut, "reluMask") : g;
    const grads = [
      x.requiresGrad ? matmul(gz, sw) : null,
      w.requiresGrad ? matmulTransposed(gz, sx, "left") : null,
    ];
    // bias is 1-D with bias.shape[0] outputs, so the column sums already have its shape.
    if (bias) grads.push(bias.requiresGrad ? sum(gz, [0]) : null);
    if (gz !== g) gz.dispose();
    return grads;
  });
}
