/**
 * Runs a job list on the worker pool and stores each sample as it finishes. Writes are chained, so
 * samples are stored one transaction at a time in the order they finish. A failed sample is
 * stored with its reason and the study goes on; a failure of the pool (a crashed worker, a full
 * disk, SIGINT/SIGTERM) stops new samples, lets those in flight finish and be stored, then ends
 * the study with one line saying how much was stored.
 */
import { InterruptedError, UserError } from '../../src/errors.ts';
import type { Generation } from '../../src/model/generate.ts';
import { documentSeed } from '../../src/model/routing.ts';
import type { SampleRecord, StudyDb, TokenRecord } from '../../src/store/study-db.ts';
import type { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import type { Job } from './job-list.ts';
import type { Progress, ProgressSeries } from './progress.ts';
import { graphName, precisionTag } from './protocol.ts';
import type { RunPlan } from './register-runs.ts';
import { sampleLogLine, type SampleLog } from './sample-log.ts';
import { errorSample, sampleRows, type PromptPiecesCache } from './sample-rows.ts';
import type { JobResult, WorkerPool } from './worker-pool.ts';

export interface Execution {
  pool: WorkerPool;
  db: StudyDb;
  /** Named in the line that ends a stopped study. */
  dbPath: string;
  tok: TextTokenizer;
  eosIds: number[];
  progress: Progress;
  sampleLog: SampleLog | null;
  log: NodeJS.WritableStream;
}

export interface ExecutionTotals {
  samplesWritten: number;
  samplesFailed: number;
  /** Time inside session.run, summed over workers. */
  sessionRunMs: number;
}

function generation(job: Job, x: Execution): Promise<JobResult> {
  const { run, doc } = job;
  if (doc.unfit !== null) return Promise.reject(new Error(doc.unfit));
  const { generation: settings } = run.suite.spec;
  const { routing } = run;
  return x.pool.run({
    graph: graphName(run.graph),
    promptIds: doc.promptIds,
    maxNewTokens: settings.max_new_tokens,
    eosIds: x.eosIds,
    stopStrings: settings.stop,
    // Each document draws its own decisions, so a sample redone on resume draws the same ones.
    routing: routing.kind === 'random' ? { ...routing, seed: documentSeed(routing.seed, doc.docId) } : routing,
    sampling: run.suite.sampling,
  });
}

/** What a run's samples are tallied under in the progress lines. */
export function progressSeries(run: RunPlan): ProgressSeries {
  return { variant: run.variant, threshold: run.threshold, precision: precisionTag(run.graph) };
}

/** Calls `handler` on the first SIGINT or SIGTERM; returns the function that stops listening. */
function onInterrupt(handler: () => void): () => void {
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

export async function executeJobs(jobs: readonly Job[], x: Execution): Promise<ExecutionTotals> {
  const totals: ExecutionTotals = { samplesWritten: 0, samplesFailed: 0, sessionRunMs: 0 };
  const pieces: PromptPiecesCache = new Map();
  let writes: Promise<void> = Promise.resolve();
  const store = (run: RunPlan, sample: SampleRecord, tokens: TokenRecord[], gen: Generation | null, stored: () => void): Promise<void> => {
    writes = writes.then(async () => {
      await x.db.writeSample(run.runId, sample, tokens);
      // Counted as stored before the log is written: a failed log write must not hide a stored sample.
      stored();
      x.sampleLog?.append(sampleLogLine(run, sample, gen));
    });
    return writes;
  };

  let interrupted = false;
  const stopListening = onInterrupt(() => {
    interrupted = true;
    x.pool.stop(new Error('interrupted'));
    x.progress.log('run: interrupted, finishing the samples in flight (interrupt again to stop at once)\n');
  });
  try {
    await Promise.all(
      jobs.map((job) =>
        generation(job, x).then(
          (res) => {
            totals.sessionRunMs += res.runMs;
            const { sample, tokens } = sampleRows(job.run.suite, job.doc, res.generation, x.tok, pieces);
            return store(job.run, sample, tokens, res.generation, () => {
              totals.samplesWritten++;
              x.progress.sampleDone(progressSeries(job.run), res.generation.generatedIds.length, res.generation.timing.decodeMs);
            });
          },
          (err: Error) => {
            if (x.pool.failed) throw err;
            // One sample failed (not the worker): store the reason, keep going.
            totals.samplesFailed++;
            return store(job.run, errorSample(job.doc, err.message), [], null, () => undefined);
          },
        ),
      ),
    );
  } catch (err) {
    // Stop starting new samples; let those in flight finish and be stored before reporting.
    x.pool.stop(err as Error);
    await x.pool.idle();
    await writes.catch(() => undefined);
    if (interrupted)
      throw new InterruptedError(`run interrupted; ${totals.samplesWritten} new samples stored in ${x.dbPath}; rerun the same command to resume`);
    throw new UserError(`${(err as Error).message}; ${totals.samplesWritten} new samples stored in ${x.dbPath}; rerun the same command to resume`);
  } finally {
    stopListening();
  }
  await writes;
  return totals;
}
