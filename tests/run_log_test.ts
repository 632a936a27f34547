import assert from "node:assert/strict";
import { join } from "node:path";
import { namePath, writeFileAtomic } from "../nn/_atomic.ts";
import {
  appendEpochMetrics,
  csvHeader,
  type EpochMetrics,
  METRICS_CSV,
  METRICS_JSONL,
  parseJsonLine,
  readMetrics,
  truncateMetrics,
} from "../train/run_log.ts";
import { CURVES_SVG, renderTrainingSvg, writeTrainingPlot } from "../cli/plot_svg.ts";

/** Rounded so the CSV text is predictable (0.9 - 0.06 is 0.8400000000000001). */
const r4 = (v: number) => Number(v.toFixed(4));

function row(epoch: number, overrides: Partial<EpochMetrics> = {}): EpochMetrics {
  return {
    epoch,
    step: epoch * 100,
    lr: epoch <= 3 ? 0.01 : 0.001,
    trainLoss: r4(7 - epoch * 0.5),
    trainTop1: r4(1 - epoch * 0.05),
    trainTop5: r4(0.9 - epoch * 0.06),
    valLoss: r4(7.1 - epoch * 0.45),
    valTop1: r4(1 - epoch * 0.045),
    valTop5: r4(0.92 - epoch * 0.055),
    imagesPerSec: 1234.5,
    seconds: 60.25,
    skippedSteps: 0,
    ...overrides,
  };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "run_log_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("run log", async (t) => {
  await t.step("CSV: header once, fixed column order, NaN as empty cell", async () => {
    await withTempDir(async (dir) => {
      await appendEpochMetrics(dir, row(1, { valLoss: NaN, valTop1: NaN, valTop5: NaN }));
      await appendEpochMetrics(dir, row(2, { skippedSteps: 3 }));
      const lines = (await Deno.readTextFile(join(dir, METRICS_CSV))).split("\n");
      assert.deepEqual(lines, [
        "epoch,step,lr,train_loss,train_top1,train_top5,val_loss,val_top1,val_top5," +
        "images_per_sec,seconds,skipped_steps",
        "1,100,0.01,6.5,0.95,0.84,,,,1234.5,60.25,0",
        "2,200,0.01,6,0.9,0.78,6.2,0.91,0.81,1234.5,60.25,3",
        "",
      ]);
      assert.equal(csvHeader(), lines[0] + "\n");
    });
  });

  await t.step("JSONL: one object per line with CSV names, NaN as null", async () => {
    await withTempDir(async (dir) => {
      await appendEpochMetrics(dir, row(1, { valLoss: NaN }));
      const text = await Deno.readTextFile(join(dir, METRICS_JSONL));
      assert.equal(text.split("\n").length, 2);
      const record = JSON.parse(text);
      assert.deepEqual(Object.keys(record), csvHeader().trim().split(","));
      assert.equal(record.val_loss, null);
      assert.equal(record.train_loss, 6.5);
    });
  });

  await t.step("readMetrics round-trips, sorts, keeps the last row per epoch", async () => {
    await withTempDir(async (dir) => {
      assert.deepEqual(await readMetrics(dir), []);
      await appendEpochMetrics(dir, row(1));
      await appendEpochMetrics(dir, row(2));
      await appendEpochMetrics(dir, row(3));
      // Resumed from the epoch-1 checkpoint: epoch 2 is run again.
      await appendEpochMetrics(dir, row(2, { trainLoss: 5.5, valTop1: NaN }));
      const rows = await readMetrics(dir);
      assert.deepEqual(rows.map((r) => r.epoch), [1, 2, 3]);
      assert.equal(rows[1].trainLoss, 5.5);
      assert.ok(Number.isNaN(rows[1].valTop1));
      assert.deepEqual(rows[0], row(1));
      assert.deepEqual((await readMetrics(dir, { upToEpoch: 2 })).map((r) => r.epoch), [1, 2]);
    });
  });

  await t.step("resumed runs: no duplicate epoch rows in the CSV; truncation", async () => {
    await withTempDir(async (dir) => {
      for (const e of [1, 2, 3]) await appendEpochMetrics(dir, row(e));
      // A crash after epoch 3 was logged but before its checkpoint: epoch 3 is redone.
      await appendEpochMetrics(dir, row(3, { trainLoss: 4.5 }));
      const csv = (await Deno.readTextFile(join(dir, METRICS_CSV))).trim().split("\n");
      assert.deepEqual(csv.slice(1).map((l) => l.split(",")[0]), ["1", "2", "3"]);
      assert.equal(csv[3].split(",")[3], "4.5");
      // Resuming from the epoch-1 checkpoint drops the rows of epochs 2 and 3 from both files.
      await truncateMetrics(dir, 1);
      assert.deepEqual((await readMetrics(dir)).map((r) => r.epoch), [1]);
      const jsonl = (await Deno.readTextFile(join(dir, METRICS_JSONL))).trim().split("\n");
      assert.equal(jsonl.length, 1);
      assert.equal((await Deno.readTextFile(join(dir, METRICS_CSV))).trim().split("\n").length, 2);
    });
  });

  await t.step("a torn last line is skipped and not glued to the next one", async () => {
    await withTempDir(async (dir) => {
      await appendEpochMetrics(dir, row(1));
      await Deno.writeTextFile(join(dir, METRICS_JSONL), '{"epoch":2,"step":2', { append: true });
      await Deno.writeTextFile(join(dir, METRICS_CSV), "2,200,0.0", { append: true });
      await appendEpochMetrics(dir, row(3));
      assert.deepEqual((await readMetrics(dir)).map((r) => r.epoch), [1, 3]);
      // The CSV is rewritten from the JSONL: the fragment is gone.
      const csv = (await Deno.readTextFile(join(dir, METRICS_CSV))).split("\n");
      assert.match(csv[1], /^1,100,/);
      assert.match(csv[2], /^3,300,/);
    });
  });

  await t.step("parseJsonLine rejects junk", () => {
    assert.equal(parseJsonLine(""), undefined);
    assert.equal(parseJsonLine("[1,2]"), undefined);
    assert.equal(parseJsonLine('{"step":1}'), undefined);
    assert.equal(parseJsonLine("null"), undefined);
  });
});

