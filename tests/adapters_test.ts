/**
 * Finding adapters prints nothing of its own: on Linux without a desktop session, the Vulkan
 * instance's Wayland probe would print "error: XDG_RUNTIME_DIR is invalid or not set" twice per
 * adapter request, which a user reads as this library failing. A subprocess without the
 * variable lists the adapters and acquires a device; its stderr stays empty and the variable
 * stays unset.
 */

import assert from "node:assert/strict";

Deno.test("adapters are found and a device acquired without driver noise on stderr", async () => {
  const env = Deno.env.toObject();
  delete env.XDG_RUNTIME_DIR;
  const device = new URL("../kernels/device.ts", import.meta.url).href;
  const adapters = new URL("../kernels/adapters.ts", import.meta.url).href;
  const script = `
    import { Device } from "${device}";
    import { listAdapters } from "${adapters}";
    const found = await listAdapters();
    const d = await Device.acquire();
    console.log(found.length, Deno.env.get("XDG_RUNTIME_DIR") ?? "unset");
    d.destroy();
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    env: { ...env, NO_COLOR: "1" },
    clearEnv: true,
  }).output();
  const stdout = new TextDecoder().decode(out.stdout),
    stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.equal(stderr, "");
  const [count, variable] = stdout.trim().split(" ");
  assert.ok(Number(count) >= 1, stdout);
  assert.equal(variable, "unset");
});
