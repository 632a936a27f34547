/**
 * Every TypeScript example in the README type-checks as written (its `./mod.ts` imports pointed
 * at this checkout), and its `@ts-expect-error` lines really are errors.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

Deno.test("the README's TypeScript examples compile as written", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  assert.ok(blocks.length >= 2, `found ${blocks.length} ts blocks`);
  const dir = await Deno.makeTempDir({ prefix: "readme_test_" });
  try {
    const files: string[] = [];
    for (const [i, code] of blocks.entries()) {
      const file = `${dir}/block_${i}.ts`;
      await Deno.writeTextFile(file, code.replaceAll('"./mod.ts"', `"${new URL("mod.ts", ROOT)}"`));
      files.push(file);
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", ...files],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
