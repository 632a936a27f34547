/**
 * What the multi-tensor optimiser kernels (`sgd.ts`, `adam.ts`) share: each parameter keeps its
 * own buffers and a dispatch binds several parameters' buffers at once, a segment (a parameter,
 * or one binding window of a large one) per `switch` case. This file plans the segments of each
 * dispatch, writes the WGSL's binary search from a workgroup to its segment, and checks that no
 * written buffer is bound twice.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import { memoised } from "./_memo.ts";
import { windows } from "./_program.ts";

/**
 * Most segments (parameters or binding windows of one) a dispatch covers, whatever the device
 * allows: it bounds the WGSL's `switch` and the bind group (WebGPU's default of 1,000 entries).
 */
export const MAX_SEGMENTS_PER_DISPATCH = 64;

/**
 * Segments a dispatch covers on a software adapter. On lavapipe a dispatch costs more per
 * element the more cases the shader's `switch` has, though a workgroup takes one (as if every
 * case ran, masked): ten segments a dispatch measured about twice the per-parameter kernels,
 * two about the same as them with half the dispatches (bench/RESULTS.md).
 */
export const SOFTWARE_SEGMENTS_PER_DISPATCH = 2;

/** One binding window of one parameter, as a dispatch covers it. */
export interface Segment<P> {
  /** The parameter. */
  parameter: P;
  /** First vec4 of the window in the parameter's buffers. */
  start: number;
  /** vec4s in the window. */
  count: number;
}

/** How the segments of a multi-tensor kernel are laid out into dispatches. */
export interface SegmentLayout {
  /** Storage buffers each segment binds. */
  buffersPerSegment: number;
  /** Storage buffers a dispatch binds besides the segments' (the guard flag, step counts). */
  sharedBuffers: number;
  /** Largest bytes one binding may cover; default the device's limit. */
  maxBindingBytes?: number;
  /** Segments one dispatch covers; default {@link defaultSegmentsPerDispatch}. */
  segmentsPerDispatch?: number;
}

/** Segments one shader can bind on `device` with `layout`'s buffers. */
export function bindableSegments(
  device: Device,
  layout: Pick<SegmentLayout, "buffersPerSegment" | "sharedBuffers">,
): number {
  const free = device.limits.maxStorageBuffersPerShaderStage - layout.sharedBuffers;
  return Math.min(Math.floor(free / layout.buffersPerSegment), MAX_SEGMENTS_PER_DISPATCH);
}

/**
 * Segments one dispatch covers by default on `device`: as many as it binds, and
 * {@link SOFTWARE_SEGMENTS_PER_DISPATCH} on a software adapter.
 */
export function defaultSegmentsPerDispatch(
  device: Device,
  layout: Pick<SegmentLayout, "buffersPerSegment" | "sharedBuffers">,
): number {
  return Math.min(
    bindableSegments(device, layout),
    device.isSoftware ? SOFTWARE_SEGMENTS_PER_DISPATCH : MAX_SEGMENTS_PER_DISPATCH,
  );
}

/** The segments of each dispatch: every parameter's binding windows, packed in order. */
export function planSegments<P extends { n: number }>(
  op: string,
  device: Device,
  parameters: readonly P[],
  layout: SegmentLayout,
): Segment<P>[][] {
  const maxBinding = layout.maxBindingBytes ?? device.limits.maxStorageBufferBindingSize;
  const alignment = device.limits.minStorageBufferOffsetAlignment;
  if (maxBinding < Math.max(alignment, 16)) {
    throw new RangeError(
      `${op}: maxBindingBytes ${maxBinding} is below the offset alignment ${alignment}`,
    );
  }
  const perDispatch = Math.min(
    layout.segmentsPerDispatch ?? defaultSegmentsPerDispatch(device, layout),
    bindableSegments(device, layout),
  );
  if (!(perDispatch >= 1) || !Number.isInteger(perDispatch)) {
    throw new RangeError(
      `${op}: a dispatch must cover a whole number ≥ 1 of segments, got ${perDispatch} ` +
        `(the device binds ${device.limits.maxStorageBuffersPerShaderStage} storage buffers; ` +
        `a segment needs ${layout.buffersPerSegment} and the dispatch ${layout.sharedBuffers})`,
    );
  }
  const segments: Segment<P>[] = [];
  for (const parameter of parameters) {
    if (parameter.n === 0) continue;
    for (const w of windows(Math.ceil(parameter.n / 4), 16, maxBinding, alignment)) {
      segments.push({ parameter, start: w.start, count: w.count });
    }
  }
  const out: Segment<P>[][] = [];
  for (let i = 0; i < segments.length; i += perDispatch) {
    out.push(segments.slice(i, i + perDispatch));
  }
  return out;
}

