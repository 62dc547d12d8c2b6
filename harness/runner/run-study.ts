/**
 * Runs a study: every suite's docs through every variant, each finished sample scored and stored
 * with its per-token layer allocation. Rerunning the same study resumes: stored samples are skipped,
 * so an interrupted or killed run loses at most the samples that were in flight.
 *
 * plan (plan.ts) -> register runs (register-runs.ts) -> job list (job-list.ts) -> execution on the
 * worker pool (execute-jobs.ts, sample rows from sample-rows.ts) -> stats (study-stats.ts).
 * Comparator variants (static, random) are matched to the stored FlexiDepth runs, so they are
 * registered (comparators.ts) and executed the same way once those are done.
 */
import { availableParallelism, freemem } from 'node:os';
import { loadCheckpoint, type Checkpoint } from '../../src/model/checkpoint.ts';
import { buildOrReuseGraph, graphFileBytes, requireGraphCache } from '../../src/model/graph-cache.ts';
import { requireVariant, type GraphSpec, type WeightPrecision } from '../../src/model/graph-builder.ts';
import { isComparator, isModelVariant } from '../../src/model/variants.ts';
import { requireExecutionProvider } from '../../src/model/session.ts';
import { UserError } from '../../src/errors.ts';
import { StudyDb } from '../../src/store/study-db.ts';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import { calibrationText, registerComparatorRuns } from './comparators.ts';
import { executeJobs, progressSeries, type ExecutionTotals } from './execute-jobs.ts';
import { jobList, storedSampleCount } from './job-list.ts';
import { studyMetadata } from './metadata.ts';
import { eosIds, planSuite, type PlannedSuite } from './plan.ts';
import { Progress } from './progress.ts';
import { graphName, precisionTag } from './protocol.ts';
import { measureRoutingAgreement } from './routing-agreement.ts';
import { registerRuns, type RunPlan, type StudySettings } from './register-runs.ts';
import { withPrecision } from '../model-options.ts';
import type { StudyOptions, StudyPlan } from './study-options.ts';
import { SampleLog } from './sample-log.ts';
import { storedSampleLogRows } from '../../src/store/sample-log-reads.ts';
import { shardText } from './shard.ts';
import { NOTHING_EXECUTED, studyStats, type StudyStats } from './study-stats.ts';
import { batchMemoryProblem, capWorkers, kvBytesPerPosition } from './worker-budget.ts';
import { WorkerPool } from './worker-pool.ts';
import { counted } from '../../src/plural.ts';

interface PlannedStudy {
  ckpt: Checkpoint;
  tok: TextTokenizer;
  suites: PlannedSuite[];
  /** Held-out text for static's Block Influence; empty without static. */
  calibration: string[];
}

/** Everything that can refuse the study, checked before the database is touched. */
async function planStudy(opts: StudyOptions): Promise<PlannedStudy> {
  const ckpt = loadCheckpoint(opts.plan.modelDir);
  for (const v of opts.plan.variants) requireVariant(ckpt, v);
  if (!opts.plan.variants.includes('flexidepth')) {
    // Every comparator but static with --static-layers, which removes a given number of layers.
    const matched = opts.plan.variants.filter((v) => isComparator(v) && !(v === 'static' && opts.plan.staticLayers !== null));
    if (matched.length > 0)
      throw new UserError(`run: --variants ${matched.join(',')} is matched to FlexiDepth's layer budget in the same study; add flexidepth to --variants`);
  }
  const routed = ckpt.config.routingLayers.length;
  if (opts.plan.staticLayers != null && opts.plan.staticLayers > routed)
    throw new UserError(`run: --static-layers ${opts.plan.staticLayers} is more than the ${routed} routed layers of ${opts.plan.modelDir}`);
  // A provider that cannot run here, or a cache that cannot take the graphs, must not leave runs behind.
  await requireExecutionProvider(opts.execution.executionProvider);
  const modelGraphs = precisionsOf(opts.plan).flatMap((precision) =>
    opts.plan.variants.filter(isModelVariant).map((variant) => withPrecision({ variant }, precision, opts.plan.blockSize)),
  );
  requireGraphCache(ckpt, modelGraphs);
  const tok = TextTokenizer.load(opts.plan.modelDir).requireModelVocab(ckpt.config.vocabSize);
  const positions = ckpt.config.maxPositionEmbeddings;
  if (opts.plan.maxLength !== null && opts.plan.maxLength > positions)
    throw new UserError(
      `run: --max-length ${opts.plan.maxLength} is more than the model's ${positions} positions (${opts.plan.modelDir}/config.json max_position_embeddings)`,
    );
  const planOptions = {
    dataDir: opts.plan.dataDir,
    limit: opts.plan.limit,
    seed: opts.plan.seed,
    maxLength: opts.plan.maxLength ?? positions,
    includePaths: opts.plan.includePaths,
    shard: opts.execution.shard,
    overrides: opts.plan.overrides,
  };
  const suites = opts.plan.suites.map((name) => planSuite(name, tok, planOptions));
  const tooBig = batchMemoryProblem({
    batch: opts.execution.batch,
    config: ckpt.config,
    longest: longestSequence(suites, positions),
    availableBytes: freemem(),
  });
  if (tooBig !== null) throw tooBig;
  // Last, as it takes minutes for a large model: nor must a damaged weight (building is what reads the weights).
  for (const spec of modelGraphs) buildOrReuseGraph(ckpt, spec);
  return { ckpt, tok, suites, calibration: calibrationText(opts.plan.variants, opts.plan.dataDir) };
}

