/**
 * When work reaches the devices around a cross-device copy (kernels/_transfers.ts), against fake
 * devices that log what happens: the copies are submitted, then the maps are issued, then the
 * work that `whileWaiting` recorded is submitted (so it runs while the maps wait), and only
 * after the data is written the work that reads it.
 */

import assert from "node:assert/strict";
import { StagingBuffer } from "../kernels/_staging.ts";
import { SubmissionQueue } from "../kernels/_submission_queue.ts";
import { copyAcross, type TransferPort } from "../kernels/_transfers.ts";

/** A device whose GPU only logs: submits, writes, and maps that resolve when `release` runs. */
function fakePort(label: string, log: string[], maps: (() => void)[]) {
  let pending: string[] = [];
  const gpu = {
    createBuffer: () => ({
      size: 1 << 10,
      mapAsync() {
        log.push(`${label} map`);
        return new Promise<void>((resolve) => maps.push(resolve));
      },
      getMappedRange: () => new ArrayBuffer(1 << 10),
      unmap() {},
      destroy() {},
    }),
  } as unknown as GPUDevice;
  const queue = {
    writeBuffer: () => log.push(`${label} data`),
  } as unknown as GPUQueue;
  const submissions = new SubmissionQueue(queue, (_, labels) => {
    log.push(`${label} submit ${labels.join(",")}`);
  });
  const encoder = { copyBufferToBuffer() {} } as unknown as GPUCommandEncoder;
  const port: TransferPort = {
    device: { label, gpu },
    label,
    describe: () => label,
    checkAlive() {},
    checkRunning() {},
    holdForRead: () => () => {},
    encoderFor(what) {
      pending.push(what);
      return encoder;
    },
    flush() {
      if (pending.length > 0) submissions.commands({} as GPUCommandBuffer, pending);
      pending = [];
    },
    submissions,
    faults: () => null,
    lost: () => null,
    faultError: () => {
      throw new Error("no faults here");
    },
    raiseErrors: async () => {},
  };
  /** Records a command, as a kernel would. */
  const record = (what: string) => pending.push(what);
  return { port, record };
}

Deno.test("work that needs no copy runs while the maps wait, work that does after the data", async () => {
  const log: string[] = [], maps: (() => void)[] = [];
  const a = fakePort("A", log, maps), b = fakePort("B", log, maps);
  const buffer = {} as GPUBuffer;
  const copy = (from: typeof a, to: typeof b) => ({
    source: { source: { port: from.port, buffer }, bytes: 4 },
    target: { port: to.port, buffer },
  });
  a.record("before");
  const done = copyAcross([copy(a, b), copy(b, a)], () => {
    a.record("own A");
    b.record("own B");
  });
  a.record("remote A");
  a.port.flush();
  b.record("remote B");
  b.port.flush();
  await new Promise((resolve) => setTimeout(resolve, 0)); // the maps are issued
  assert.deepEqual(log, [
    "A submit before,read",
    "B submit read",
    "A map",
    "B map",
    "A submit own A",
    "B submit own B",
  ]);
  log.length = 0;
  maps.forEach((resolve) => resolve());
  await done;
  assert.deepEqual(log, ["B data", "A data", "B submit remote B", "A submit remote A"]);
});

Deno.test("without whileWaiting work recorded after the copies waits for the data", async () => {
  const log: string[] = [], maps: (() => void)[] = [];
  const a = fakePort("A", log, maps), b = fakePort("B", log, maps);
  const staging = new StagingBuffer(a.port.device, "cut");
  const done = copyAcross([{
    source: { source: { port: a.port, buffer: {} as GPUBuffer }, bytes: 4, staging },
    target: { port: b.port, buffer: {} as GPUBuffer },
  }]);
  b.record("next");
  b.port.flush();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(log, ["A submit read", "A map"]);
  maps.forEach((resolve) => resolve());
  await done;
  assert.deepEqual(log, ["A submit read", "A map", "B data", "B submit next"]);
  assert.equal(staging.busy, false);
});
