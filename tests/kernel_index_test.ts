/**
 * The indexing kernels directly: a scatter-add sums each element's entries in index order (the
 * bits of a sequential f32 sum, on every run), the merge sort at every length up to 40 and both
 * directions, the scans forward and reversed with i32 wrapping, a flip and a roll on different
 * axes of one view, and triangles with diagonals past either end.
 */

import assert from "node:assert/strict";
import { Device, type GpuBuffer } from "../kernels/device.ts";
import { scatter } from "../kernels/gather_scatter.ts";
import { flipRoll, triangle } from "../kernels/reorder.ts";
import { scanRows } from "../kernels/scan.ts";
import { argsortRows } from "../kernels/sort.ts";
import * as ix from "./_index_reference.ts";
import { mulberry32 } from "./_reference.ts";

function upload(device: Device, data: Float32Array | Int32Array): GpuBuffer {
  const buffer = device.alloc(Math.max(data.byteLength, 4));
  device.write(buffer, data);
  return buffer;
}

async function readF32(device: Device, buffer: GpuBuffer, n: number): Promise<Float32Array> {
  return new Float32Array(await device.read(buffer, 0, n * 4));
}

async function readI32(device: Device, buffer: GpuBuffer, n: number): Promise<Int32Array> {
  return new Int32Array(await device.read(buffer, 0, n * 4));
}

Deno.test("scatter-add sums in index order: a sequential f32 sum's bits, every run", async () => {
  const device = await Device.acquire();
  const rng = mulberry32(3);
  const [slots, entries] = [5, 3000];
  const base = Float32Array.from({ length: slots }, () => rng() * 1e3);
  const index = Int32Array.from({ length: entries }, () => Math.floor(rng() * slots));
  const src = Float32Array.from(
    { length: entries },
    () => (rng() - 0.5) * 10 ** Math.floor(rng() * 6),
  );
  // The order a stable sort gives: ascending index, entries in their order.
  const order = Int32Array.from(ix.argsort({ shape: [entries], data: index }, 0, false).data);
  const expected = Float32Array.from(base);
  for (let k = 0; k < entries; k++) expected[index[k]] = Math.fround(expected[index[k]] + src[k]);
  const view = (buffer: GpuBuffer) => ({ buffer, strides: [1], offset: 0 });
  const buffers = [
    upload(device, base),
    upload(device, index),
    upload(device, order),
    upload(device, src),
  ];
  const runs: Float32Array[] = [];
  for (let run = 0; run < 2; run++) {
    const out = device.alloc(slots * 4);
    scatter(device, {
      type: "f32",
      mode: "add",
      shape: [slots],
      dim: 0,
      indexShape: [entries],
      base: view(buffers[0]),
      index: view(buffers[1]),
      order: view(buffers[2]),
      src: view(buffers[3]),
      out,
    });
    runs.push(await readF32(device, out, slots));
    device.release(out);
  }
  assert.deepEqual(Array.from(runs[0]), Array.from(expected));
  assert.deepEqual(Array.from(runs[1]), Array.from(runs[0]));
  device.destroy();
});

Deno.test("argsortRows: every length up to 40, both directions, against a stable sort", async () => {
  const device = await Device.acquire();
  const rng = mulberry32(9);
  for (let length = 1; length <= 40; length++) {
    const rows = 3;
    const keys = Float32Array.from({ length: rows * length }, () => Math.floor(rng() * 5));
    const buffer = upload(device, keys), out = device.alloc(rows * length * 4);
    for (const descending of [false, true]) {
      argsortRows(device, "f32", buffer, out, rows, length, descending);
      const want = ix.argsort({ shape: [rows, length], data: keys }, 1, descending).data;
      assert.deepEqual(
        Array.from(await readI32(device, out, rows * length)),
        Array.from(want),
        `length ${length}`,
      );
    }
    device.release(buffer);
    device.release(out);
  }
  device.destroy();
});

Deno.test("scanRows: forward and reversed sums and products, i32 wrapping", async () => {
  const device = await Device.acquire();
  for (const length of [1, 2, 3, 17, 1000]) {
    const x = Float32Array.from({ length: 2 * length }, (_, i) => (i % 7) - 3);
    const buffer = upload(device, x), out = device.alloc(x.byteLength);
    for (const reverse of [false, true]) {
      scanRows(device, "sum", "f32", buffer, out, 2, length, reverse);
      const want = new Float32Array(x.length);
      for (let r = 0; r < 2; r++) {
        let acc = 0;
        for (let j = 0; j < length; j++) {
          const at = r * length + (reverse ? length - 1 - j : j);
          acc += x[at];
          want[at] = acc;
        }
      }
      assert.deepEqual(
        Array.from(await readF32(device, out, x.length)),
        Array.from(want),
        `length ${length} reverse ${reverse}`,
      );
    }
    device.release(buffer);
    device.release(out);
  }
  const ints = upload(device, Int32Array.of(2 ** 30, 2 ** 30, 3, 65536, 65536, 2));
  const out = device.alloc(24);
  scanRows(device, "sum", "i32", ints, out, 2, 3);
  assert.deepEqual(Array.from(await readI32(device, out, 6)), [
    2 ** 30,
    -(2 ** 31),
    -(2 ** 31) + 3,
    65536,
    131072,
    131074,
  ]);
  scanRows(device, "prod", "i32", ints, out, 2, 3);
  assert.deepEqual(Array.from(await readI32(device, out, 6)), [2 ** 30, 0, 0, 65536, 0, 0]);
  device.destroy();
});

Deno.test("flipRoll flips one axis and rolls another of a transposed view; triangles past either end", async () => {
  const device = await Device.acquire();
  // x = [[0, 1, 2], [3, 4, 5]] read transposed as [3, 2].
  const x = upload(device, Float32Array.of(0, 1, 2, 3, 4, 5)), out = device.alloc(24);
  flipRoll(device, [3, 2], { buffer: x, strides: [1, 3], offset: 0 }, out, [true, false], [0, 1]);
  // Transposed: [[0, 3], [1, 4], [2, 5]]; flipped along 0: [[2, 5], [1, 4], [0, 3]]; rolled by 1 along 1.
  assert.deepEqual(Array.from(await readF32(device, out, 6)), [5, 2, 4, 1, 3, 0]);
  for (
    const [upper, diagonal, want] of [
      [false, 2 ** 40, [0, 1, 2, 3, 4, 5]],
      [false, -(2 ** 40), [0, 0, 0, 0, 0, 0]],
      [true, -5, [0, 1, 2, 3, 4, 5]],
      [true, 3, [0, 0, 0, 0, 0, 0]],
      [true, 1, [0, 1, 2, 0, 0, 5]],
    ] as const
  ) {
    triangle(device, [2, 3], { buffer: x, strides: [3, 1], offset: 0 }, out, upper, diagonal);
    assert.deepEqual(
      Array.from(await readF32(device, out, 6)),
      [...want],
      `${upper ? "triu" : "tril"} ${diagonal}`,
    );
  }
  device.destroy();
});
