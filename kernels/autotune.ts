/**
 * Choice of algorithm and tile per adapter, the way `cudnn.benchmark` chooses: each op offers a
 * set of correct candidates; the first use of a shape on an adapter records it (with the
 * default candidate, since a kernel call only records work and cannot wait), and
 * {@link autotune} then times every candidate of the shapes seen (GPU timestamps where the
 * adapter has `timestamp-query`, else wall clock around a readback), keeps the fastest and
 * saves the choice on disk keyed by the adapter (vendor, architecture, device, driver), the op
 * and the shape. Later runs read the file and never time again.
 *
 * Switch: `ALEXNET_AUTOTUNE=0` turns it off (every op takes its deterministic default: the
 * register-patch kernels, Winograd and the register GEMM on software adapters, the GEMM core with a fixed tile rule on GPUs);
 * `ALEXNET_AUTOTUNE=1` turns it on everywhere. By default it is on for GPUs and off for
 * software adapters, where the defaults are measured best and timing is slow. The variable is
 * read once, at the first choice; {@link setAutotune} switches it in the program (tests, benches).
 * `ALEXNET_AUTOTUNE_CACHE` names the cache file (default
 * `$XDG_CACHE_HOME/alexnet-webgpu/autotune.json`, else `~/.cache/…`).
 *
 * Destroying a device drops its tuning without a word: a run in progress stops at its next
 * step (so `Device.destroy()`, which is synchronous, never waits for it), records nothing more
 * on the device and saves nothing. A device lost otherwise (a driver reset, another owner
 * destroying the GPUDevice) is reported once, and tuning stops there; its ops keep their
 * defaults and the choices made so far.
 *
 * @module
 */

import { BoundedCache } from "./_bounded_cache.ts";
import type { Device, GpuBuffer } from "./device.ts";

/** One candidate of an op: a name (shown by the profiler and bench) and what the kernel needs. */
export interface Candidate<T> {
  name: string;
  value: T;
}

/** A shape whose candidates are still to be timed. */
interface Pending {
  op: string;
  key: string;
  names: string[];
  /** Records one run of candidate i (allocating and releasing its own scratch). */
  record: (i: number) => void;
}

interface DeviceState {
  choices: Map<string, string>;
  pending: Map<string, Pending>;
  /** Tuning runs one at a time, in order. */
  chain: Promise<void>;
  /** A background run is scheduled and has not started. */
  scheduled: boolean;
  /** Results not yet returned by {@link autotune}. */
  recent: TuneResult[];
  /** Tuning stopped for good: the device was destroyed or lost. */
  stopped: boolean;
}

const states = new WeakMap<Device, DeviceState>();

/**
 * Shapes waiting to be timed, at most, per device. Without GPU timestamps nothing times them
 * until {@link autotune} is called; a run meeting ever-new shapes would otherwise keep one
 * entry (and its candidates' closures) per shape. Shapes met past the bound keep the default
 * until they are met again with room.
 */
const MAX_PENDING = 256;
let fileChoices: Record<string, Record<string, string>> | null = null;

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: defaults apply
  }
}

/**
 * `ALEXNET_AUTOTUNE` as read once (every op's call asks, and reading the environment is a call
 * into the runtime): on, off, or undefined for the adapter's default.
 */
let envSwitch: boolean | undefined | null = null;
/** The switch {@link setAutotune} set, which outranks the environment; undefined: none. */
let programSwitch: boolean | undefined;

/**
 * Turns autotuning on or off for every device from here on, whatever `ALEXNET_AUTOTUNE` says;
 * `undefined` hands the choice back to the environment (and the adapter's default).
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { autotuneEnabled, setAutotune } from "./autotune.ts";
 * const device = await Device.acquire();
 * setAutotune(false);
 * console.log(autotuneEnabled(device)); // false
 * setAutotune(undefined);
 * ```
 */
export function setAutotune(on: boolean | undefined): void {
  programSwitch = on;
}

/** Whether autotuning is on for `device` (see the module doc for the switch). */
export function autotuneEnabled(device: Device): boolean {
  if (programSwitch !== undefined) return programSwitch;
  if (envSwitch === null) {
    const v = env("ALEXNET_AUTOTUNE")?.toLowerCase();
    envSwitch = v === "0" || v === "off" || v === "false"
      ? false
      : v === "1" || v === "on" || v === "true"
      ? true
      : undefined;
  }
  return envSwitch ?? !device.isSoftware;
}

