/**
 * Finding WebGPU adapters. WebGPU has no call that lists adapters: `requestAdapter` returns the
 * one its options prefer. Asking with each preference (high-performance, low-power, the fallback
 * adapter) and keeping the distinct answers finds every adapter a user can choose between in
 * this runtime: a discrete and an integrated GPU, or a GPU and the software rasteriser.
 *
 * @module
 */

/** An adapter this runtime can hand out, and how to ask for it again. */
export interface AdapterEntry {
  /** Position in {@link listAdapters}' answer. */
  readonly index: number;
  /** Its description (or vendor and device when the driver gives no description). */
  readonly name: string;
  /** Whether it is a software rasteriser (lavapipe/llvmpipe, SwiftShader, WARP). */
  readonly software: boolean;
  /** The options that make `requestAdapter` return it. */
  readonly options: GPURequestAdapterOptions;
}

const PREFERENCES: readonly GPURequestAdapterOptions[] = [
  { powerPreference: "high-performance" },
  { powerPreference: "low-power" },
  { forceFallbackAdapter: true },
];

/**
 * `navigator.gpu.requestAdapter`, without the driver's noise. On Linux with no desktop session
 * (a server, a container, CI) the Vulkan instance probes for a Wayland display, and libwayland
 * prints `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` twice per request:
 * lines that read as this library's errors though nothing failed. When the variable is unset
 * (and readable without a permission prompt), the request runs with it naming a folder that
 * holds no Wayland socket, so the probe fails quietly; it is unset again afterwards. It asks for
 * the native backends only ({@link NATIVE_BACKENDS}: OpenGL's teardown can abort the process at
 * exit) unless `DENO_WEBGPU_BACKEND` names others.
 *
 * @example
 * ```ts
 * import { requestAdapter } from "./adapters.ts";
 * const adapter = await requestAdapter({ powerPreference: "high-performance" });
 * console.log(adapter?.info.description);
 * ```
 */
export async function requestAdapter(
  options?: GPURequestAdapterOptions,
): Promise<GPUAdapter | null> {
  useNativeBackends();
  const variable = "XDG_RUNTIME_DIR";
  const quiet = Deno.build.os === "linux" &&
    Deno.permissions.querySync({ name: "env", variable }).state === "granted" &&
    Deno.env.get(variable) === undefined;
  if (!quiet) return await navigator.gpu.requestAdapter(options);
  Deno.env.set(variable, "/nonexistent/alexnet-webgpu");
  try {
    return await navigator.gpu.requestAdapter(options);
  } finally {
    Deno.env.delete(variable);
  }
}

/** What {@link useNativeBackends} asks Deno's WebGPU for: every backend but OpenGL. */
export const NATIVE_BACKENDS = "vulkan,metal,dx12";

/**
 * Has Deno's WebGPU open the native backends only (Vulkan, Metal, Direct3D 12), unless the user
 * chose with `DENO_WEBGPU_BACKEND`. By default wgpu also opens OpenGL, through libEGL, on the
 * thread that first asks for an adapter. Where that thread ends while the process exits (every
 * `deno test` module and every Worker runs on a thread of its own), glvnd's libEGL frees its
 * state for that thread both from the ending thread and from its own destructor at exit, and
 * glibc aborts the process after everything succeeded ("corrupted size vs. prev_size", exit
 * 134). The library's kernels are built for the native backends, and no adapter is lost where
 * a native driver exists (Mesa's lavapipe serves Vulkan where no GPU driver does). Deno reads
 * the variable when a runtime (the main one or a Worker) first asks for an adapter; it is set
 * once for the process and left set, so Workers that start together all see it.
 */
function useNativeBackends(): void {
  const variable = "DENO_WEBGPU_BACKEND";
  if (Deno.permissions.querySync({ name: "env", variable }).state !== "granted") return;
  if (Deno.env.get(variable) === undefined) Deno.env.set(variable, NATIVE_BACKENDS);
}

/** Whether an adapter is a software rasteriser, from its info. */
export function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  const text = `${info.description} ${info.vendor} ${info.architecture}`.toLowerCase();
  return fallback || /llvmpipe|lavapipe|swiftshader|warp|software/.test(text);
}

/** A one-line name of an adapter. */
export function adapterName(info: GPUAdapterInfo): string {
  return info.description || [info.vendor, info.device].filter(Boolean).join(" ") || "unknown";
}

/**
 * The distinct adapters this runtime offers, hardware first.
 *
 * @example
 * ```ts
 * import { listAdapters } from "./adapters.ts";
 * for (const a of await listAdapters()) console.log(a.index, a.name, a.software);
 * ```
 */
export async function listAdapters(): Promise<AdapterEntry[]> {
  if (!("gpu" in navigator) || !navigator.gpu) return [];
  const found: {
    name: string;
    key: string;
    software: boolean;
    options: GPURequestAdapterOptions;
  }[] = [];
  for (const options of PREFERENCES) {
    const adapter = await requestAdapter(options);
    if (!adapter) continue;
    const info = adapter.info;
    const key = [info.vendor, info.architecture, info.device, info.description].join("|");
    if (found.some((f) => f.key === key)) continue;
    found.push({ name: adapterName(info), key, software: isSoftwareAdapter(info), options });
  }
  found.sort((a, b) => Number(a.software) - Number(b.software));
  return found.map((f, index) => ({
    index,
    name: f.name,
    software: f.software,
    options: f.options,
  }));
}

/**
 * The adapter a user named: an index into {@link listAdapters}, or a case-insensitive part of
 * its name. Undefined when none matches.
 */
export function matchAdapter(
  adapters: readonly AdapterEntry[],
  selector: string | number,
): AdapterEntry | undefined {
  const text = String(selector).trim();
  if (/^\d+$/.test(text)) return adapters[Number(text)];
  return adapters.find((a) => a.name.toLowerCase().includes(text.toLowerCase()));
}

/** The adapters as one line for messages: `0: NVIDIA H200; 1: llvmpipe (software)`. */
export function describeAdapters(adapters: readonly AdapterEntry[]): string {
  if (adapters.length === 0) return "none";
  return adapters.map((a) => `${a.index}: ${a.name}${a.software ? " (software)" : ""}`).join("; ");
}
