/**
 * The device that creation functions use when none is given. It must be acquired once, with
 * `await defaultDevice()` (WebGPU adapters can only be requested asynchronously); after that,
 * `currentDevice()` returns it synchronously.
 *
 * @module
 */

import { Device } from "../kernels/device.ts";

// The layers above the tensor reach the device class through this layer, never `kernels/`.
export { Device } from "../kernels/device.ts";

let current: Device | null = null;
let pending: Promise<Device> | null = null;

/**
 * Acquires (once) and returns the default device.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "./default_device.ts";
 * const device = await defaultDevice();
 * console.log(device.describe());
 * ```
 */
export function defaultDevice(): Promise<Device> {
  if (current) return Promise.resolve(current);
  pending ??= Device.acquire().then((device) => (current = device));
  return pending;
}

/**
 * Makes `device` the default for creation functions.
 *
 * @example
 * ```ts
 * import { currentDevice, Device, setDefaultDevice } from "../mod.ts";
 * const device = await Device.acquire({ label: "main" });
 * setDefaultDevice(device);
 * console.log(currentDevice().label); // "main"
 * ```
 */
export function setDefaultDevice(device: Device): void {
  current = device;
  pending = Promise.resolve(device);
}

/**
 * The default device, synchronously; throws if `await defaultDevice()` has not run yet.
 *
 * @example
 * ```ts
 * import { currentDevice, defaultDevice } from "./default_device.ts";
 * await defaultDevice();
 * console.log(currentDevice().label);
 * ```
 */
export function currentDevice(): Device {
  if (!current) {
    throw new Error(
      "no default device yet: call `await defaultDevice()` once before creating tensors, " +
        "or pass { device } explicitly",
    );
  }
  return current;
}
