/**
 * The package as a user's script imports it: from a folder outside the repository, through an
 * import map that names the package's exports (what `deno add jsr:@alexnet/webgpu` writes), with
 * type checking. The README's examples run that way as written, the npm image decoders resolve
 * when the package is imported by path, and their pins in `deno.json` match the code's.
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { encode as encodePng } from "npm:fast-png@8.0.0";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));

/** The import map a user's `deno.json` has after `deno add jsr:@alexnet/webgpu`, by path. */
function userImports(): Record<string, string> {
  const imports: Record<string, string> = {};
  for (const [entry, file] of Object.entries(config.exports as Record<string, string>)) {
    const name = entry === "." ? config.name : `${config.name}${entry.slice(1)}`;
    imports[name] = pathToFileURL(join(ROOT, file)).href;
  }
  return imports;
}

/** Runs `source` as `main.ts` in a fresh folder outside the repository. */
async function runAsUser(
  source: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "alexnet_user_" });
  try {
    await Deno.writeTextFile(join(dir, "deno.json"), JSON.stringify({ imports: userImports() }));
    await Deno.writeTextFile(join(dir, "main.ts"), source);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--check", "main.ts"],
      cwd: dir,
      env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp", NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every ```ts block of the README that imports the package by its name. */
async function readmeExamples(): Promise<string[]> {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1])
    .filter((code) => code.includes(`from "${config.name}`));
}

function assertQuiet(r: { code: number; stdout: string; stderr: string }, what: string): void {
  assert.equal(r.code, 0, `${what} failed:\n${r.stderr}`);
  const noise = r.stderr.split("\n").filter((l) =>
    l.trim() !== "" && !/^(Check|Download) /.test(l)
  );
  assert.deepEqual(noise, [], `${what} wrote to stderr`);
}

Deno.test("the README's examples run from another folder, importing the package by name", async () => {
  const examples = await readmeExamples();
  assert.ok(examples.length >= 2, `README examples importing ${config.name}: ${examples.length}`);
  const training = examples.find((code) => code.includes("optimizer.step()"));
  assert.ok(training, "the README has a training example with the public Optimizer");
  assert.ok(!/storage|buffer|kernels\//.test(training), "the example touches no GPU buffer");
  for (const code of examples) {
    const r = await runAsUser(code);
    assertQuiet(r, code.split("\n")[0]);
    if (code === training) {
      const m = /validation top-1 error ([\d.]+)% \(chance 75%\)/.exec(r.stdout);
      assert.ok(m, r.stdout);
      assert.ok(Number(m[1]) < 50, `the example learns: ${m[1]}% error`);
    }
  }
});

Deno.test("the npm image decoders resolve when the package is imported by path", async () => {
  const red = encodePng({ width: 1, height: 1, data: new Uint8Array([255, 0, 0]), channels: 3 });
  const r = await runAsUser(`
import { decodeImage } from "${config.name}/train";
const png = new Uint8Array(${JSON.stringify([...red])});
const image = await decodeImage(png, "red.png");
console.log(image.width, image.height, [...image.pixels].join(","));
`);
  assertQuiet(r, "decodeImage");
  assert.equal(r.stdout.trim(), "1 1 255,0,0");
});

Deno.test("every npm dependency of the library is pinned in deno.json, at the version used", async () => {
  const used = new Map<string, string>();
  for (const folder of ["kernels", "tensor", "nn", "train"]) {
    for (const path of await sourceFiles(join(ROOT, folder))) {
      const text = await Deno.readTextFile(path);
      for (const m of text.matchAll(/"npm:((?:@[\w.-]+\/)?[\w.-]+)@([^"/]+)"/g)) {
        used.set(m[1], m[2]);
      }
    }
  }
  assert.ok(used.has("fast-png") && used.has("jpeg-js"), [...used.keys()].join(", "));
  for (const [name, version] of used) {
    assert.equal(config.imports?.[name], `npm:${name}@${version}`, `deno.json imports.${name}`);
  }
});

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) files.push(...await sourceFiles(path));
    else if (e.name.endsWith(".ts")) files.push(path);
  }
  return files;
}
