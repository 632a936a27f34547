/**
 * The training loop's progress, the part of its {@link LoopState} that it counts itself: epochs
 * and steps done, the totals of the epoch in progress, the non-finite-loss counters, the run's
 * clock and its history of epoch rows. The loader's position and the generators' states
 * complete the loop state; {@link LoopProgress.state} and {@link LoopProgress.restore} take
 * them along.
 *
 * @module
 */

import type { Generator } from "../tensor/random.ts";
import type { StepStats } from "../tensor/step_guard.ts";
import type { LoopState, PartialEpoch } from "./callback.ts";
import type { DataLoader } from "./data/loader.ts";
import type { EvalResult } from "./evaluate.ts";
import { type EpochMetrics, METRIC_COLUMNS } from "./run_log.ts";

/** Where an epoch's clocks started, for this call's part of it. */
export interface EpochClock {
  /** When the epoch started (earlier than now by the seconds of a resumed partial epoch). */
  start: number;
  /** When this call's part of it started. */
  segmentStart: number;
  /** Images of the epoch before this call. */
  imagesBefore: number;
}

/** This call's training: images and seconds, for its throughput. */
export interface Trained {
  /** Images trained on, accepted or skipped. */
  images: number;
  /** Seconds of training steps. */
  seconds: number;
}

/** Where a run stands (see the module doc). */
export class LoopProgress {
  /** Completed epochs: trained and validated. */
  epochsDone = 0;
  /** Optimiser steps taken since the start of training. */
  step = 0;
  /** Totals of the epoch in progress. */
  partial: PartialEpoch = emptyPartial();
  /** Seconds of training and validation so far, all epochs, excluding time between runs. */
  elapsed = 0;
  /** Non-finite losses: in a row, and in total. */
  nonFinite = { consecutive: 0, total: 0 };
  /** One row per completed epoch of the whole run. */
  history: EpochMetrics[] = [];

  /**
   * Whether the epoch in progress has all its steps done and only its validation left: the
   * loader already stands at the next epoch (a stop abandoned the validation).
   */
  validationPending(loader: DataLoader): boolean {
    return loader.epoch > this.epochsDone;
  }

  /** Images of the epoch in progress so far, accepted or skipped. */
  get epochImages(): number {
    return this.partial.images + this.partial.skippedImages;
  }

  /** Starts this call's part of the epoch in progress. */
  startSegment(): EpochClock {
    const now = performance.now();
    return {
      start: now - this.partial.seconds * 1000,
      segmentStart: now,
      imagesBefore: this.epochImages,
    };
  }

  /**
   * Ends this call's part of the epoch's steps: the epoch's training seconds so far go into
   * its totals, this part's into the run's clock and the call's throughput.
   */
  endSegment(clock: EpochClock, trained: Trained): void {
    const now = performance.now();
    this.partial.seconds = (now - clock.start) / 1000;
    const seconds = (now - clock.segmentStart) / 1000;
    this.elapsed += seconds;
    trained.seconds += seconds;
    trained.images += this.epochImages - clock.imagesBefore;
  }

  /** The loop state, with the loader's position and the generators' states. */
  state(loader: DataLoader, generators: Record<string, Generator>): LoopState {
    const saved: LoopState["generators"] = {};
    for (const [name, g] of Object.entries(generators)) saved[name] = g.state();
    const inEpoch = loader.position > 0 || this.validationPending(loader);
    return {
      epochsDone: this.epochsDone,
      step: this.step,
      loader: loader.state(),
      generators: saved,
      partialEpoch: inEpoch ? { ...this.partial } : null,
      nonFinite: { ...this.nonFinite },
      elapsedSeconds: this.elapsed,
      history: this.history.map((row) => ({ ...row })),
    };
  }

  /** Restores a loop state into this, the loader and the generators (each must be in it). */
  restore(state: LoopState, loader: DataLoader, generators: Record<string, Generator>): void {
    for (const name of Object.keys(generators)) {
      if (!state.generators[name]) {
        throw new Error(`the saved state has no generator "${name}"`);
      }
    }
    loader.restore(state.loader);
    for (const [name, g] of Object.entries(generators)) g.setState(state.generators[name]);
    this.epochsDone = state.epochsDone;
    this.step = state.step;
    this.partial = state.partialEpoch ? { ...state.partialEpoch } : emptyPartial();
    this.elapsed = state.elapsedSeconds;
    this.nonFinite = { ...state.nonFinite };
    this.history = state.history.map(fromJson);
  }

  /** Adds a readback of the step statistics to the epoch's totals and the counters. */
  add(s: StepStats): void {
    const p = this.partial;
    p.lossSum += s.lossSum;
    p.steps += s.steps;
    p.images += s.images;
    p.skipped += s.skipped;
    p.skippedImages += s.skippedImages;
    p.top1 += s.top1;
    p.top5 += s.top5;
    this.nonFinite = { consecutive: s.consecutiveNonFinite, total: s.totalNonFinite };
  }

  /**
   * Completes the epoch in progress: its row (with the learning rate used and the validation)
   * is appended to the history and returned, the totals reset.
   */
  endEpoch(lr: number, validation: EvalResult | null, clock: EpochClock): EpochMetrics {
    const p = this.partial;
    this.epochsDone++;
    const metrics: EpochMetrics = {
      epoch: this.epochsDone,
      step: this.step,
      lr,
      trainLoss: p.steps > 0 ? p.lossSum / p.images : NaN,
      trainTop1: p.images > 0 ? p.top1 / p.images : NaN,
      trainTop5: p.images > 0 ? p.top5 / p.images : NaN,
      valLoss: validation?.loss ?? NaN,
      valTop1: validation?.top1 ?? NaN,
      valTop5: validation?.top5 ?? NaN,
      imagesPerSec: this.epochImages / p.seconds,
      seconds: (performance.now() - clock.start) / 1000,
      skippedSteps: p.skipped,
    };
    this.history.push(metrics);
    this.partial = emptyPartial();
    return metrics;
  }
}

function emptyPartial(): PartialEpoch {
  return {
    lossSum: 0,
    steps: 0,
    images: 0,
    skipped: 0,
    skippedImages: 0,
    top1: 0,
    top5: 0,
    seconds: 0,
  };
}

/** A row read back from JSON, where NaN was written as null. */
function fromJson(row: EpochMetrics): EpochMetrics {
  const out = {} as EpochMetrics;
  for (const [, key] of METRIC_COLUMNS) out[key] = typeof row[key] === "number" ? row[key] : NaN;
  return out;
}
