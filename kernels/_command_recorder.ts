/**
 * Batched submission: the device's commands are recorded into one encoder (dispatches sharing
 * a compute pass) and handed to the submission queue every `dispatchesPerSubmit` dispatches,
 * or sooner when a read, write or copy needs them submitted.
 *
 * @module
 */

import type { SubmissionQueue } from "./_submission_queue.ts";

/** The open command encoder and compute pass of one GPU device. */
export class CommandRecorder {
  #gpu: GPUDevice;
  #submissions: SubmissionQueue;
  #dispatchesPerSubmit: number;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #pendingLabels: string[] = [];

  constructor(gpu: GPUDevice, submissions: SubmissionQueue, dispatchesPerSubmit: number) {
    this.#gpu = gpu;
    this.#submissions = submissions;
    this.#dispatchesPerSubmit = dispatchesPerSubmit;
  }

  /** Whether commands are recorded and not yet handed to the submission queue. */
  get recording(): boolean {
    return this.#encoder !== null;
  }

  /** The command encoder, with no compute pass open, for recording the command `label`. */
  encoderFor(label: string): GPUCommandEncoder {
    this.endPass();
    this.#encoder ??= this.#gpu.createCommandEncoder();
    this.#pendingLabels.push(label);
    return this.#encoder;
  }

  /**
   * Records one dispatch into the open compute pass. A timed dispatch (`timed` set) gets a
   * pass of its own, since WebGPU timestamps whole passes.
   */
  dispatch(
    name: string,
    pipeline: GPUComputePipeline,
    group: GPUBindGroup,
    [x, y, z]: readonly [number, number, number],
    timed: GPUComputePassTimestampWrites | null | undefined,
  ): void {
    if (timed) this.endPass();
    if (!this.#pass) {
      this.#encoder ??= this.#gpu.createCommandEncoder();
      this.#pass = this.#encoder.beginComputePass(
        timed ? { timestampWrites: timed } : undefined,
      );
    }
    this.#pass.setPipeline(pipeline);
    this.#pass.setBindGroup(0, group);
    this.#pass.dispatchWorkgroups(x, y, z);
    if (timed) this.endPass();
    this.#pendingLabels.push(name);
    if (this.#pendingLabels.length >= this.#dispatchesPerSubmit) this.flush();
  }

  /** Ends the open compute pass, if any. */
  endPass(): void {
    this.#pass?.end();
    this.#pass = null;
  }

  /** Hands the recorded commands to the submission queue. */
  flush(): void {
    if (!this.#encoder) return;
    this.endPass();
    const labels = this.#pendingLabels;
    const buffer = this.#encoder.finish();
    this.#encoder = null;
    this.#pendingLabels = [];
    this.#submissions.commands(buffer, labels);
  }
}

/** A batch's labels for messages, counted: `"matmul×3, relu"`. */
export function summarise(labels: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts].map(([l, n]) => (n > 1 ? `${l}×${n}` : l)).join(", ");
}
