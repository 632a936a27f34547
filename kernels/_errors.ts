/**
 * The errors of the GPU backend, in a file of their own so that the device's collaborators
 * (transfers, adapter choice) raise them without importing `device.ts`.
 *
 * @module
 */

/**
 * Raised for any failure on the GPU: a validation error, out of memory, or a lost device.
 *
 * @example
 * ```ts
 * import { Device, GpuError } from "../mod.ts";
 * const device = await Device.acquire();
 * device.destroy();
 * try {
 *   device.checkAlive("a step");
 * } catch (error) {
 *   console.log(error instanceof GpuError); // true: "gpu0 is lost (destroyed); cannot run a step"
 * }
 * ```
 */
export class GpuError extends Error {
  /** `"GpuError"`. */
  override name = "GpuError";
}

/**
 * A check inside a kernel failed (see `kernels/_fault.ts`), e.g. a class label out of range.
 * Raised by the first read from the device after the kernel ran.
 *
 * @example A label outside the classes, found on the GPU
 * ```ts
 * import { crossEntropy, defaultDevice, DeviceAssertionError, tensor } from "../mod.ts";
 * await defaultDevice();
 * const loss = crossEntropy(tensor([[0, 0]]), tensor([5], { dtype: "i32" }));
 * try {
 *   await loss.item();
 * } catch (error) {
 *   console.log(error instanceof DeviceAssertionError); // true: "label 5 of sample 0 is outside…"
 * }
 * ```
 */
export class DeviceAssertionError extends GpuError {
  /** `"DeviceAssertionError"`. */
  override name = "DeviceAssertionError";
}
