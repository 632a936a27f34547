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
  /**
   * Reports not yet settled. A settled one leaves the set, and only an error is kept: a loop
   * that records for long between reads (each submit, compile and allocation pops a scope)
   * does not hold one promise per scope until its next read.
   */
  #pending = new Set<Promise<void>>();
  /** Errors reported since the last {@link raise}, with the order of their scopes. */
  #reported: { order: number; error: Error }[] = [];
  #order = 0;

  /** Also listens for the device's uncaptured errors; `label` names the device in them. */
  constructor(gpu: GPUDevice, label: string) {
    this.#gpu = gpu;
    this.#label = label;
    gpu.addEventListener("uncapturederror", (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.#reported.push({
        order: this.#order++,
        error: new GpuError(`${this.#label}: ${error.message}`),
      });
    });
  }

  /** Pops the error scope pushed before `what`; its error, if any, is raised later. */
  watch(what: string): void {
    const order = this.#order++;
    const report = (error: Error): void => {
      this.#reported.push({ order, error });
    };
    const settled: Promise<void> = this.#gpu.popErrorScope().then(
      (error) => {
        if (error) report(new GpuError(`${this.#label}: ${what} failed: ${error.message}`));
      },
      report,
    ).finally(() => this.#pending.delete(settled));
    this.#pending.add(settled);
  }

  /** Reports held: those not yet settled and the errors not yet raised. */
  get held(): number {
    return this.#pending.size + this.#reported.length;
  }

  /** Throws the first error (in the order of the scopes) reported since the last call. */
  async raise(): Promise<void> {
    if (this.#pending.size > 0) await Promise.all(this.#pending);
    if (this.#reported.length === 0) return;
    const first = this.#reported.reduce((a, b) => (b.order < a.order ? b : a));
    this.#reported = [];
    throw first.error;
  }
}
