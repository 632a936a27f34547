/**
 * Reads from devices to the host with one wait (`Device.readTogether`) and copies between
 * devices through the host (`Device.copyAcross`, `Device.combineAcross`). A transfer sees each
 * device through its {@link TransferPort}, never through the device's internals.
 *
 * @module
 */

import { GpuError } from "./_errors.ts";
import { FAULT_BYTES } from "./_fault.ts";
import type { Slot, SubmissionQueue } from "./_submission_queue.ts";
import { reportSyncPoint, StagingBuffer, type StagingDevice, transfers } from "./_staging.ts";

/** What a transfer needs of one device; each device has exactly one. */
export interface TransferPort {
  /** The device, as its staging buffers know it. */
  readonly device: StagingDevice;
  /** Names the device in errors. */
  readonly label: string;
  /** Label, adapter and whether it is software. */
  describe(): string;
  /** Throws if the device takes no new work: destroyed, lost, or its submissions failed. */
  checkAlive(what: string): void;
  /**
   * Throws if work already requested cannot finish: the device is lost or its submissions
   * failed. A destroyed device still finishes the reads requested before `Device.destroy()`.
   */
  checkRunning(what: string): void;
  /**
   * Keeps the device's buffers and GPUDevice until the returned function is called, even
   * across `Device.destroy()`: an outgoing read holds it from the moment it is recorded.
   */
  holdForRead(): () => void;
  /** The command encoder, with no compute pass open, for recording the command `label`. */
  encoderFor(label: string): GPUCommandEncoder;
  /** Submits the recorded commands. */
  flush(): void;
  /** The device's submission order. */
  readonly submissions: SubmissionQueue;
  /** The device's fault buffer, once a kernel asked for one. */
  faults(): GPUBuffer | null;
  /** Why the device was lost, or null. */
  lost(): string | null;
  /** The error for the fault words a kernel recorded (and clears them). */
  faultError(fault: Uint32Array): GpuError;
  /** Raises the first error the device reported since the last call. */
  raiseErrors(): Promise<void>;
}

/** A buffer and the port of its device. */
export interface PortBuffer {
  /** The device's port. */
  port: TransferPort;
  /** The buffer. */
  buffer: GPUBuffer;
}

/** One read of {@link readTogether}: a `ReadRequest` seen through ports. */
export interface PortRead {
  /** The buffer to read. */
  source: PortBuffer;
  /** Start of the range in bytes (default 0). */
  offset?: number;
  /** Length of the range in bytes. */
  bytes: number;
  /** The staging buffer to carry it (default: a new one, destroyed afterwards). */
  staging?: StagingBuffer;
  /** Receives the bytes while they are mapped. */
  consume(bytes: Uint8Array): void;
}

/** One copy of {@link copyAcross}. */
export interface PortCopy {
  /** The range to read. */
  source: Omit<PortRead, "consume">;
  /** The buffer to write, on another device. */
  target: PortBuffer;
  /** Start in the target, in bytes (default 0). */
  targetOffset?: number;
}

/** One read in flight. */
interface Taken {
  read: PortRead;
  staging: StagingBuffer;
  buffer: GPUBuffer;
  /** Bytes of data copied (the read's bytes rounded up to 4). */
  size: number;
  /** Bytes mapped: the data, then the fault words when `faults` is set. */
  total: number;
  faults: GPUBuffer | null;
  /** Lets the device go once the read is over (see `TransferPort.holdForRead`). */
  done: () => void;
}

/**
 * See `Device.readTogether`: every copy recorded, each device submitted once, one host wait.
 * `onMapsIssued` runs right after the maps are issued (or once the read fails before that).
 */
