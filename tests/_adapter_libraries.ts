/**
 * Requests an adapter the library's way in a Worker (a thread of its own, as every `deno test`
 * module has), waits for that thread to end, and prints as one line of JSON what the Worker
 * got, the `DENO_WEBGPU_BACKEND` it ran with and the OpenGL libraries (glvnd's libEGL and
 * libGLdispatch) then mapped into the process. Linux only: it reads `/proc/self`.
 *
 *   deno run -A tests/_adapter_libraries.ts
 */

import { requestAdapter } from "../kernels/adapters.ts";

if (new URL(import.meta.url).searchParams.has("worker")) {
  const adapter = await requestAdapter();
  (self as unknown as Worker).postMessage(adapter ? "adapter" : "none");
  self.close();
} else {
  const worker = new Worker(new URL("?worker", import.meta.url).href, { type: "module" });
  const answer = await new Promise<string>((
    resolve,
  ) => (worker.onmessage = (e) => resolve(e.data)));
  // Exiting while the Worker's thread still tears down its Vulkan instance can crash in Deno
  // itself (the loader unloads drivers while exit runs their destructors): wait for the thread.
  const workerThreads = () =>
    [...Deno.readDirSync("/proc/self/task")].filter((task) => {
      const name = Deno.readTextFileSync(`/proc/self/task/${task.name}/comm`);
      return name.startsWith("worker-");
    }).length;
  for (let waited = 0; workerThreads() > 0 && waited < 10_000; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const opengl = [
    ...new Set(
      Deno.readTextFileSync("/proc/self/maps").split("\n")
        .map((line) => line.match(/\/(lib(?:EGL|GLdispatch)[^/]*\.so[.\d]*)$/)?.[1])
        .filter((name) => name !== undefined),
    ),
  ].sort();
  const backend = Deno.env.get("DENO_WEBGPU_BACKEND") ?? null;
  console.log(JSON.stringify({ answer, backend, opengl }));
}
