/**
 * The per-device submission order (kernels/_submission_queue.ts), against a fake queue that logs
 * what reaches it: nothing recorded after a slot is submitted before the slot's data; writes
 * stay in recorded order; command buffers released together go in one submit; a failed slot
 * stops the queue and every waiter gets the error.
 */

import assert from "node:assert/strict";
import { SubmissionQueue } from "../kernels/_submission_queue.ts";

/** A queue whose submissions and writes are logged as strings. */
function fakeQueue(): { queue: SubmissionQueue; log: string[]; buffer: (n: string) => GPUBuffer } {
  const log: string[] = [];
  const names = new Map<GPUBuffer, string>();
  const gpuQueue = {
    writeBuffer(target: GPUBuffer, offset: number, data: Uint8Array) {
      log.push(`write ${names.get(target)}@${offset}=${[...data].join(",")}`);
    },
  } as unknown as GPUQueue;
  const queue = new SubmissionQueue(gpuQueue, (buffers, labels) => {
    log.push(`submit ${buffers.length}: ${labels.join(",")}`);
  });
  const buffer = (n: string) => {
    const b = {} as GPUBuffer;
    names.set(b, n);
    return b;
  };
  return { queue, log, buffer };
}

const commands = {} as GPUCommandBuffer;

Deno.test("without a slot everything is submitted at once, in order", () => {
  const { queue, log, buffer } = fakeQueue();
  queue.commands(commands, ["a"]);
  queue.write(buffer("x"), 0, new Uint8Array([1]));
  queue.commands(commands, ["b"]);
  assert.deepEqual(log, ["submit 1: a", "write x@0=1", "submit 1: b"]);
  assert.equal(queue.holding, false);
});

Deno.test("work recorded after a slot waits for its data and keeps its order", async () => {
  const { queue, log, buffer } = fakeQueue();
  const slot = queue.reserve();
  const data = new Uint8Array([7, 8]);
  queue.commands(commands, ["after1"]);
  queue.commands(commands, ["after2"]);
  queue.write(buffer("w"), 4, data);
  data[0] = 9; // the held write copied its data
  queue.commands(commands, ["after3"]);
  assert.deepEqual(log, []);
  assert.equal(queue.holding, true);
  let submitted = false;
  const waiting = queue.submitted().then(() => (submitted = true));
  await Promise.resolve();
  assert.equal(submitted, false, "submitted() waits for the slot");
  slot.write(buffer("in"), 0, new Uint8Array([5])); // at the head: written at once
  slot.close();
  await waiting;
  assert.deepEqual(log, [
    "write in@0=5",
    "submit 2: after1,after2",
    "write w@4=7,8",
    "submit 1: after3",
  ]);
});

Deno.test("a slot behind another keeps its data until its turn", () => {
  const { queue, log, buffer } = fakeQueue();
  const first = queue.reserve();
  queue.commands(commands, ["between"]);
  const second = queue.reserve();
  queue.commands(commands, ["last"]);
  const data = new Uint8Array([3]);
  second.write(buffer("b"), 0, data);
  data[0] = 4;
  second.close();
  assert.deepEqual(log, [], "the second slot's data waits behind the first");
  first.write(buffer("a"), 0, new Uint8Array([1]));
  first.close();
  assert.deepEqual(log, ["write a@0=1", "submit 1: between", "write b@0=3", "submit 1: last"]);
});

Deno.test("a failed slot stops the queue: waiters and later work get the error", async () => {
  const { queue, log } = fakeQueue();
  const slot = queue.reserve();
  queue.commands(commands, ["held"]);
  const waiting = queue.submitted();
  slot.close(new Error("gpu1 is lost"));
  await assert.rejects(waiting, /gpu1 is lost/);
  await assert.rejects(queue.submitted(), /gpu1 is lost/);
  assert.throws(() => queue.commands(commands, ["more"]), /gpu1 is lost/);
  assert.deepEqual(log, [], "nothing held was submitted");
  assert.match(queue.failure!.message, /gpu1 is lost/);
});