export async function readTogether(
  reads: readonly PortRead[],
  onMapsIssued: () => void = () => {},
): Promise<void> {
  const taken: Taken[] = [];
  try {
    for (const read of reads) {
      const port = read.source.port;
      port.checkAlive("read");
      const staging = read.staging ?? new StagingBuffer(port.device, "read");
      if (staging.device !== port.device) {
        throw new GpuError(
          `${staging.label} belongs to ${staging.device.label}, not ${port.label}`,
        );
      }
      const size = Math.ceil(read.bytes / 4) * 4;
      // A device's fault words ride along after its first read's data: no extra copy or map.
      const faults = taken.some((t) => t.read.source.port === port) ? null : port.faults();
      const total = Math.max(size + (faults ? FAULT_BYTES : 0), 4);
      const buffer = staging._take(total);
      taken.push({ read, staging, buffer, size, total, faults, done: port.holdForRead() });
      const encoder = port.encoderFor("read");
      if (size > 0) {
        encoder.copyBufferToBuffer(read.source.buffer, read.offset ?? 0, buffer, 0, size);
      }
      if (faults) encoder.copyBufferToBuffer(faults, 0, buffer, size, FAULT_BYTES);
    }
    const ports = [...new Set(taken.map((t) => t.read.source.port))];
    for (const port of ports) port.flush();
    // The copies may wait behind data still arriving from another device (a transfer's slot).
    await Promise.all(ports.map((port) => port.submissions.submitted()));
    const start = performance.now();
    // In Deno 2.9 each mapAsync() polls its device once before returning, blocking until the
    // device has run everything submitted, then sleeps ~10 ms before resolving: work submitted
    // now (onMapsIssued) runs during that sleep instead of leaving the device idle.
    const maps = taken.map((t) => t.buffer.mapAsync(1, /* GPUMapMode.READ */ 0, t.total));
    onMapsIssued();
    const mapped = await Promise.allSettled(maps);
    const waitMs = performance.now() - start;
    transfers.mapWaitMs += waitMs;
    reportSyncPoint({ labels: taken.map((t) => t.staging.label), issuedAt: start, waitMs });
    transfers.syncPoints++;
    transfers.maps += taken.length;
    // Every mapped buffer is unmapped whatever fails, so neither side is left holding a map.
    let failure: GpuError | null = null;
    const fail = (port: TransferPort, what: unknown): void => {
      failure ??= what instanceof GpuError
        ? what
        : new GpuError(`${port.describe()}: reading back failed: ${what}`);
    };
    taken.forEach((t, i) => {
      const port = t.read.source.port;
      const outcome = mapped[i];
      if (outcome.status === "rejected") {
        return fail(
          port,
          port.lost() === null
            ? outcome.reason
            : new GpuError(`${port.label} is lost (${port.lost()}); its read cannot finish`),
        );
      }
      try {
        if (failure) return;
        // Not `checkAlive`: a device destroyed since the read was requested still finishes it.
        port.checkRunning("read");
        const range = t.buffer.getMappedRange(0, t.total);
        const fault = t.faults ? new Uint32Array(range, t.size, FAULT_BYTES / 4) : null;
        if (fault && fault[0] !== 0) return fail(port, port.faultError(fault));
        t.read.consume(new Uint8Array(range, 0, t.read.bytes));
        transfers.bytesRead += t.read.bytes;
      } catch (error) {
        fail(port, error);
      } finally {
        try {
          t.buffer.unmap();
        } catch { /* the device is gone: nothing is mapped any more */ }
      }
    });
    for (const port of ports) await port.raiseErrors();
    if (failure) throw failure;
  } finally {
    onMapsIssued();
    for (const t of taken) {
      if (t.read.staging) t.staging._free();
      else t.staging.destroy();
      t.done();
    }
  }
}

/**
 * See `Device.copyAcross`. Between devices that share one GPUDevice (one submission order) a
 * copy is a `copyBufferToBuffer` recorded now, in program order: after everything either
 * device recorded before it, before everything recorded after; nothing waits. The other copies
 * cross through the host: the reads submitted now, each target's data at a reserved slot.
 * Work that `whileWaiting` records goes between the reads and the slots, held until the maps
 * are issued, so that it runs while they wait.
 */