Deno.test("writeFileAtomic", async (t) => {
  await t.step("replaces content and leaves no temp files", async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "a.json");
      await writeFileAtomic(path, "one");
      await writeFileAtomic(path, new TextEncoder().encode("two"));
      assert.equal(await Deno.readTextFile(path), "two");
      const names = [];
      for await (const entry of Deno.readDir(dir)) names.push(entry.name);
      assert.deepEqual(names, ["a.json"]);
    });
  });

  await t.step("on error the target is untouched and the temp file removed", async () => {
    await withTempDir(async (dir) => {
      const target = join(dir, "target");
      await Deno.mkdir(target); // renaming a file over a folder fails
      await assert.rejects(() => writeFileAtomic(target, "x"));
      const names = [];
      for await (const entry of Deno.readDir(dir)) names.push(entry.name);
      assert.deepEqual(names, ["target"]);
      assert.ok((await Deno.stat(target)).isDirectory);
    });
  });

  await t.step("a folder, or a path whose folder is missing, is named as such", async () => {
    await withTempDir(async (dir) => {
      // It read "Is a directory (os error 21): rename '<dir>/.target.….tmp' -> '<dir>/target'",
      // and for a missing folder "No such file or directory (os error 2): open '….tmp'".
      const target = join(dir, "target");
      await Deno.mkdir(target);
      await assert.rejects(
        writeFileAtomic(target, "x"),
        (e: Error) =>
          e instanceof Deno.errors.IsADirectory &&
          e.message === `${target} is a folder: give a file path to write`,
      );
      const missing = join(dir, "no", "model.safetensors");
      await assert.rejects(
        writeFileAtomic(missing, "x"),
        new RegExp(
          `^NotFound: ${missing}: cannot write it: the folder ${join(dir, "no")} does not exist$`,
        ),
      );
      await Deno.writeTextFile(join(dir, "file"), "");
      await assert.rejects(
        writeFileAtomic(join(dir, "file", "x"), "x"),
        /the folder .*file is a file$/,
      );
      const names = [];
      for await (const entry of Deno.readDir(dir)) names.push(entry.name);
      assert.deepEqual(names.sort(), ["file", "target"]); // no temporary file left anywhere
    });
  });

  await t.step("a failed write names the file (the OS's ENOSPC message does not)", async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "missing", "state.json");
      await assert.rejects(
        writeFileAtomic(path, "x"),
        (e: Error) => e instanceof Deno.errors.NotFound && e.message.startsWith(`${path}: `),
      );
      // The same for an error without any path, as "No space left on device (os error 28)".
      const bare = new Error("No space left on device (os error 28)");
      assert.equal(namePath(bare, path), bare);
      assert.equal(bare.message, `${path}: No space left on device (os error 28)`);
      assert.equal((namePath(bare, path) as Error).message, bare.message, "named once");
    });
  });
});

