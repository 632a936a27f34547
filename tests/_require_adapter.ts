/**
 * Fails (exit 1) when no WebGPU adapter is available, so CI never skips GPU tests silently;
 * otherwise prints the adapter the tests will use (asked for as the library asks: native backends).
 *
 * @module
 */

import { requestAdapter } from "../kernels/adapters.ts";

const adapter = "gpu" in navigator && navigator.gpu ? await requestAdapter() : null;
if (!adapter) {
  console.error("no WebGPU adapter: install a GPU driver or mesa-vulkan-drivers");
  Deno.exit(1);
}
const info = adapter.info;
console.log(`WebGPU adapter: ${info.description || info.vendor} (${info.architecture || "?"})`);
