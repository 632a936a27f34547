/**
 * Every functional op exported from `mod.ts` names a non-tensor first argument (a number, an
 * array, nothing) as `op: expected a Tensor, got …`, rather than failing inside with
 * "x.abs is not a function". The table is `mod.ts`'s exports themselves, so it cannot go stale:
 * a new function is checked the day it is exported, unless it is listed below as taking
 * something else first.
 */

import assert from "node:assert/strict";
import * as api from "../mod.ts";

/** Exported functions whose first argument is not one tensor, with what they take first. */
const TAKES_ANOTHER_FIRST: Record<string, string> = {
  arange: "a number",
  full: "a shape",
  ones: "a shape",
  zeros: "a shape",
  rand: "a shape",
  randn: "a shape",
  randint: "the bounds",
  randperm: "a count",
  eye: "a size",
  tensor: "nested numbers",
  fromTypedArray: "a typed array",
  replicate: "a typed array",
  cropImages: "image crops",
  cropImagesOnHost: "image crops",
  replicateImages: "image crops",
  concat: "an array of tensors",
  stack: "an array of tensors",
  linkReplicas: "an array of tensors",
  clipGradNormAll: "an array of tensors",
  clipGradValueAll: "an array of tensors",
  sgdUpdate: "an optimiser slot",
  sgdCheck: "an optimiser slot",
  sgdUpdateAll: "optimiser updates",
  sgdCheckAll: "optimiser updates",
  adamUpdateAll: "optimiser updates",
  adamCheckAll: "optimiser updates",
  dropoutMask: "a shape",
  windowOutput: "sizes",
  paddedShape: "a shape",
  convPadding: "a padding",
  pair: "a size",
  defaultDevice: "nothing",
  currentDevice: "nothing",
  setDefaultDevice: "a device",
  isGradEnabled: "nothing",
  noGrad: "a function",
  tidy: "a function",
  keep: "a resource",
  manualSeed: "a seed",
  globalGenerator: "nothing",
  transferStats: "nothing",
  resetTransferStats: "nothing",
  traceSyncPoints: "a function",
  pow: "a tensor or a number (torch.pow(2, x))",
  transfer: "a list of [tensor, device] moves",
};

Deno.test("every functional op names a non-tensor first argument", async () => {
  const device = await api.defaultDevice();
  const start = device.memory().liveBytes;
  const functions = Object.entries(api).filter(([name, value]) =>
    typeof value === "function" && /^[a-z]/.test(name) && !(name in TAKES_ANOTHER_FIRST)
  ) as [string, (...args: unknown[]) => unknown][];
  assert.ok(functions.length > 150, `${functions.length} functional ops`);
  const wrong: string[] = [];
  for (const [name, op] of functions) {
    for (const [given, described] of [[42, "the number 42"], [[1, 2], "an array"]] as const) {
      try {
        await op(given, given, given);
        wrong.push(`${name}(${described}): no error`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const named = error instanceof TypeError && !message.includes("\n") &&
          message.startsWith(`${name}: `) && message.includes("Tensor") &&
          message.includes(described);
        if (!named) wrong.push(`${name}(${described}): ${message}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
  for (const name of Object.keys(TAKES_ANOTHER_FIRST)) {
    assert.equal(typeof (api as Record<string, unknown>)[name], "function", `${name} is exported`);
  }
  assert.equal(device.memory().liveBytes, start, "nothing allocated");
});