/**
 * The study's precisions in the order their runs go: fp32 first, as the other precisions' routing
 * is measured against its stored tokens (routing-agreement.ts).
 */
function precisionsOf(plan: Pick<StudyPlan, 'precisions'>): WeightPrecision[] {
  const given = plan.precisions;
  return given.includes('fp32') ? ['fp32', ...given.filter((p) => p !== 'fp32')] : [...given];
}

/** The most positions any sample of the study can fill: its prompt and max_new_tokens, within the model's context. */
function longestSequence(suites: readonly PlannedSuite[], positions: number): number {
  const longest = suites.reduce((m, s) => s.docs.reduce((n, d) => Math.max(n, d.promptIds.length + s.spec.generation.max_new_tokens), m), 0);
  return Math.min(positions, longest);
}

/** Builds (or finds cached) the runs' graphs and starts as many workers as the machine holds. */
async function startWorkers(ckpt: Checkpoint, runs: readonly RunPlan[], opts: StudyOptions, jobs: number, log: NodeJS.WritableStream): Promise<WorkerPool> {
  const graphs: Record<string, { path: string; spec: GraphSpec }> = {};
  for (const { graph } of runs) graphs[graphName(graph)] ??= { path: buildOrReuseGraph(ckpt, graph), spec: graph };
  const { workers, note } = capWorkers({
    requested: opts.execution.workers,
    jobs,
    cores: availableParallelism(),
    intraOpThreads: opts.execution.intraOpThreads,
    availableBytes: freemem(),
    graphBytes: Object.values(graphs).map((g) => graphFileBytes(g.path)),
    // The KV caches of every row of a batch, at the longest a sequence of these runs may get.
    cacheBytes:
      opts.execution.batch *
      kvBytesPerPosition(ckpt.config) *
      longestSequence([...new Set(runs.map((r) => r.suite))], opts.plan.maxLength ?? ckpt.config.maxPositionEmbeddings),
  });
  if (note !== null) log.write(`run: ${note}\n`);
  return WorkerPool.start(workers, {
    modelDir: opts.plan.modelDir,
    config: ckpt.config,
    graphs,
    executionProvider: opts.execution.executionProvider,
    intraOpThreads: opts.execution.intraOpThreads,
    batch: opts.execution.batch,
  });
}

function progressOf(runs: readonly RunPlan[], log: NodeJS.WritableStream): Progress {
  const progress = new Progress(log);
  for (const r of runs) progress.addRun(progressSeries(r), r.suite.docs.length, r.suite.docs.filter((d) => r.done.has(d.docId)).length);
  return progress;
}

/** What one execution of a set of runs did: its totals, the samples it found stored, its pool's time and size. */
interface Executed {
  totals: ExecutionTotals;
  skipped: number;
  wallMs: number;
  workers: number;
}

interface StudyIo {
  db: StudyDb;
  tok: TextTokenizer;
  ckpt: Checkpoint;
  suites: PlannedSuite[];
  sampleLog: SampleLog | null;
  log: NodeJS.WritableStream;
}

/** Generates and stores every sample the runs lack, on a worker pool of their graphs (closed after). */
async function executeRuns(runs: readonly RunPlan[], io: StudyIo, opts: StudyOptions): Promise<Executed> {
  const { db, tok, ckpt, log } = io;
  const progress = progressOf(runs, log);
  // A batched step runs jobs of one graph and threshold: with --batch they are queued grouped that way.
  const jobs = jobList(io.suites, runs, opts.execution.batch > 1 ? 'batch' : 'doc');
  const skipped = storedSampleCount(runs);
  if (skipped > 0) log.write(`run: resuming, ${counted(skipped, 'sample')} already stored\n`);
  if (io.sampleLog !== null) {
    const runIds = runs.map((r) => r.runId);
    const added = io.sampleLog.catchUp(await db.read((conn) => storedSampleLogRows(conn, runIds)));
    if (added > 0) log.write(`run: ${io.sampleLog.path}: added ${added} stored ${added === 1 ? 'sample' : 'samples'} the log lacked\n`);
  }
  if (jobs.length === 0) return { totals: NOTHING_EXECUTED, skipped, wallMs: 0, workers: 0 };
  const pool = await startWorkers(ckpt, runs, opts, jobs.length, log);
  try {
    // Overhead is measured from here: graph building and session creation are one-off costs.
    const started = performance.now();
    const totals = await executeJobs(jobs, { pool, db, dbPath: opts.output.dbPath, tok, eosIds: eosIds(ckpt, tok), progress, sampleLog: io.sampleLog, log });
    progress.print();
    return { totals, skipped, wallMs: performance.now() - started, workers: pool.size };
  } finally {
    await pool.close();
  }
}

