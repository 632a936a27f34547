/**
 * Sliding-window arithmetic, the one definition that convolution and pooling share (kernels,
 * tensor ops and layers alike): how many windows fit along an axis.
 *
 * @module
 */

/**
 * Windows of `kernel` taps, `stride` apart, that fit an axis of `size` padded by `padding` on
 * each side: `floor((size + 2·padding − kernel) / stride) + 1` (PyTorch's floor mode). Below 1
 * when the window does not fit.
 *
 * @example AlexNet's conv1: 227 pixels, 11 taps, stride 4
 * ```ts
 * import { windowCount } from "./_window.ts";
 * console.log(windowCount(227, 11, 4, 0)); // 55
 * ```
 */
export function windowCount(size: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}
