/**
 * `--log-samples FILE.jsonl`: every sample this invocation stores, done or failed, as one JSON line,
 * as lm-evaluation-harness's `--log_samples` does. A line is appended only after its sample is
 * committed to the study, so the file never lists a sample the study lacks. The file is appended
 * to, never truncated: a resumed study adds the samples it stores (a failed sample that is retried
 * appears again with its new status).
 */
import { appendFileSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from '../../src/errors.ts';
import { producingDepths, type Generation } from '../../src/model/generate.ts';
import type { Variant } from '../../src/model/graph-builder.ts';
import type { SampleRecord } from '../../src/store/study-db.ts';
import type { RunPlan } from './register-runs.ts';

export interface SampleLogLine {
  suite: string;
  variant: Variant;
  threshold: number;
  run_id: string;
  doc_id: string;
  doc_index: number;
  prompt: string;
  output: string;
  reference: string;
  metrics: Record<string, number | string>;
  status: SampleRecord['status'];
  error: string | null;
  prompt_tokens: number;
  truncated_tokens: number;
  generated_tokens: number;
  /** Mean producing-position depth over the generated tokens; null without generated tokens. */
  layers_used_mean: number | null;
}

function meanOrNull(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((s, v) => s + v, 0) / values.length;
}

/** `generation` is null for a sample that failed before generating. */
export function sampleLogLine(run: RunPlan, sample: SampleRecord, generation: Generation | null): SampleLogLine {
  return {
    suite: run.suite.spec.name,
    variant: run.variant,
    threshold: run.threshold,
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

export class SampleLog {
  private constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}

  /** Opens `path` for appending, creating its folder; a path that cannot be written is a one-line UserError. */
  static open(path: string): SampleLog {
    try {
      mkdirSync(dirname(path), { recursive: true });
      return new SampleLog(path, openSync(path, 'a'));
    } catch (err) {
      throw new UserError(`${path}: cannot open the sample log (--log-samples): ${reason(err)}`);
    }
  }

  append(line: SampleLogLine): void {
    try {
      appendFileSync(this.fd, JSON.stringify(line) + '\n');
    } catch (err) {
      throw new UserError(`${this.path}: cannot write the sample log: ${reason(err)}`);
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}
