/**
 * Fails (exit 1) when no WebGPU adapter is available, so CI never skips GPU tests silently;
 * otherwise prints the adapter the tests will use.
 *
 * @module
 */

const adapter = await navigator.gpu?.requestAdapter();
if (!adapter) {
  console.error("no WebGPU adapter: install a GPU driver or mesa-vulkan-drivers");
  Deno.exit(1);
}
const info = adapter.info;
console.log(`WebGPU adapter: ${info.description || info.vendor} (${info.architecture || "?"})`);