/** The adapter's identity in the cache: vendor, architecture, device and driver description. */
export function adapterKey(device: Device): string {
  const i = device.adapterInfo;
  return [i.vendor, i.architecture, i.device, i.description].join("|");
}

/** Path of the cache file. */
export function cachePath(): string {
  const explicit = env("ALEXNET_AUTOTUNE_CACHE");
  if (explicit) return explicit;
  const base = env("XDG_CACHE_HOME") ?? `${env("HOME") ?? "."}/.cache`;
  return `${base}/alexnet-webgpu/autotune.json`;
}

function loadFile(): Record<string, Record<string, string>> {
  if (fileChoices) return fileChoices;
  try {
    fileChoices = JSON.parse(Deno.readTextFileSync(cachePath()));
  } catch {
    fileChoices = {};
  }
  return fileChoices!;
}

function state(device: Device): DeviceState {
  let s = states.get(device);
  if (!s) {
    const saved = autotuneEnabled(device) ? loadFile()[adapterKey(device)] ?? {} : {};
    s = {
      choices: new Map(Object.entries(saved)),
      pending: new Map(),
      chain: Promise.resolve(),
      scheduled: false,
      recent: [],
      stopped: false,
    };
    states.set(device, s);
  }
  return s;
}

/**
 * Each device's candidate lists by op and shape: a training step asks for the same shapes step
 * after step, and building a list (tile fits, split-K counts, names) cost about 25 µs a call.
 * Bounded as the kernel memos are (`_memo.ts`).
 */
const candidateLists = new WeakMap<Device, BoundedCache<string, readonly Candidate<unknown>[]>>();
const CANDIDATE_LISTS = 512;

/**
 * The candidate an op uses for a shape: the tuned choice if there is one, else the first
 * candidate (the op's default). `candidates` builds the shape's list, once per device, op and
 * key: the key must name everything the list depends on. A miss with tuning on records the
 * shape and, where the adapter has GPU timestamps, schedules tuning in the background: its
 * timing runs are recorded and timed in stretches of code that nothing else interleaves with,
 * so it may run while a training loop awaits its reads; later calls of the shape get the choice.
 */
export function choose<T>(
  device: Device,
  op: string,
  key: string,
  candidates: () => readonly Candidate<T>[],
  record: (value: T) => void,
): Candidate<T> {
  const id = `${op} ${key}`;
  let lists = candidateLists.get(device);
  if (!lists) candidateLists.set(device, lists = new BoundedCache(CANDIDATE_LISTS));
  let list = lists.get(id) as readonly Candidate<T>[] | undefined;
  if (!list) lists.set(id, list = candidates());
  if (list.length === 1 || !autotuneEnabled(device)) return list[0];
  const s = state(device);
  const chosen = s.choices.get(id);
  const found = list.find((c) => c.name === chosen);
  if (found) return found;
  if (!s.stopped && !s.pending.has(id) && s.pending.size < MAX_PENDING) {
    const tuned = list;
    s.pending.set(id, {
      op,
      key,
      names: tuned.map((c) => c.name),
      record: (i) => record(tuned[i].value),
    });
    if (device.hasTimestamps && !s.scheduled) {
      s.scheduled = true;
      setTimeout(() => {
        s.scheduled = false;
        void tuneAll(device, s, 3);
      }, 0);
    }
  }
  return list[0];
}

/** One timed shape: the candidates' milliseconds and the choice. */
export interface TuneResult {
  op: string;
  key: string;
  times: { name: string; ms: number }[];
  chosen: string;
}

/**
 * Times every candidate of the shapes met and not yet tuned (waiting for a background run in
 * progress), keeps the fastest per shape, saves the choices (atomically) to the cache file and
 * returns what was tuned since the previous call, in the background or here. `repeats` runs
 * are timed per candidate after one untimed run (which compiles it).
 */
export async function autotune(device: Device, repeats = 3): Promise<TuneResult[]> {
  const s = state(device);
  await tuneAll(device, s, repeats);
  const out = s.recent;
  s.recent = [];
  return out;
}

