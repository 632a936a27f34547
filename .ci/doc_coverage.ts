/**
 * The docs gate's coverage half (`deno doc --lint` and `deno test --doc` are the others):
 * every function and class exported from the given entries has an `@example`, and no example
 * anywhere in the published folders is skipped with `ignore`. Prints what is missing and exits
 * 1 when anything is.
 *
 * Usage: `deno run -A .ci/doc_coverage.ts mod.ts nn/mod.ts train/mod.ts`
 *
 * @module
 */

const entries = Deno.args.length > 0 ? Deno.args : ["mod.ts", "nn/mod.ts", "train/mod.ts"];
/** The source folders behind each entry, whose examples must all run. */
const FOLDERS: Record<string, string[]> = {
  "mod.ts": ["mod.ts", "kernels", "tensor"],
  "nn/mod.ts": ["nn"],
  "train/mod.ts": ["train"],
};

interface DocSymbol {
  name: string;
  declarations: {
    kind: string;
    location?: { filename: string };
    jsDoc?: { tags?: { kind: string }[] };
  }[];
}

const { stdout, success } = await new Deno.Command(Deno.execPath(), {
  args: ["doc", "--json", ...entries],
  stdout: "piped",
}).output();
if (!success) Deno.exit(1);
const doc = JSON.parse(new TextDecoder().decode(stdout)) as {
  nodes: Record<string, { symbols?: DocSymbol[] }>;
};

const root = new URL("..", import.meta.url).href;
const missing = new Set<string>();
let publicSymbols = 0;
for (const file of Object.values(doc.nodes)) {
  for (const symbol of file.symbols ?? []) {
    // Overloads are declarations of one symbol: an example on any of them documents it.
    const callable = symbol.declarations.filter((d) => d.kind === "function" || d.kind === "class");
    if (callable.length === 0) continue;
    publicSymbols++;
    if (callable.some((d) => d.jsDoc?.tags?.some((t) => t.kind === "example"))) continue;
    const where = callable[0].location?.filename.replace(root, "") ?? "?";
    missing.add(`${callable[0].kind} ${symbol.name} (${where}) has no @example`);
  }
}

const IGNORED = /```(?:ts|typescript|js)?\s+ignore\b|```ignore\b/;
async function* sources(path: string): AsyncGenerator<string> {
  const info = await Deno.stat(path).catch(() => null);
  if (!info) return;
  if (info.isFile) {
    if (path.endsWith(".ts")) yield path;
    return;
  }
  for await (const entry of Deno.readDir(path)) yield* sources(`${path}/${entry.name}`);
}
const ignored: string[] = [];
for (const top of entries.flatMap((entry) => FOLDERS[entry] ?? [])) {
  for await (const path of sources(new URL(top, root).pathname)) {
    const lines = (await Deno.readTextFile(path)).split("\n");
    lines.forEach((line, i) => {
      if (IGNORED.test(line)) ignored.push(`${path.replace(new URL(root).pathname, "")}:${i + 1}`);
    });
  }
}

for (const m of missing) console.log(m);
for (const where of ignored) console.log(`${where}: an example marked ignore (it must run)`);
console.log(
  `doc coverage: ${publicSymbols} public functions and classes, ${missing.size} without an ` +
    `example; ${ignored.length} ignored examples`,
);
if (missing.size > 0 || ignored.length > 0) Deno.exit(1);
