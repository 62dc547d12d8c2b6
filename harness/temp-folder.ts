/**
 * A temporary folder that does not outlive the command that made it: removed when the work returns
 * or throws, and on SIGINT or SIGTERM too, which would otherwise end the process without running
 * any `finally` (a Ctrl-C, a job scheduler's stop). What the folder held (bench's synthetic
 * checkpoint and its graphs, gigabytes at the larger sizes) is of no use after an interrupt, so the
 * signal handler removes it and exits 130 at once rather than waiting for the work to wind down.
 * A handler runs when the event loop is free: long synchronous work delays it (the writer yields
 * between tensors for that reason).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InterruptedError } from '../src/errors.ts';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** Runs `work` in a new folder under the system's temporary folder ($TMPDIR) named `prefix`XXXXXX, removed however it ends. */
export async function withTempFolder<T>(prefix: string, command: string, work: (dir: string) => Promise<T>): Promise<T> {
  let dir: string | null = null;
  const remove = (): void => {
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  };
  const interrupted = (signal: NodeJS.Signals): void => {
    remove();
    const err = new InterruptedError(`${command}: interrupted (${signal}); removed ${dir ?? 'its temporary folder'}`);
    process.stderr.write(`flexibench: ${err.message}\n`);
    process.exit(err.exitCode);
  };
  // Listening first: a signal between creating the folder and listening would leave it behind.
  for (const s of SIGNALS) process.on(s, interrupted);
  try {
    dir = mkdtempSync(join(tmpdir(), prefix));
    return await work(dir);
  } finally {
    for (const s of SIGNALS) process.off(s, interrupted);
    remove();
  }
}
