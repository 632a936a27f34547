/**
 * A process that used WebGPU exits cleanly. Deno's WebGPU (wgpu) opens OpenGL through libEGL
 * besides the native backend, on the thread that first asks for an adapter; where such threads
 * end while the process exits (every `deno test` module and every Worker runs on a thread of
 * its own), glvnd's libEGL frees its per-thread state from the ending thread and from its own
 * destructor at exit, and glibc aborts the process after everything passed ("corrupted size vs.
 * prev_size in fastbins", "double free or corruption", exit 134; or a segfault, 139). About one
 * exit in six of the fixture below crashed so on lavapipe; the library now asks for the native
 * backends only (`kernels/adapters.ts`), and every run must exit with 0.
 */

import assert from "node:assert/strict";
import { NATIVE_BACKENDS } from "../kernels/adapters.ts";

const FIXTURE = new URL("./_exit_workers.ts", import.meta.url).pathname;
const RUNS = 20;
const WORKERS = 16;

/** Runs the fixture with `backend` as DENO_WEBGPU_BACKEND (unset when null). */
async function exitWorkers(
  workers: number,
  backend: string | null,
): Promise<{ code: number; stdout: string; stderr: string }> {
  // The variable this process holds (set by an earlier test's adapter request) must not leak in.
  const env = Deno.env.toObject();
  delete env.DENO_WEBGPU_BACKEND;
  if (backend !== null) env.DENO_WEBGPU_BACKEND = backend;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", FIXTURE, String(workers)],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

Deno.test(`a process that used WebGPU from ${WORKERS} Workers exits cleanly, ${RUNS} times in a row`, async () => {
  const runs = [];
  for (let run = 0; run < RUNS; run++) runs.push(await exitWorkers(WORKERS, null));
  const crashed = runs.filter((r) => r.code !== 0);
  assert.equal(
    crashed.length,
    0,
    `${crashed.length} of ${RUNS} runs crashed at exit (${crashed.map((r) => r.code)}): ` +
      crashed[0]?.stderr.trim(),
  );
  for (const { stdout } of runs) {
    assert.deepEqual(JSON.parse(stdout), {
      answers: Array(WORKERS).fill("adapter"),
      backend: NATIVE_BACKENDS,
    });
  }
});

Deno.test("the backends a user names in DENO_WEBGPU_BACKEND are kept", async () => {
  const { code, stdout, stderr } = await exitWorkers(2, "vulkan");
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout), { answers: ["adapter", "adapter"], backend: "vulkan" });
});
