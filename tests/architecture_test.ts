/**
 * The layering of the repository, read from its imports: no import cycle anywhere, and no
 * import that breaks the layer order kernels → tensor → nn → train → cli (nn and train never
 * import kernels). A missing gradient rule is a compile error, checked by `deno check` on
 * `tensor/_rules/mod.ts`; this test checks that the table's type still demands every op.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { findCycles, layerOf, layerViolations, readImportGraph } from "./_import_graph.ts";
import { layerMermaid, readBlock, TENSOR_TIERS, tensorMermaid } from "./_architecture_graph.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

Deno.test("the import graph has no cycle", async () => {
  const cycles = findCycles(await readImportGraph(root));
  assert.deepEqual(cycles.map((c) => c.join(" → ")), []);
});

Deno.test("no import breaks the layers (kernels → tensor → nn → train → cli)", async () => {
  const violations = layerViolations(await readImportGraph(root));
  assert.deepEqual(violations.map((v) => `${v.from} → ${v.to}: ${v.reason}`), []);
});

Deno.test("inside tensor/, imports go only down the tiers (rules never see Tensor)", async () => {
  const arrows = tensorMermaid(await readImportGraph(root)).split("\n")
    .flatMap((line) => [...line.matchAll(/t(\d) -- \d+ --> t(\d|_kernels)/g)]);
  assert.ok(arrows.length >= TENSOR_TIERS.length, "the tiers import each other");
  const upward = arrows.filter(([, from, to]) => to !== "_kernels" && Number(to) > Number(from));
  assert.deepEqual(upward.map(([arrow]) => arrow), []);
});

Deno.test("ARCHITECTURE.md draws the layers' arrows that the code has", async () => {
  const arrows = (mermaid: string) =>
    new Set([...mermaid.matchAll(/(\w+) -- \d+ --> (\w+)/g)].map(([, a, b]) => `${a} → ${b}`));
  const doc = readBlock(await Deno.readTextFile(`${root}/ARCHITECTURE.md`), "layers");
  const code = layerMermaid(await readImportGraph(root));
  assert.deepEqual(
    [...arrows(doc)].sort(),
    [...arrows(code)].sort(),
    "regenerate with `deno run -A tests/_architecture_graph.ts --write`",
  );
});

Deno.test("the checks themselves find a cycle and a layer violation", () => {
  const graph = new Map([
    ["tensor/a.ts", ["tensor/b.ts"]],
    ["tensor/b.ts", ["tensor/a.ts", "nn/c.ts"]],
    ["nn/c.ts", ["kernels/d.ts"]],
    ["kernels/d.ts", []],
  ]);
  assert.deepEqual(findCycles(graph), [["tensor/a.ts", "tensor/b.ts"]]);
  assert.deepEqual(layerViolations(graph).map((v) => v.reason), [
    "tensor imports upward into nn",
    "nn never imports kernels",
  ]);
  assert.equal(layerOf("cli/train.ts"), "cli");
  assert.equal(layerOf("mod.ts"), "tensor");
  assert.equal(layerOf("tests/x_test.ts"), null);
});

Deno.test("a rule table without one op's rule does not compile", async () => {
  const dir = await Deno.makeTempDir();
  const rulesUrl = new URL("../tensor/_rules/mod.ts", import.meta.url).href;
  const check = async (body: string) => {
    const file = `${dir}/table.ts`;
    await Deno.writeTextFile(file, `import { type Op, rules } from "${rulesUrl}";\n${body}\n`);
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", file],
      stdout: "null",
      stderr: "piped",
    }).output();
    return { code, errors: new TextDecoder().decode(stderr) };
  };
  try {
    const complete = await check(
      `export const table: { [K in Op]: (typeof rules)[K] } = { ...rules };`,
    );
    assert.equal(complete.code, 0, complete.errors);
    const missing = await check(
      `const { relu: _, ...rest } = rules;\n` +
        `export const table: { [K in Op]: (typeof rules)[K] } = rest;`,
    );
    assert.notEqual(missing.code, 0, "a table without relu's rule compiled");
    assert.match(missing.errors, /relu/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
