/**
 * The `"rows"` variant of `kernels/scan.ts`: one thread per row, in sequence, one pass reading
 * and writing each element once. Runs of whole rows a dispatch ({@link rowRuns}).
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { flatMain, rowRuns } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";
import { WORKGROUP } from "./_scan_blocked.ts";
import type { Carrier } from "./_scan_carrier.ts";

/** The `"rows"` variant: thread `r` scans row `r` in sequence, runs of whole rows a dispatch. */
export function scanEachRow(
  device: Device,
  carrier: Carrier,
  x: GpuBuffer,
  out: GpuBuffer,
  rows: number,
  length: number,
  reverse: boolean,
): void {
  for (const run of rowRuns(device, carrier.label, rows, length, [x, out])) {
    const uf = new Uniforms();
    const u = uf.all({ rows: run.rows, length, shift: run.shift, reverse: reverse ? 1 : 0 });
    const body = `
  var acc: E;
  for (var k = 0u; k < ${u.length}; k++) {
    let j = r * ${u.length} + select(k, ${u.length} - 1u - k, ${u.reverse} != 0u);
    let v = ${carrier.load("src", `j + ${u.shift}`, true)};
    if (k == 0u) { acc = v; } else { acc = combine(acc, v); }
    ${carrier.store("dst", `j + ${u.shift}`, "acc", true)}
  }`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> src: array<${carrier.input}>;
@group(0) @binding(1) var<storage, read_write> dst: array<${carrier.output}>;
${uf.declare(2)}
${carrier.declarations}
fn positionInRow(j: u32) -> i32 { return i32(j % ${u.length}); }
${flatMain(WORKGROUP, u.rows, body, { index: "r" })}`;
    device.dispatch(
      {
        name: `${carrier.label} [${rows}, ${length}] a row per thread`,
        wgsl,
        uniforms: uf.data(),
        variant: "rows",
        workgroups: Math.ceil(run.rows / WORKGROUP),
        cost: { bytes: 8 * run.rows * length },
      },
      run.bindings,
    );
  }
}
