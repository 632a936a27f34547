/**
 * What library devices on one WebGPU device share: the GPUDevice and its queue, ONE command
 * recorder and submission order, and its error reports. Two logical devices of one adapter are
 * two library `Device`s over one stream (their own buffers, labels and placement checks): a
 * transfer between them is a `copyBufferToBuffer` recorded in program order, since everything
 * either device records reaches the queue in the order it was recorded. A device of its own
 * has a stream of its own.
 *
 * @module
 */

import type { OpenedDevice } from "./_acquire.ts";
import { CommandRecorder, summarise } from "./_command_recorder.ts";
import { ErrorScopes } from "./_error_scopes.ts";
import { SubmissionQueue } from "./_submission_queue.ts";

/** One GPUDevice and the ordered stream of work that every library device on it records into. */
export class GpuStream {
  /** The opened WebGPU device and what its adapter said. */
  readonly opened: OpenedDevice;
  /** Names every library device on it: `gpu0`, or `gpu0 and gpu1 (sharing one GPUDevice)`. */
  readonly label: string;
  /** Its asynchronous error reports. */
  readonly errors: ErrorScopes;
  /** Its submission order. */
  readonly submissions: SubmissionQueue;
  /** Its open command encoder. */
  readonly recorder: CommandRecorder;
  /** Whether several library devices share it. */
  readonly shared: boolean;
  /** Why the GPUDevice was lost, or null. */
  lost: string | null = null;
  /** `queue.submit` calls so far. */
  submits = 0;
  #users: number;
  #afterSubmitted: (() => void)[] = [];

  /** A stream over `opened` for `labels.length` library devices. */
  constructor(opened: OpenedDevice, labels: readonly string[], dispatchesPerSubmit: number) {
    const gpu = opened.gpu;
    this.opened = opened;
    this.label = labels.length === 1
      ? labels[0]
      : `${labels.join(" and ")} (sharing one GPUDevice)`;
    this.#users = labels.length;
    this.shared = labels.length > 1;
    this.errors = new ErrorScopes(gpu, this.label);
    this.submissions = new SubmissionQueue(gpu.queue, (buffers, commandLabels) => {
      gpu.pushErrorScope("validation");
      gpu.queue.submit(buffers);
      this.errors.watch(
        `a batch of ${commandLabels.length} commands (${summarise(commandLabels)})`,
      );
      this.submits++;
    }, () => this.#settle());
    this.recorder = new CommandRecorder(gpu, this.submissions, dispatchesPerSubmit);
    gpu.lost.then((info) => {
      this.lost = `${info.reason}: ${info.message}`;
    });
  }

  /**
   * Runs `release` once every command recorded so far has been submitted: at once when nothing
   * is recorded or held, else when the queue next drains. A cache lets go of a GPU buffer this
   * way: submitting a command that binds a destroyed buffer is an error, while a buffer
   * destroyed after its commands were submitted lives on until the GPU has run them (WebGPU
   * defers the free), and a buffer rewritten with `queue.writeBuffer` from then on is seen
   * only by commands submitted later.
   */
  afterSubmitted(release: () => void): void {
    this.#afterSubmitted.push(release);
    this.#settle();
  }

  /** Runs the releases waiting for the submissions, if nothing recorded is still unsubmitted. */
  #settle(): void {
    if (this.#afterSubmitted.length === 0) return;
    if (this.recorder.recording || this.submissions.holding) return;
    const ready = this.#afterSubmitted;
    this.#afterSubmitted = [];
    for (const release of ready) release();
  }

  /**
   * One of its library devices is done with it: the last one destroys the GPUDevice (after
   * submitting what is pending); earlier ones leave it to the others. Releases still waiting
   * for submissions run then: what is held is dropped, so nothing will bind their buffers.
   */
  release(reason: Error): void {
    if (--this.#users > 0) return;
    if (!this.submissions.failure) this.recorder.flush();
    this.submissions.drop(reason);
    this.lost ??= "destroyed";
    this.opened.gpu.destroy();
    const waiting = this.#afterSubmitted;
    this.#afterSubmitted = [];
    for (const release of waiting) release();
  }
}
