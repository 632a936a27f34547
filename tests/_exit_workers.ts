/**
 * A process that uses WebGPU from Workers and exits while they end: the pattern of `deno test`,
 * whose every test module runs on a thread of its own. Each of `count` Workers requests an
 * adapter through the library; the main runtime then ends them all and exits at once. It prints
 * what the Workers got and the `DENO_WEBGPU_BACKEND` they ran with, as one line of JSON.
 *
 *   deno run -A tests/_exit_workers.ts [count]
 */

import { requestAdapter } from "../kernels/adapters.ts";

if (new URL(import.meta.url).searchParams.has("worker")) {
  const adapter = await requestAdapter();
  (self as unknown as Worker).postMessage(adapter ? "adapter" : "none");
} else {
  const count = Number(Deno.args[0] ?? 16);
  const workers = Array.from(
    { length: count },
    () => new Worker(new URL("?worker", import.meta.url).href, { type: "module" }),
  );
  const answers = await Promise.all(
    workers.map((w) => new Promise<string>((resolve) => (w.onmessage = (e) => resolve(e.data)))),
  );
  for (const w of workers) w.terminate();
  const backend = Deno.env.get("DENO_WEBGPU_BACKEND") ?? null;
  console.log(JSON.stringify({ answers, backend }));
  Deno.exit(0);
}