export function copyAcross(
  copies: readonly PortCopy[],
  whileWaiting?: () => void,
): Promise<void> {
  checkEnds(copies.map((c) => c.source.source), copies.map((c) => c.target));
  // One submission order means one GPUDevice (see `_gpu_stream.ts`).
  const onGpu = copies.filter((c) =>
    c.source.source.port.submissions === c.target.port.submissions
  );
  for (const { source, target, targetOffset } of onGpu) {
    const size = Math.ceil(source.bytes / 4) * 4;
    source.source.port.encoderFor("transfer")
      .copyBufferToBuffer(
        source.source.buffer,
        source.offset ?? 0,
        target.buffer,
        targetOffset ?? 0,
        size,
      );
    transfers.bytesCopied += source.bytes;
  }
  const throughHost = copies.filter((c) => !onGpu.includes(c));
  if (throughHost.length === 0) {
    whileWaiting?.();
    return Promise.resolve();
  }
  return copyThroughHost(throughHost, whileWaiting);
}

/** The copies of {@link copyAcross} whose ends are on different GPUDevices. */
function copyThroughHost(
  copies: readonly PortCopy[],
  whileWaiting?: () => void,
): Promise<void> {
  const slots = new Map<TransferPort, Slot>();
  const gates = new Map<TransferPort, Slot>();
  const done = readTogether(
    copies.map((copy) => ({
      ...copy.source,
      consume: (bytes) => {
        slots.get(copy.target.port)!.write(copy.target.buffer, copy.targetOffset ?? 0, bytes);
        transfers.bytesWritten += bytes.byteLength;
      },
    })),
    () => gates.forEach((gate) => gate.close()),
  );
  const ports = copies.flatMap((c) => [c.source.source.port, c.target.port]);
  try {
    if (whileWaiting) {
      // A gate is a slot that receives no data: it opens when the maps are issued.
      reserveSlots(ports, gates);
      whileWaiting();
    }
  } finally {
    for (const port of gates.keys()) port.flush();
    reserveSlots(copies.map((c) => c.target.port), slots);
  }
  return closeSlots([...gates.values(), ...slots.values()], done);
}

/** See `Device.combineAcross`: the sources read together, combined, written to every target. */
export function combineAcross(
  sources: readonly PortBuffer[],
  bytes: number,
  targets: readonly PortBuffer[],
  combine: (parts: readonly Uint8Array[]) => Uint8Array,
  staging?: readonly StagingBuffer[],
): Promise<void> {
  checkEnds(sources, targets);
  const parts: Uint8Array[] = [];
  const done = readTogether(sources.map((source, i) => ({
    source,
    bytes,
    staging: staging?.[i],
    consume: (got: Uint8Array) => (parts[i] = got.slice()),
  })));
  const slots = new Map<TransferPort, Slot>();
  reserveSlots(targets.map((t) => t.port), slots);
  return closeSlots(
    [...slots.values()],
    done.then(() => {
      const result = combine(parts);
      for (const target of targets) {
        slots.get(target.port)!.write(target.buffer, 0, result);
        transfers.bytesWritten += result.byteLength;
      }
    }),
  );
}

function checkEnds(sources: readonly PortBuffer[], targets: readonly PortBuffer[]): void {
  for (const source of sources) source.port.checkAlive("a transfer from it");
  for (const target of targets) target.port.checkAlive("a transfer into it");
}

/**
 * A place for incoming data in each device's submission order. Reserved after the reads were
 * recorded and submitted: a device that both sends and receives must not hold its own
 * outgoing copy behind the data it waits for.
 */
function reserveSlots(ports: readonly TransferPort[], slots: Map<TransferPort, Slot>): void {
  for (const port of ports) {
    if (slots.has(port)) continue;
    port.flush();
    slots.set(port, port.submissions.reserve());
  }
}

/** Closes the slots once `done` settles; with its error, the devices stop. */
function closeSlots(slots: readonly Slot[], done: Promise<void>): Promise<void> {
  return done.then(
    () => slots.forEach((slot) => slot.close()),
    (error: Error) => {
      slots.forEach((slot) => slot.close(error));
      throw error;
    },
  );
}
