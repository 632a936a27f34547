/**
 * Sliding-window arithmetic, the one definition that convolution and pooling share (kernels,
 * tensor ops and layers alike): how far a dilated window reaches, and how many windows fit
 * along an axis.
 *
 * @module
 */

/**
 * The input positions a window of `kernel` taps, `dilation` apart, spans: `dilation·(kernel −
 * 1) + 1` (PyTorch's effective kernel size; the kernel itself at dilation 1).
 *
 * @example A 3-tap window at dilation 2 reaches over 5 positions
 * ```ts
 * import { windowSpan } from "./_window.ts";
 * console.log(windowSpan(3, 2), windowSpan(3, 1)); // 5 3
 * ```
 */
export function windowSpan(kernel: number, dilation = 1): number {
  return dilation * (kernel - 1) + 1;
}

/**
 * Windows of `kernel` taps, `stride` apart, that fit an axis of `size` padded by `padding` on
 * each side: `floor((size + 2·padding − kernel) / stride) + 1` (PyTorch's floor mode). For a
 * dilated window, `kernel` is its {@link windowSpan}. With
 * `ceilMode` (PyTorch's `ceil_mode`), a last partial window is kept: `ceil(…) + 1`, less one
 * when that window would start at or past `size + padding` (wholly in the right padding).
 * Below 1 when the window does not fit.
 *
 * @example AlexNet's conv1: 227 pixels, 11 taps, stride 4; a 3-tap window, stride 2, over 6
 * ```ts
 * import { windowCount } from "./_window.ts";
 * console.log(windowCount(227, 11, 4, 0)); // 55
 * console.log(windowCount(6, 3, 2, 0), windowCount(6, 3, 2, 0, true)); // 2 3
 * ```
 */
export function windowCount(
  size: number,
  kernel: number,
  stride: number,
  padding: number,
  ceilMode = false,
): number {
  const span = size + 2 * padding - kernel;
  if (!ceilMode) return Math.floor(span / stride) + 1;
  const count = Math.ceil(span / stride) + 1;
  return (count - 1) * stride >= size + padding ? count - 1 : count;
}
