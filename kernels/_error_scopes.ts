/**
 * The errors a WebGPU device reports asynchronously (error scopes and uncaptured errors),
 * collected so that the device's next read or sync raises the first, naming what failed.
 *
 * @module
 */

import { GpuError } from "./_errors.ts";

/** The pending error reports of one GPU device. */
export class ErrorScopes {
  #gpu: GPUDevice;
  #label: string;
  #errors: Promise<GpuError | null>[] = [];

  /** Also listens for the device's uncaptured errors; `label` names the device in them. */
  constructor(gpu: GPUDevice, label: string) {
    this.#gpu = gpu;
    this.#label = label;
    gpu.addEventListener("uncapturederror", (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.#errors.push(Promise.resolve(new GpuError(`${this.#label}: ${error.message}`)));
    });
  }

  /** Pops the error scope pushed before `what`; its error, if any, is raised later. */
  watch(what: string): void {
    this.#errors.push(
      this.#gpu.popErrorScope().then((error) =>
        error ? new GpuError(`${this.#label}: ${what} failed: ${error.message}`) : null
      ),
    );
  }

  /** Throws the first error reported since the last call. */
  async raise(): Promise<void> {
    if (this.#errors.length === 0) return;
    const pending = this.#errors;
    this.#errors = [];
    const errors = (await Promise.all(pending)).filter((e): e is GpuError => e !== null);
    if (errors.length > 0) throw errors[0];
  }
}
