/**
 * The GPU profiler: one row per dispatch with its variant and work, rows grouped by kernel and
 * variant adding up to the rows' total, and the step counted (cold pipelines, wall time).
 */

import assert from "node:assert/strict";
import { Device } from "../kernels/device.ts";
import { conv2d } from "../kernels/conv2d.ts";
import { matmul } from "../kernels/matmul.ts";
import { geometry } from "./_conv_geometry.ts";
import { formatProfile, groupRows, profileTrainingStep, rateOf } from "../train/profile.ts";

Deno.test("profiler", async (t) => {
  const device = await Device.acquire();
  if (!device.hasTimestamps) {
    console.log("no timestamp-query on this adapter: profiler test skipped");
    device.destroy();
    return;
  }

  await t.step("times every dispatch of a step, with variants and rates", async () => {
    const g = geometry({ width: 9, outChannels: 4, padH: 1, padW: 1 });
    const x = device.alloc(4 * 2 * 3 * 81), w = device.alloc(4 * 4 * 27);
    const out = device.alloc(4 * 2 * 4 * 81), c = device.alloc(4 * 16);
    const step = () => {
      conv2d(device, g, { x, w, out });
      matmul(device, { a: x, b: w, out: c, m: 4, n: 4, k: 8 });
      return Promise.resolve();
    };
    const p = await profileTrainingStep(device, step);
    assert.equal(p.rows.length, 2);
    assert.match(p.rows[0].name, /^conv2d 2×3×9×9→4/);
    assert.match(p.rows[0].variant, /^direct/);
    assert.equal(p.rows[0].flops, 2 * 2 * 4 * 81 * 27);
    assert.match(p.rows[1].variant, /^gemm /);
    assert.ok(p.rows.every((r) => r.ms >= 0));
    assert.ok(p.spanMs >= p.busyMs * 0.999);
    assert.ok(p.wallMs > 0 && p.coldMs > 0);
    const sum = p.groups.reduce((s, x) => s + x.ms, 0);
    assert.ok(Math.abs(sum - p.busyMs) < 1e-9);
    assert.match(formatProfile(p), /by kernel and variant/);
    for (const b of [x, w, out, c]) device.release(b);
  });

  await t.step("groups and rates", () => {
    const rows = [
      { name: "conv2d a", variant: "direct", ms: 2, flops: 4e9 },
      { name: "conv2d b", variant: "direct", ms: 2, flops: 4e9 },
      { name: "lrn[x]", variant: "", ms: 1, bytes: 1e6 },
    ];
    const groups = groupRows(rows);
    assert.deepEqual(groups.map((g) => [g.kernel, g.calls, g.ms]), [["conv2d", 2, 4], [
      "lrn",
      1,
      1,
    ]]);
    assert.deepEqual(rateOf(4, 8e9), [2, "TFLOP/s"]);
    assert.deepEqual(rateOf(1, 1e6), [1, "GFLOP/s"]);
    assert.deepEqual(rateOf(1, undefined, 1e6), [1, "GB/s"]);
  });

  device.destroy();
});
