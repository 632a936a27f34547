/**
 * How `train` stops on a signal: the first SIGINT, SIGTERM or SIGHUP lets the step finish (or
 * abandons the epoch's validation, which a resume runs again) and a checkpoint be written; a
 * second quits at once, the last checkpoint intact (checkpoints are written atomically). The
 * listeners are installed before the run folder is created, so a signal during the setup
 * (data, devices, model) stops the start cleanly instead of killing the process mid-way:
 * {@link StopSignals.during} abandons the setup step and the run folder is removed. `eval`,
 * which writes nothing, stops at once the same way; `prepare` before its next image.
 *
 * @module
 */

/**
 * Exit statuses of a run stopped by a signal: 128 + the signal's number, as a shell reports a
 * process the signal ended, whether the run stopped cleanly (first signal) or at once (second).
 */
export const STOP_SIGNALS = { SIGINT: 130, SIGHUP: 129, SIGTERM: 143 } as const;

/** A signal that stops a run. */
export type StopSignal = keyof typeof STOP_SIGNALS;

/** Listens for the stop signals while a run trains; disposing stops listening. */
export interface StopSignals extends Disposable {
  /** Aborted by the first signal: the trainer's stop request. */
  readonly signal: AbortSignal;
  /** The first signal received, or null. */
  readonly received: StopSignal | null;
  /**
   * A setup step, or a {@link StoppedBySignal} rejection as soon as a signal arrives
   * (at once, if one already has). The step itself is abandoned, not undone: give it only work
   * that writes nothing the caller would have to clean up.
   */
  during<T>(step: Promise<T>): Promise<T>;
  /** Setup is over: from now on the first signal finishes the step and writes a checkpoint. */
  trainingStarts(): void;
}

/** A signal arrived while {@link StopSignals.during} awaited a step; the step was abandoned. */
export class StoppedBySignal extends Error {
  /** The signal. */
  readonly signalName: StopSignal;

  /** A stop by `signalName`. */
  constructor(signalName: StopSignal) {
    super(`stopped by ${signalName}`);
    this.signalName = signalName;
  }
}

/**
 * A new line on a terminal, where the signal's message follows the live progress line (and the
 * `^C` the terminal echoed); nothing in a log, whose lines are already ended.
 */
function breakLine(): string {
  return Deno.stdout.isTerminal() ? "\n" : "";
}

/** Starts listening for SIGINT, SIGTERM and SIGHUP (see the module doc). */
export function stopOnSignals(): StopSignals {
  const controller = new AbortController();
  let received: StopSignal | null = null;
  let training = false;
  const stopped = new Promise<never>((_, reject) => {
    controller.signal.addEventListener("abort", () => reject(new StoppedBySignal(received!)));
  });
  stopped.catch(() => {}); // Observed only while a setup step runs.
  const listeners: [StopSignal, () => void][] = [];
  for (const name of Object.keys(STOP_SIGNALS) as StopSignal[]) {
    const onSignal = () => {
      if (received !== null) {
        const intact = training ? "; the last checkpoint is intact" : "";
        console.log(`${breakLine()}${name} again: quitting now${intact}`);
        Deno.exit(STOP_SIGNALS[name]);
      }
      received = name;
      // During setup the caller prints the one line, once the start is abandoned.
      if (training) {
        console.log(
          `${breakLine()}${name}: finishing this step and writing a checkpoint (again to quit at once)`,
        );
      }
      controller.abort();
    };
    try {
      Deno.addSignalListener(name, onSignal);
      listeners.push([name, onSignal]);
    } catch {
      // Windows has SIGINT only.
    }
  }
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    during<T>(step: Promise<T>): Promise<T> {
      step.catch(() => {}); // An abandoned step's later failure is no longer anyone's concern.
      return Promise.race([stopped, step]);
    },
    trainingStarts() {
      training = true;
    },
    [Symbol.dispose]: () => {
      for (const [name, listener] of listeners) Deno.removeSignalListener(name, listener);
    },
  };
}