/** Queues a tuning run behind the previous one; a failure is reported, not thrown. */
function tuneAll(device: Device, s: DeviceState, repeats: number): Promise<void> {
  s.chain = s.chain.then(() => tunePending(device, s, repeats)).catch((error) =>
    reportFailure(device, s, error)
  );
  return s.chain;
}

/**
 * What a failed run leaves: nothing at all on a device its user destroyed meanwhile; one
 * warning and the end of tuning on a device that is lost; else a warning (the shape is tried
 * again when it is met again).
 */
async function reportFailure(device: Device, s: DeviceState, error: unknown): Promise<void> {
  if (s.stopped) return;
  // The failure may come from WebGPU before the device's `lost` promise has settled.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const message = error instanceof Error ? error.message : String(error);
  if (device.destroyed) return stop(s);
  try {
    device.checkAlive("autotune");
  } catch {
    stop(s);
    return console.warn(`autotune: tuning stops on ${device.label}: ${message}`);
  }
  console.warn(`autotune: ${message}`);
}

/** Ends tuning on a device: what is pending is dropped and no shape is recorded any more. */
function stop(s: DeviceState): void {
  s.stopped = true;
  s.pending.clear();
}

async function tunePending(device: Device, s: DeviceState, repeats: number): Promise<void> {
  let tuned = 0;
  // Shapes met while timing (a candidate's inner products) join the same run.
  for (const [id, p] of s.pending) {
    s.pending.delete(id);
    const times: { name: string; ms: number }[] = [];
    for (let i = 0; i < p.names.length; i++) {
      // Destroyed while this run waited: record nothing more on it.
      if (device.destroyed || s.stopped) return stop(s);
      p.record(i);
      await device.sync();
      times.push({ name: p.names[i], ms: await timeRuns(device, () => p.record(i), repeats) });
    }
    const best = times.reduce((a, b) => (b.ms < a.ms ? b : a));
    s.choices.set(id, best.name);
    s.recent.push({ op: p.op, key: p.key, times, chosen: best.name });
    tuned++;
  }
  // A run cut short by a destroy saves nothing (even the shapes it finished).
  if (device.destroyed) return stop(s);
  if (tuned > 0) await save(device, s);
}

/** The choices in force on `device` (tuned or loaded), by `op shape`. */
export function autotuneChoices(device: Device): Record<string, string> {
  return Object.fromEntries(state(device).choices);
}

/**
 * Milliseconds per run. With timestamps, the runs are recorded between startProfile and
 * stopProfile with no await in between, so only their dispatches are timed even while other
 * code records work on the device; a profile someone else is taking is waited out.
 */
async function timeRuns(device: Device, run: () => void, repeats: number): Promise<number> {
  if (device.hasTimestamps) {
    while (device.profiling) await new Promise((resolve) => setTimeout(resolve, 20));
    device.checkAlive("autotune timing"); // destroyed while it waited: end the run here
    device.startProfile();
    for (let r = 0; r < repeats; r++) run();
    const { rows } = await device.stopProfile();
    return rows.reduce((sum, row) => sum + row.ms, 0) / repeats;
  }
  const start = performance.now();
  for (let r = 0; r < repeats; r++) run();
  await device.sync();
  return (performance.now() - start) / repeats;
}

async function save(device: Device, s: DeviceState): Promise<void> {
  const path = cachePath();
  const all = loadFile();
  all[adapterKey(device)] = Object.fromEntries(s.choices);
  try {
    const dir = path.slice(0, Math.max(0, path.lastIndexOf("/")));
    if (dir) await Deno.mkdir(dir, { recursive: true });
    const tmp = `${path}.${Deno.pid}.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(all, null, 1) + "\n");
    await Deno.rename(tmp, path);
  } catch (error) {
    console.warn(`autotune: could not save ${path}: ${error}`);
  }
}

/**
 * Runs `body` on fresh buffers of the given f32 counts and releases them afterwards (the work
 * it recorded keeps them alive on the GPU): the scratch operands of a timing run.
 */
export function withScratch(
  device: Device,
  counts: readonly number[],
  body: (buffers: GpuBuffer[]) => void,
): void {
  const buffers = counts.map((n) => device.alloc(Math.max(4, n * 4), "autotune scratch"));
  try {
    body(buffers);
  } finally {
    for (const b of buffers) device.release(b);
  }
}
