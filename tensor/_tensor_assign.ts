/**
 * The data half of `Tensor.assign` (PyTorch's `copy_`): writing host values or another
 * tensor's elements into a tensor's data in place, through its layout (a view is written
 * where it lies). The graph half (which tensors may be written, and when) stays with the
 * class, which owns the graph state.
 *
 * @module
 */

import { RawTensor, requireShape, sameDevice } from "./_core.ts";
import { assignInto, upload, write } from "./_primitives.ts";
import { numel, plural, ShapeError } from "./shape.ts";

/** Writes `source`, of `dst`'s shape, dtype and device (or its values in row-major order), into `dst`. */
export function writeInto(dst: RawTensor, source: RawTensor | Float32Array | Int32Array): void {
  if (source instanceof RawTensor) return copyElements(dst, source);
  const expected = dst.dtype === "i32" ? Int32Array : Float32Array;
  if (!(source instanceof expected)) {
    throw new TypeError(`assign: a ${dst.dtype} tensor takes a ${expected.name}`);
  }
  const size = numel(dst.shape);
  if (source.length !== size) {
    throw new ShapeError(
      `assign: ${plural(source.length, "value")} for a tensor of shape [${dst.shape}] (${size})`,
    );
  }
  if (dst.isContiguous) return write(dst, source);
  const staged = upload(dst.device, source, dst.shape, dst.dtype);
  assignInto(dst, staged);
  staged.dispose();
}

/** Copies the elements of `src` into `dst`, checking shape, dtype and device. */
function copyElements(dst: RawTensor, src: RawTensor): void {
  requireShape("assign", src, dst.shape);
  if (src.dtype !== dst.dtype) {
    throw new TypeError(`assign: the source is ${src.dtype}, the tensor ${dst.dtype}`);
  }
  sameDevice("assign", dst, src);
  assignInto(dst, src);
}