/** Every number in points/coordinates attributes; NaN or Infinity would show up as non-numbers. */
function coordinates(svg: string): string[] {
  const values: string[] = [];
  for (const m of svg.matchAll(/\b(?:points|x|y|x1|x2|y1|y2|cx|cy)="([^"]*)"/g)) {
    values.push(...m[1].split(/[\s,]+/).filter((v) => v !== ""));
  }
  return values;
}

function assertWellFormed(svg: string): void {
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.ok(!/NaN|Infinity|undefined/.test(svg), "no NaN, Infinity or undefined anywhere");
  for (const v of coordinates(svg)) assert.ok(Number.isFinite(Number(v)), `coordinate ${v}`);
  // No external resources: fonts, scripts, images or stylesheets.
  assert.ok(!/<script|<image|@import|url\(|href=/.test(svg));
  // Tags balance (every non-self-closing open tag has a close tag).
  const opens = [...svg.matchAll(/<([a-z]+)\b([^>]*)>/g)].filter((m) => !m[2].endsWith("/"))
    .map((m) => m[1]);
  const closes = [...svg.matchAll(/<\/([a-z]+)>/g)].map((m) => m[1]);
  assert.deepEqual(opens.sort(), closes.sort());
}

Deno.test("training plot SVG", async (t) => {
  await t.step("many epochs: polylines for every series, axes, legend, lr marks", () => {
    const rows = Array.from({ length: 12 }, (_, i) => row(i + 1));
    const svg = renderTrainingSvg(rows, { title: "AlexNet <test> & co" });
    assertWellFormed(svg);
    const polylines = svg.match(/<polyline /g) ?? [];
    assert.equal(polylines.length, 2 + 6); // 2 axes + 2 loss + 4 error series
    for (const label of ["train", "val", "train top-1", "val top-5", "epoch", "error (%)"]) {
      assert.ok(svg.includes(`>${label}<`), label);
    }
    assert.ok(svg.includes("AlexNet &#60;test&#62; &#38; co"));
    assert.ok(svg.includes(">lr 0.001<"));
  });

  await t.step("the epoch axis starts at the first plotted epoch, labelled", () => {
    /** The x-axis tick labels, left to right. */
    const xTicks = (svg: string) =>
      [...svg.matchAll(
        /<text x="[\d.]+" y="[\d.]+" text-anchor="middle" font-size="11" [^>]*>(\d+)</g,
      )]
        .map((m) => Number(m[1]));
    const ticks = xTicks(renderTrainingSvg(Array.from({ length: 8 }, (_, i) => row(i + 1))));
    // Two panels, each from epoch 1 (not 0) to 8.
    assert.deepEqual(ticks, [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
    const long = xTicks(renderTrainingSvg(Array.from({ length: 90 }, (_, i) => row(i + 1))));
    assert.deepEqual(long.slice(0, long.length / 2), [1, 20, 40, 60, 80]);
    const later = xTicks(renderTrainingSvg([5, 6, 7].map((e) => row(e))));
    assert.deepEqual(later.slice(0, 3), [5, 6, 7]);
  });

  await t.step("a single epoch draws dots, not lines", () => {
    const svg = renderTrainingSvg([row(1)]);
    assertWellFormed(svg);
    assert.equal((svg.match(/<polyline /g) ?? []).length, 2); // just the axes
    assert.equal((svg.match(/<circle /g) ?? []).length, 6);
  });

  await t.step("NaN breaks a line instead of producing bad coordinates", () => {
    const rows = [1, 2, 3, 4, 5].map((e) =>
      row(e, e === 3 ? { valLoss: NaN, trainLoss: Infinity } : {})
    );
    rows.forEach((r) => {
      r.valTop1 = NaN;
      r.valTop5 = NaN;
    });
    const svg = renderTrainingSvg(rows);
    assertWellFormed(svg);
    // 2 axes; loss: train and val each split in two; error: train top-1/top-5 whole.
    assert.equal((svg.match(/<polyline /g) ?? []).length, 2 + 4 + 2);
    assert.ok(!svg.includes(">val top-1<"), "series without data are left out of the legend");
  });

  await t.step("no rows at all", () => {
    const svg = renderTrainingSvg([]);
    assertWellFormed(svg);
    assert.ok(svg.includes(">no data<"));
  });

  await t.step("writeTrainingPlot writes curves.svg", async () => {
    await withTempDir(async (dir) => {
      const path = await writeTrainingPlot(dir, [row(1), row(2)]);
      assert.equal(path, join(dir, CURVES_SVG));
      assertWellFormed(await Deno.readTextFile(path));
    });
  });
});