/**
 * The unrolled steps of the WGSL's binary search for `s`, the last of `segments` segments whose
 * first workgroup (`table.s[k].a.x`) is at or before `wg` (lavapipe runs loops, even of one
 * turn, at a cost comparable to the update).
 */
export function searchSteps(segments: number): string {
  const steps: string[] = [];
  for (let step = 2 ** Math.floor(Math.log2(Math.max(segments - 1, 1))); step >= 1; step /= 2) {
    if (step >= segments) continue;
    steps.push(
      `  if (s + ${step}u < ${segments}u && table.s[min(s + ${step}u, ${
        segments - 1
      }u)].a.x <= wg) { s += ${step}u; }`,
    );
  }
  return steps.join("\n");
}

/** WGSL: whether each lane is finite. Bit tests survive compilers that assume finite math. */
export const FINITE_WGSL = `
fn finite(x: vec4f) -> vec4<bool> {
  return (bitcast<vec4u>(x) & vec4u(0x7f800000u)) != vec4u(0x7f800000u);
}
// Lanes past the segment's last (valid) element are padding, whatever the buffer held.
fn validLanes(i: u32, valid: u32) -> vec4<bool> {
  return vec4u(i) * 4u + vec4u(0u, 1u, 2u, 3u) < vec4u(valid);
}`;

/** One parameter's buffers by role: those a dispatch writes, and those it only reads. */
export interface ParameterBuffers {
  /** Written in place, named for errors. */
  written: readonly (readonly [string, GpuBuffer])[];
  /** Read only. */
  read: readonly (readonly [string, GpuBuffer])[];
}

/**
 * Throws when a buffer that a dispatch writes is given twice, or is also read: the updates
 * would race, and WebGPU forbids the aliasing.
 */
export function checkDistinct(op: string, parameters: readonly ParameterBuffers[]): void {
  const written = new Map<GpuBuffer, string>();
  parameters.forEach((p, k) => {
    for (const [name, b] of p.written) {
      const other = written.get(b);
      if (other) throw new Error(`${op}: the ${name} of parameter ${k} is also the ${other}`);
      written.set(b, `${name} of parameter ${k}`);
    }
  });
  parameters.forEach((p, k) => {
    for (const [name, b] of p.read) {
      const other = written.get(b);
      if (other) throw new Error(`${op}: the ${name} of parameter ${k} is also the ${other}`);
    }
  });
}

/** The WGSL that adds 1 to the step counts whose slots a uniform list holds. */
const advanceWgsl = memoised((vec4s: number, guarded: boolean) =>
  `@group(0) @binding(0) var<storage, read_write> steps: array<f32>;
${guarded ? "@group(0) @binding(1) var<storage, read> guard: array<u32>;" : ""}
// x = how many slots; then the slots, four a vec4u.
struct Slots { count: vec4u, slot: array<vec4u, ${vec4s}> }
@group(0) @binding(${guarded ? 2 : 1}) var<uniform> slots: Slots;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32) {
  ${guarded ? "if (guard[0] == 0u) { return; }" : ""}
  for (var k = lid; k < slots.count.x; k += 64u) {
    let slot = slots.slot[k / 4u][k % 4u];
    steps[slot] = steps[slot] + 1.0;
  }
}`
);

/**
 * Adds 1 to the step counts of `slots` in `steps` (f32, one a parameter), in one small dispatch
 * recorded after the updates that read them (workgroups of one parameter run in any order, so
 * an update cannot advance its own count). With `guard`, nothing changes when its flag is 0.
 */
export function advanceStepCounts(
  op: string,
  device: Device,
  steps: GpuBuffer,
  slots: readonly number[],
  guard?: GpuBuffer,
): void {
  if (slots.length === 0) return;
  const vec4s = Math.ceil(slots.length / 4);
  const uniforms = new Uint32Array(4 + vec4s * 4);
  uniforms[0] = slots.length;
  uniforms.set(slots, 4);
  const bindings: Binding[] = [{ buffer: steps, offset: 0, size: steps.capacity }];
  if (guard) bindings.push({ buffer: guard, offset: 0, size: 16 });
  device.dispatch(
    {
      name: `${op} steps ${slots.length}`,
      wgsl: advanceWgsl(vec4s, guard !== undefined),
      uniforms,
      workgroups: 1,
      cost: { bytes: slots.length * 8 },
    },
    bindings,
  );
}
