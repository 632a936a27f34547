/**
 * PyTorch's unbatched inputs in the layers' shape maths: a layer that takes `[N, C, H, W]` takes
 * one sample `[C, H, W]` too (the functional ops run it as a batch of one).
 *
 * @module
 */

/**
 * The output shape of a convolution-like layer over the last `axes` axes of `input`
 * (`[N, inChannels, …]`, or one unbatched `[inChannels, …]`) from its batched shape maths: an
 * unbatched sample's is a batch of one's without the batch axis. A RangeError naming `layer`
 * for any other rank or channel count.
 */
export function convolvedShape(
  layer: string,
  input: readonly number[],
  axes: 1 | 2,
  inChannels: number,
  batched: (input: readonly number[]) => number[],
): number[] {
  const rank = axes + 2;
  if ((input.length !== rank && input.length !== rank - 1) || input.at(-axes - 1) !== inChannels) {
    const spatial = axes === 1 ? "L" : "H, W";
    throw new RangeError(
      `${layer}: expected [${inChannels}, ${spatial}] or [N, ${inChannels}, ${spatial}], got ` +
        `[${input}]`,
    );
  }
  return input.length === rank ? batched(input) : batched([1, ...input]).slice(1);
}

/** The layouts a layer over `axes` spatial axes takes: unbatched, then batched. */
const LAYOUTS = { 1: "[C, L] or [N, C, L]", 2: "[C, H, W] or [N, C, H, W]" } as const;

/**
 * The output shape of a pooling-like layer over the last `axes` axes of `input` (`[N, C, …]`,
 * or one unbatched `[C, …]`), those axes' sizes given by `pooled`; a RangeError naming `layer`
 * for any other rank.
 */
export function pooledShape(
  layer: string,
  input: readonly number[],
  axes: 1 | 2,
  pooled: (sizes: number[]) => number[],
): number[] {
  if (input.length !== axes + 1 && input.length !== axes + 2) {
    throw new RangeError(`${layer}: expected ${LAYOUTS[axes]}, got [${input}]`);
  }
  return [...input.slice(0, -axes), ...pooled(input.slice(-axes))];
}
