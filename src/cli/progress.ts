/**
 * A minimal progress bar on stderr for long work, drawn only when stderr is a TTY.
 * Redraws at most every 100 ms (time from the injected clock).
 */
import type {Clock} from '../ledger/index.js';

export interface Progress {
  update(done: number, total: number): void;
  done(): void;
}

const NOOP: Progress = {update() {}, done() {}};

/** A progress bar labelled `label`, or a no-op when `enabled` is false. */
export function progressBar(label: string, enabled: boolean, clock: Clock, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!enabled) return NOOP;
  let last = 0;
  let drawn = false;
  return {
    update(done: number, total: number) {
      const now = clock.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const width = 30;
      const frac = total > 0 ? Math.min(1, done / total) : 0;
      const fill = Math.round(frac * width);
      stream.write(`\r${label} [${'='.repeat(fill)}${' '.repeat(width - fill)}] ${done}/${total} (${Math.round(frac * 100)}%)`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\r\u001b[2K');
    },
  };
}
