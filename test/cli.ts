/** Runs the real `flexibench` command line in a child process, as a user would. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/flexibench.js', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function flexibench(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface MeasuredCliResult extends CliResult {
  /** Peak resident memory of the command, from /usr/bin/time (GNU time), in bytes. */
  peakRssBytes: number;
  /** Whether the command ran past `timeoutMs` and was killed. */
  timedOut: boolean;
}

/**
 * Runs `flexibench` under GNU time, for the fault-injection tests: what a refusal costs in memory
 * (the acceptance is <= 1 GB), and whether it ended by itself within `timeoutMs` (a guard against a
 * hang, not a speed claim). Standard input is `input` when given, else empty.
 */
export function flexibenchMeasured(
  args: string[],
  opts: { env?: Record<string, string>; input?: string; timeoutMs?: number; cwd?: string; wrapper?: string[] } = {},
): MeasuredCliResult {
  // coreutils' timeout kills the command itself (a timeout here would kill only GNU time).
  const seconds = String((opts.timeoutMs ?? 30_000) / 1000);
  // `wrapper`: a command that execs the CLI in a changed setting (setpriv: another user; prlimit: a file size limit).
  const command = [...(opts.wrapper ?? []), process.execPath, BIN, ...args];
  const r = spawnSync('/usr/bin/time', ['-f', 'peak-rss-kb:%M', 'timeout', '-s', 'KILL', seconds, ...command], {
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    input: opts.input ?? '',
    cwd: opts.cwd,
    maxBuffer: 64 * 1024 * 1024,
  });
  const marker = /peak-rss-kb:(\d+)\n?$/.exec(r.stderr ?? '');
  // GNU time also says "Command terminated by signal 9" / "Command exited with non-zero status N".
  const stderr = (marker === null ? (r.stderr ?? '') : r.stderr.slice(0, marker.index)).replace(
    /^Command (exited with non-zero status \d+|terminated by signal \d+)\n/m,
    '',
  );
  return {
    status: r.status,
    stdout: r.stdout ?? '',
    stderr,
    peakRssBytes: marker === null ? Number.NaN : Number(marker[1]) * 1024,
    // GNU time reports a killed command as 128 + the signal: 137 for timeout's SIGKILL.
    timedOut: r.status === 137,
  };
}
