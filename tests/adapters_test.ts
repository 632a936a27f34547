/**
 * Finding adapters prints nothing of its own: on Linux without a desktop session, the Vulkan
 * instance's Wayland probe would print "error: XDG_RUNTIME_DIR is invalid or not set" twice per
 * adapter request, which a user reads as this library failing. A subprocess without the
 * variable lists the adapters and acquires a device; its stderr stays empty and the variable
 * stays unset. Where no adapter exists on the backends asked for (Metal on Linux), acquiring a
 * device fails with one line that says what to install.
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

Deno.test({
  name: "with no adapter on the backends asked for, acquire says what to install",
  ignore: Deno.build.os !== "linux", // Metal exists on Linux in no driver
  async fn() {
    const device = new URL("../kernels/device.ts", import.meta.url).href;
    const script = `
      import { Device } from "${device}";
      await Device.acquire().then(() => console.log("acquired"), (e) => console.log(e.message));
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      env: { DENO_WEBGPU_BACKEND: "metal", NO_COLOR: "1" },
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(stdout, /^no WebGPU adapter found: install a GPU driver with Vulkan/);
    assert.match(stdout, /DENO_WEBGPU_BACKEND names it\n$/);
  },
});
