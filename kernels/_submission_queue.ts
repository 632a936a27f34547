/**
 * The order in which one device's work reaches its GPU queue.
 *
 * Normally each command buffer and each host write is submitted at once. A transfer INTO the
 * device reserves a {@link Slot} for data still on its way (a readback on another device, which
 * in Deno takes at least one ~10 ms turn of the map polling loop); commands and writes recorded
 * after the slot wait behind it and are submitted, in recorded order, as soon as its data is
 * written. So the host goes on recording the next layers while a map waits, and the GPU still
 * sees exactly the order the program recorded: a recycled buffer is never written before the
 * commands that read its old contents.
 *
 * @module
 */

/** A place in the queue for writes that arrive later (a transfer's data). */
export interface Slot {
  /** Writes `data` to `target` at the slot's place (copying it if the slot must wait). */
  write(target: GPUBuffer, offset: number, data: Uint8Array): void;
  /** Ends the slot; with an error, the device stops submitting and every waiter gets it. */
  close(error?: Error): void;
}

type Item =
  | { kind: "commands"; buffer: GPUCommandBuffer; labels: string[] }
  | { kind: "write"; target: GPUBuffer; offset: number; data: Uint8Array }
  | { kind: "slot"; writes: Item[]; open: boolean };

/** One device's ordered submissions (see the module notes). */
export class SubmissionQueue {
  readonly #queue: GPUQueue;
  readonly #submitCommands: (buffers: GPUCommandBuffer[], labels: string[]) => void;
  readonly #drained: () => void;
  #items: Item[] = [];
  #enqueued = 0;
  #submitted = 0;
  #waiters: { upTo: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  #failure: Error | null = null;

  /**
   * Submits to `queue`; `submitCommands` submits command buffers in one `queue.submit` (with
   * its error scopes); `drained` is told each time everything enqueued has been submitted.
   */
  constructor(
    queue: GPUQueue,
    submitCommands: (buffers: GPUCommandBuffer[], labels: string[]) => void,
    drained: () => void = () => {},
  ) {
    this.#queue = queue;
    this.#submitCommands = submitCommands;
    this.#drained = drained;
  }

  /** The error that stopped the queue, if any. */
  get failure(): Error | null {
    return this.#failure;
  }

  /** Whether work is held behind a slot. */
  get holding(): boolean {
    return this.#items.length > 0;
  }

  /** Submits a command buffer, after everything enqueued before it. */
  commands(buffer: GPUCommandBuffer, labels: string[]): void {
    this.#push({ kind: "commands", buffer, labels });
  }

  /** Writes host data, after everything enqueued before it (`data` is copied if held). */
  write(target: GPUBuffer, offset: number, data: Uint8Array): void {
    const held = this.#items.length > 0;
    this.#push({ kind: "write", target, offset, data: held ? data.slice() : data });
  }

  /** Reserves a place for writes that arrive later; everything enqueued after it waits. */
  reserve(): Slot {
    const slot: Item & { kind: "slot" } = { kind: "slot", writes: [], open: true };
    this.#push(slot);
    return {
      write: (target, offset, data) => {
        if (!slot.open) return;
        const atHead = this.#items[0] === slot;
        if (atHead) this.#queue.writeBuffer(target, offset, data as Uint8Array<ArrayBuffer>);
        else slot.writes.push({ kind: "write", target, offset, data: data.slice() });
      },
      close: (error) => {
        if (!slot.open) return;
        slot.open = false;
        if (error) this.#fail(error);
        else this.#pump();
      },
    };
  }

  /** Resolves once everything enqueued so far has been submitted; rejects if the queue failed. */
  submitted(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const upTo = this.#enqueued;
    if (this.#submitted >= upTo) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ upTo, resolve, reject }));
  }

  /** Drops whatever is held (the device is going away); waiters get `error`. */
  drop(error: Error): void {
    this.#fail(error);
  }

  #push(item: Item): void {
    if (this.#failure) throw this.#failure;
    this.#items.push(item);
    this.#enqueued++;
    this.#pump();
  }

  #pump(): void {
    // Command buffers released together go in one submit: a slot that closes may free several,
    // and each `queue.submit` costs the host a few milliseconds on a software adapter.
    let batch: GPUCommandBuffer[] = [], labels: string[] = [];
    const submitBatch = (): void => {
      if (batch.length > 0) this.#submitCommands(batch, labels);
      batch = [];
      labels = [];
    };
    while (this.#items.length > 0 && !this.#failure) {
      const item = this.#items[0];
      if (item.kind === "slot") {
        if (item.open) break;
        submitBatch();
        for (const w of item.writes) this.#submit(w);
      } else if (item.kind === "commands") {
        batch.push(item.buffer);
        labels.push(...item.labels);
      } else {
        submitBatch();
        this.#submit(item);
      }
      this.#items.shift();
      this.#submitted++;
    }
    submitBatch();
    this.#waiters = this.#waiters.filter((w) => {
      if (this.#submitted < w.upTo) return true;
      w.resolve();
      return false;
    });
    if (this.#items.length === 0 && !this.#failure) this.#drained();
  }

  #submit(item: Item): void {
    if (item.kind === "write") {
      this.#queue.writeBuffer(item.target, item.offset, item.data as Uint8Array<ArrayBuffer>);
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    this.#items = [];
    for (const w of this.#waiters) w.reject(this.#failure);
    this.#waiters = [];
  }
}
