/**
 * `--log-samples FILE.jsonl`: every sample this invocation stores, done or failed, as one JSON line,
 * as lm-evaluation-harness's `--log_samples` does. A line is appended only after its sample is
 * committed to the study, so the file never lists a sample the study lacks, and a line whose write
 * failed (a full disk) is cut back, so the file holds only whole lines. The file is appended to,
 * never truncated: a resumed study first adds the stored samples the log lacks (a write that
 * failed, an earlier run without --log-samples), then the samples it stores (a failed sample that
 * is retried appears again with its new status).
 */
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from '../../src/errors.ts';
import { producingDepths, type Generation } from '../../src/model/generate.ts';
import type { StoredSampleLogRow } from '../../src/store/sample-log-reads.ts';
import type { SampleRecord } from '../../src/store/study-db.ts';
import type { RunPlan } from './register-runs.ts';

/** One line of the log: the stored sample's fields, in the shape the study's read of them gives (sample-log-reads.ts). */
export type SampleLogLine = StoredSampleLogRow;

function meanOrNull(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((s, v) => s + v, 0) / values.length;
}

/** `generation` is null for a sample that failed before generating. */
export function sampleLogLine(run: RunPlan, sample: SampleRecord, generation: Generation | null): SampleLogLine {
  return {
    suite: run.suite.spec.name,
    variant: run.variant,
    threshold: run.threshold,
    precision: run.graph.precision ?? 'fp32',
    run_id: run.runId,
    doc_id: sample.docId,
    doc_index: sample.docIndex,
    prompt: sample.prompt,
    output: sample.output,
    reference: sample.reference,
    metrics: sample.metrics,
    status: sample.status,
    error: sample.error,
    prompt_tokens: sample.promptTokens,
    truncated_tokens: sample.truncatedTokens,
    generated_tokens: sample.generatedTokens,
    layers_used_mean: generation === null ? null : meanOrNull(producingDepths(generation)),
  };
}

const reason = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/** How every line starts: sampleLogLine's first key. */
const LINE_START = '{"suite":';

/** Far above any sample's line (a prompt of a long article, its output and metrics). */
const MAX_LINE_BYTES = 64 * 1024 * 1024;

/** The (run, doc) a log line is about. */
const sampleKey = (line: { run_id: string; doc_id: string }): string => `${line.run_id}\u0000${line.doc_id}`;

/**
 * The log's state as the file says it: each sample's last logged status. A partial last line (a
 * write cut short by a full disk or a kill) is not a line: its offset is where appending resumes.
 */
function readLoggedStatuses(fd: number, path: string): { statuses: Map<string, string>; wholeBytes: number } {
  const statuses = new Map<string, string>();
  const chunk = Buffer.allocUnsafe(1 << 20);
  let pending = Buffer.alloc(0);
  let offset = 0;
  let wholeBytes = 0;
  let lineNumber = 0;
  for (;;) {
    const n = readSync(fd, chunk, 0, chunk.length, offset);
    if (n === 0) break;
    offset += n;
    let data = Buffer.concat([pending, chunk.subarray(0, n)]);
    for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10)) {
      const text = data.subarray(0, nl).toString('utf8');
      wholeBytes += nl + 1;
      lineNumber++;
      data = data.subarray(nl + 1);
      let line: unknown;
      try {
        line = JSON.parse(text);
      } catch {
        throw new UserError(`${path}: line ${lineNumber} is not a sample log line (--log-samples appends only to its own JSON Lines log)`);
      }
      const { run_id: runId, doc_id: docId, status } = (line ?? {}) as Record<string, unknown>;
      if (typeof runId !== 'string' || typeof docId !== 'string' || typeof status !== 'string')
        throw new UserError(`${path}: line ${lineNumber} lacks run_id, doc_id or status (--log-samples appends only to its own JSON Lines log)`);
      statuses.set(sampleKey({ run_id: runId, doc_id: docId }), status);
    }
    pending = Buffer.from(data);
    if (pending.length > MAX_LINE_BYTES)
      throw new UserError(`${path}: a line over ${MAX_LINE_BYTES} bytes; not a sample log (--log-samples appends only to its own JSON Lines log)`);
  }
  // Cut only what is recognisably the start of one of our lines: anything else is someone's file.
  if (pending.length > 0 && !pending.toString('utf8').startsWith(LINE_START))
    throw new UserError(`${path}: ends in a partial line that is not a sample log line (--log-samples appends only to its own JSON Lines log)`);
  return { statuses, wholeBytes };
}

export class SampleLog {
  private constructor(
    readonly path: string,
    private readonly fd: number,
    /** Bytes of whole lines in the file: where the next line goes, and what a failed write is cut back to. */
    private size: number,
    /** Each sample's last logged status, to catch up with the study (catchUp). */
    private readonly logged: Map<string, string>,
  ) {}

  /**
   * Opens `path` for appending, creating its folder; a path that cannot be written, or a file that
   * is not a sample log, is a one-line UserError. A partial last line is cut off.
   */
  static open(path: string): SampleLog {
    let fd: number;
    try {
      mkdirSync(dirname(path), { recursive: true });
      fd = openSync(path, 'a+');
    } catch (err) {
      throw new UserError(`${path}: cannot open the sample log (--log-samples): ${reason(err)}`);
    }
    try {
      if (!fstatSync(fd).isFile()) throw new UserError(`${path}: the sample log (--log-samples) must be a regular file`);
      const { statuses, wholeBytes } = readLoggedStatuses(fd, path);
      if (wholeBytes < fstatSync(fd).size) ftruncateSync(fd, wholeBytes);
      return new SampleLog(path, fd, wholeBytes, statuses);
    } catch (err) {
      closeSync(fd);
      if (err instanceof UserError) throw err;
      throw new UserError(`${path}: cannot read the sample log (--log-samples): ${reason(err)}`);
    }
  }

  /**
   * Appends one line, whole or not at all: a failed write (a full disk) is cut back, so the log
   * holds only whole lines, each of a stored sample.
   */
  append(line: SampleLogLine): void {
    const bytes = Buffer.from(JSON.stringify(line) + '\n');
    try {
      let written = 0;
      while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written, this.size + written);
      this.size += bytes.length;
      this.logged.set(sampleKey(line), line.status);
    } catch (err) {
      try {
        ftruncateSync(this.fd, this.size);
      } catch {
        // The cut itself failed: the next open of the log drops the partial line.
      }
      throw new SampleLogWriteError(`${this.path}: cannot write the sample log (${reason(err)}); the log lacks this sample until a rerun adds it`);
    }
  }

  /** Appends the stored samples the log lacks, or holds with another status (rows from the study, sample-log-reads.ts). */
  catchUp(stored: readonly SampleLogLine[]): number {
    const missing = stored.filter((row) => this.logged.get(sampleKey(row)) !== row.status);
    for (const row of missing) this.append(row);
    return missing.length;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** The log could not be written; the sample it was for is stored in the study. */
export class SampleLogWriteError extends UserError {
  override readonly name = 'SampleLogWriteError';
}
