/**
 * Runs a study: every suite's docs through every variant, each finished sample scored and stored
 * with its per-token layer allocation. Rerunning the same study resumes: stored samples are skipped,
 * so an interrupted or killed run loses at most the samples that were in flight.
 *
 * plan (plan.ts) -> register runs (register-runs.ts) -> job list (job-list.ts) -> execution on the
 * worker pool (execute-jobs.ts, sample rows from sample-rows.ts) -> stats (study-stats.ts).
 */
import { statSync } from 'node:fs';
import { availableParallelism, freemem } from 'node:os';
import { loadCheckpoint, type Checkpoint } from '../../src/model/checkpoint.ts';
import { buildOrReuseGraph } from '../../src/model/graph-cache.ts';
import { requireVariant, type Variant } from '../../src/model/graph-builder.ts';
import { requireExecutionProvider, type ExecutionProvider } from '../../src/model/session.ts';
import { UserError } from '../../src/errors.ts';
import { StudyDb } from '../../src/store/study-db.ts';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import { executeJobs } from './execute-jobs.ts';
import { jobList, storedSampleCount } from './job-list.ts';
import { studyMetadata } from './metadata.ts';
import { eosIds, planSuite, type PlannedSuite } from './plan.ts';
import { Progress } from './progress.ts';
import { registerRuns, type RunPlan } from './register-runs.ts';
import { SampleLog } from './sample-log.ts';
import { shardText, type Shard } from './shard.ts';
import { NOTHING_EXECUTED, studyStats, type StudyStats } from './study-stats.ts';
import { capWorkers } from './worker-budget.ts';
import { WorkerPool } from './worker-pool.ts';

export interface StudyOptions {
  modelDir: string;
  suites: string[];
  variants: Variant[];
  limit: number | null;
  seed: number;
  threshold: number;
  /** A threshold sweep: flexidepth runs once per threshold (full once); absent: [threshold]. */
  thresholds?: number[];
  dbPath: string;
  dataDir: string;
  workers: number;
  intraOpThreads: number;
  executionProvider: ExecutionProvider;
  /** Prompt plus generation must fit in this many positions; null: the model's context. Part of the run's identity when set. */
  maxLength: number | null;
  /** Folders of custom task YAMLs (--include-path), searched for suite names; none when absent. */
  includePaths?: string[];
  /** --log-samples: every sample stored is also appended to this JSONL file; null or absent: none. */
  logSamplesPath?: string | null;
  /** --shard: run only this shard's items (shard.ts); not part of the runs' identity, recorded in their hardware metadata. */
  shard?: Shard | null;
  log?: NodeJS.WritableStream;
}

interface PlannedStudy {
  ckpt: Checkpoint;
  tok: TextTokenizer;
  suites: PlannedSuite[];
}

/** Everything that can refuse the study, checked before the database is touched. */
async function planStudy(opts: StudyOptions): Promise<PlannedStudy> {
  const ckpt = loadCheckpoint(opts.modelDir);
  for (const v of opts.variants) requireVariant(ckpt, v);
  // A provider that cannot run here must not leave runs behind.
  await requireExecutionProvider(opts.executionProvider);
  const tok = TextTokenizer.load(opts.modelDir);
  const positions = ckpt.config.maxPositionEmbeddings;
  if (opts.maxLength !== null && opts.maxLength > positions)
    throw new UserError(
      `run: --max-length ${opts.maxLength} is more than the model's ${positions} positions (${opts.modelDir}/config.json max_position_embeddings)`,
    );
  const planOptions = {
    dataDir: opts.dataDir,
    limit: opts.limit,
    seed: opts.seed,
    maxLength: opts.maxLength ?? positions,
    includePaths: opts.includePaths ?? [],
    shard: opts.shard ?? null,
  };
  return { ckpt, tok, suites: opts.suites.map((name) => planSuite(name, tok, planOptions)) };
}

/** Builds (or finds cached) each variant's graph and starts as many workers as the machine holds. */
async function startWorkers(ckpt: Checkpoint, opts: StudyOptions, jobs: number, log: NodeJS.WritableStream): Promise<WorkerPool> {
  const graphs: Partial<Record<Variant, string>> = {};
  for (const v of opts.variants) graphs[v] = buildOrReuseGraph(ckpt, v);
  const { workers, note } = capWorkers({
    requested: opts.workers,
    jobs,
    cores: availableParallelism(),
    intraOpThreads: opts.intraOpThreads,
    availableBytes: freemem(),
    graphBytes: Object.values(graphs).map((g) => statSync(g).size),
  });
  if (note !== null) log.write(`run: ${note}\n`);
  return WorkerPool.start(workers, {
    modelDir: opts.modelDir,
    config: ckpt.config,
    graphs,
    executionProvider: opts.executionProvider,
    intraOpThreads: opts.intraOpThreads,
  });
}

function progressOf(runs: readonly RunPlan[], log: NodeJS.WritableStream): Progress {
  const progress = new Progress(log);
  for (const r of runs) progress.addRun(r.variant, r.threshold, r.suite.docs.length, r.suite.docs.filter((d) => r.done.has(d.docId)).length);
  return progress;
}

export async function runStudy(opts: StudyOptions): Promise<StudyStats> {
  const log = opts.log ?? process.stderr;
  const { ckpt, tok, suites } = await planStudy(opts);
  const shard = opts.shard ?? null;
  const machine = studyMetadata();
  // Which shard a machine ran is metadata: the shards' runs share their ids, so they merge into one run.
  const metadata = shard === null ? machine : { ...machine, hardware: { ...machine.hardware, shard: shardText(shard) } };
  if (shard !== null) log.write(`run: shard ${shardText(shard)}: ${suites.map((s) => `${s.spec.name} ${s.docs.length} items`).join(', ')}\n`);
  const logPath = opts.logSamplesPath ?? null;
  const sampleLog = logPath !== null ? SampleLog.open(logPath) : null;
  let db: StudyDb | null = null;
  let pool: WorkerPool | null = null;
  try {
    db = await StudyDb.open(opts.dbPath);
    const runs = await registerRuns(
      db,
      suites,
      opts.variants,
      {
        modelDir: opts.modelDir,
        checkpoint: ckpt,
        seed: opts.seed,
        limit: opts.limit,
        threshold: opts.threshold,
        maxLength: opts.maxLength,
        executionProvider: opts.executionProvider,
        workers: opts.workers,
        intraOpThreads: opts.intraOpThreads,
        metadata,
      },
      opts.thresholds ?? [opts.threshold],
    );
    const progress = progressOf(runs, log);
    const jobs = jobList(suites, runs);
    const skipped = storedSampleCount(runs);
    if (skipped > 0) log.write(`run: resuming, ${skipped} samples already stored\n`);

    let totals = NOTHING_EXECUTED;
    let started = performance.now();
    if (jobs.length > 0) {
      pool = await startWorkers(ckpt, opts, jobs.length, log);
      // Overhead is measured from here: graph building and session creation are one-off costs.
      started = performance.now();
      totals = await executeJobs(jobs, { pool, db, dbPath: opts.dbPath, tok, eosIds: eosIds(ckpt, tok), progress, sampleLog, log });
      progress.print();
    }
    const stats = studyStats(totals, skipped, { wallMs: performance.now() - started, workers: pool?.size ?? 0 });
    for (const r of runs) await db.finishRun(r.runId);
    return stats;
  } finally {
    await pool?.close();
    sampleLog?.close();
    await db?.close();
  }
}