/**
 * The runs one precision at a time, each on its own worker pool: a worker holds a session of every
 * graph it may be given, and a study of fp32 and int4 would otherwise hold both models at once.
 */
async function executeByPrecision(runs: readonly RunPlan[], io: StudyIo, opts: StudyOptions): Promise<Executed> {
  let done: Executed = { totals: NOTHING_EXECUTED, skipped: 0, wallMs: 0, workers: 0 };
  for (const tag of [...new Set(runs.map((r) => precisionTag(r.graph)))]) {
    done = combined(
      done,
      await executeRuns(
        runs.filter((r) => precisionTag(r.graph) === tag),
        io,
        opts,
      ),
    );
  }
  return done;
}

function combined(a: Executed, b: Executed): Executed {
  return {
    totals: {
      samplesWritten: a.totals.samplesWritten + b.totals.samplesWritten,
      samplesFailed: a.totals.samplesFailed + b.totals.samplesFailed,
      sessionRunMs: a.totals.sessionRunMs + b.totals.sessionRunMs,
    },
    skipped: a.skipped + b.skipped,
    wallMs: a.wallMs + b.wallMs,
    workers: Math.max(a.workers, b.workers),
  };
}

function studySettings(opts: StudyOptions, ckpt: Checkpoint): StudySettings {
  const shard = opts.execution.shard;
  const machine = studyMetadata();
  // Which shard a machine ran is metadata: the shards' runs share their ids, so they merge into one run.
  const metadata = shard === null ? machine : { ...machine, hardware: { ...machine.hardware, shard: shardText(shard) } };
  return {
    modelDir: opts.plan.modelDir,
    checkpoint: ckpt,
    seed: opts.plan.seed,
    limit: opts.plan.limit,
    // What full runs and a run without a sweep are registered at; a sweep registers flexidepth at each threshold.
    threshold: opts.plan.thresholds[0] as number,
    precision: 'fp32',
    blockSize: opts.plan.blockSize,
    maxLength: opts.plan.maxLength,
    executionProvider: opts.execution.executionProvider,
    workers: opts.execution.workers,
    intraOpThreads: opts.execution.intraOpThreads,
    metadata,
  };
}

export async function runStudy(opts: StudyOptions): Promise<StudyStats> {
  const log = opts.output.log;
  const { ckpt, tok, suites, calibration } = await planStudy(opts);
  const shard = opts.execution.shard;
  if (shard !== null) log.write(`run: shard ${shardText(shard)}: ${suites.map((s) => `${s.spec.name} ${counted(s.docs.length, 'item')}`).join(', ')}\n`);
  const settings = studySettings(opts, ckpt);
  const thresholds = opts.plan.thresholds;
  const modelVariants = opts.plan.variants.filter(isModelVariant);
  const comparators = opts.plan.variants.filter(isComparator);
  const logPath = opts.output.logSamplesPath;
  const sampleLog = logPath !== null ? SampleLog.open(logPath) : null;
  let db: StudyDb | null = null;
  try {
    db = await StudyDb.open(opts.output.dbPath);
    const io: StudyIo = { db, tok, ckpt, suites, sampleLog, log };
    const runs = await registerRuns(db, suites, modelVariants, settings, thresholds, precisionsOf(opts.plan));
    let done = await executeByPrecision(runs, io, opts);
    if (comparators.length > 0) {
      const flexidepth = runs.filter((r) => r.variant === 'flexidepth');
      const plan = {
        variants: comparators,
        thresholds,
        precisions: precisionsOf(opts.plan),
        staticLayers: opts.plan.staticLayers,
        calibration,
        intraOpThreads: opts.execution.intraOpThreads,
        log,
      };
      const matched = await registerComparatorRuns({ db, ckpt, tok, suites, flexidepth, settings }, plan);
      done = combined(done, await executeByPrecision(matched, io, opts));
      runs.push(...matched);
    }
    const agreement = {
      executionProvider: opts.execution.executionProvider,
      intraOpThreads: Math.min(availableParallelism(), opts.execution.workers * opts.execution.intraOpThreads),
      log,
    };
    await measureRoutingAgreement(db, ckpt, runs, agreement);
    for (const r of runs) await db.finishRun(r.runId);
    return studyStats(done.totals, done.skipped, { wallMs: done.wallMs, workers: done.workers });
  } finally {
    sampleLog?.close();
    await db?.close();
  }
}
