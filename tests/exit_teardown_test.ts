/**
 * A process that used WebGPU through the library exits cleanly. Deno's WebGPU (wgpu) opens
 * OpenGL through glvnd's libEGL besides the native backend, on the thread that first asks for
 * an adapter; where such threads end while the process exits (every `deno test` module and
 * every Worker runs on a thread of its own), libEGL frees its state for them both from the
 * ending thread and from its own destructor at exit, and glibc aborts the process after
 * everything passed ("corrupted size vs. prev_size in fastbins", "double free or corruption",
 * exit 134; or a segfault, 139). With no library code, 16 Workers that each request an adapter
 * and then `Deno.exit(0)` crashed so in about one exit in six on lavapipe. The library asks for
 * the native backends only (`kernels/adapters.ts`), so libEGL is never loaded.
 */

import assert from "node:assert/strict";
import { NATIVE_BACKENDS } from "../kernels/adapters.ts";

const FIXTURE = new URL("./_adapter_libraries.ts", import.meta.url).pathname;

/** Runs the fixture with `backend` as DENO_WEBGPU_BACKEND (unset when null); its report. */
async function adapterLibraries(
  backend: string | null,
): Promise<{ answer: string; backend: string | null; opengl: string[] }> {
  // The variable this process holds (set by an earlier test's adapter request) must not leak in.
  const env = Deno.env.toObject();
  delete env.DENO_WEBGPU_BACKEND;
  if (backend !== null) env.DENO_WEBGPU_BACKEND = backend;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", FIXTURE],
    env,
    clearEnv: true,
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `the fixture exited with ${out.code}: ${stderr.trim()}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test({
  name: "an adapter requested through the library in a Worker never loads OpenGL's libEGL",
  ignore: Deno.build.os !== "linux", // the fixture reads /proc; glvnd's libEGL is Linux's
  async fn() {
    assert.deepEqual(await adapterLibraries(null), {
      answer: "adapter",
      backend: NATIVE_BACKENDS,
      opengl: [],
    });
  },
});

Deno.test({
  name: "the backends a user names in DENO_WEBGPU_BACKEND are kept",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const report = await adapterLibraries("vulkan");
    assert.equal(report.backend, "vulkan");
    assert.equal(report.answer, "adapter");
  },
});
