/**
 * Runs a study: every suite's docs through every variant, each finished sample scored and stored
 * with its per-token layer allocation. Rerunning the same study resumes: stored samples are skipped,
 * so an interrupted or killed run loses at most the samples that were in flight.
 */
import { statSync } from 'node:fs';
import { availableParallelism, freemem } from 'node:os';
import { loadCheckpoint } from '../../src/model/checkpoint.ts';
import type { Generation } from '../../src/model/generate.ts';
import { cachedGraphPath } from '../../src/model/graph-cache.ts';
import type { Variant } from '../../src/model/graph-builder.ts';
import { requireExecutionProvider, type ExecutionProvider } from '../../src/model/session.ts';
import { InterruptedError, UserError } from '../../src/errors.ts';
import { scoreSample } from '../../src/suites/score-sample.ts';
import { StudyDb, type RunIdentity, type SampleRecord, type TokenRecord } from '../../src/store/study-db.ts';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import { gitRevision, hardware, packageVersions } from './metadata.ts';
import { eosIds, planSuite, specContent, type PlannedDoc, type PlannedSuite } from './plan.ts';
import { Progress } from './progress.ts';
import { capWorkers } from './worker-budget.ts';
import { WorkerPool } from './worker-pool.ts';

export interface StudyOptions {
  modelDir: string;
  suites: string[];
  variants: Variant[];
  limit: number | null;
  seed: number;
  threshold: number;
  dbPath: string;
  dataDir: string;
  workers: number;
  intraOpThreads: number;
  executionProvider: ExecutionProvider;
  /** Prompt plus generation must fit in this many positions; null: the model's context. Part of the run's identity when set. */
  maxLength: number | null;
  log?: NodeJS.WritableStream;
}

export interface StudyStats {
  samplesWritten: number;
  samplesSkipped: number;
  samplesFailed: number;
  wallMs: number;
  /** Time inside session.run, summed over workers. */
  sessionRunMs: number;
  /** Share of worker time not spent inside session.run: harness overhead. */
  overheadShare: number;
}

interface RunPlan {
  suite: PlannedSuite;
  variant: Variant;
  runId: string;
  done: Set<string>;
}

export async function runStudy(opts: StudyOptions): Promise<StudyStats> {
  const log = opts.log ?? process.stderr;
  const ckpt = loadCheckpoint(opts.modelDir);
  if (opts.variants.includes('flexidepth') && ckpt.config.routingLayers.length === 0) {
    throw new UserError(`${opts.modelDir}: variant flexidepth needs a FlexiDepth checkpoint (model_type ddllama with routing_layers)`);
  }
  // Before the database: a provider that cannot run here must not leave runs behind.
  await requireExecutionProvider(opts.executionProvider);
  const tok = TextTokenizer.load(opts.modelDir);
  // Plan every suite before touching the database, so a bad suite name fails fast.
  const positions = ckpt.config.maxPositionEmbeddings;
  if (opts.maxLength !== null && opts.maxLength > positions) throw new UserError(`run: --max-length ${opts.maxLength} is more than the model's ${positions} positions (${opts.modelDir}/config.json max_position_embeddings)`);
  const maxLength = opts.maxLength ?? positions;
  const suites = opts.suites.map((name) => planSuite(name, tok, { dataDir: opts.dataDir, limit: opts.limit, seed: opts.seed, maxLength }));
  const eos = eosIds(ckpt, tok);

  const db = await StudyDb.open(opts.dbPath);
  let pool: WorkerPool | null = null;
  try {
    const runs: RunPlan[] = [];
    for (const suite of suites) {
      for (const variant of opts.variants) {
        const identity: RunIdentity = {
          modelHash: ckpt.contentHash,
          variant,
          suite: suite.spec.name,
          suiteConfigHash: suite.configHash,
          seed: opts.seed,
          limit: opts.limit,
          threshold: variant === 'flexidepth' ? opts.threshold : 0.5,
          // An explicit --max-length changes prompts, so it makes another run; the default (the model's context) does not.
          generation: { ...suite.spec.generation, ...(opts.maxLength !== null ? { max_length: opts.maxLength } : {}) },
        };
        const { runId } = await db.ensureRun(identity, {
          modelDir: opts.modelDir,
          layersTotal: ckpt.config.numLayers,
          routingLayers: variant === 'flexidepth' ? ckpt.config.routingLayers : [],
          suiteConfig: specContent(suite.spec),
          gitRevision: gitRevision(),
          packageVersions: packageVersions(),
          hardware: hardware(),
          executionProvider: opts.executionProvider,
          threads: { workers: opts.workers, intra_op: opts.intraOpThreads },
          startedAt: new Date().toISOString(),
        });
        runs.push({ suite, variant, runId, done: await db.completedDocIds(runId) });
      }
    }

    const progress = new Progress(log);
    for (const r of runs) progress.expect(r.variant, r.suite.docs.length, r.suite.docs.filter((d) => r.done.has(d.doc.docId)).length);
    // Interleave variants doc by doc: both see the machine in the same state, and progress stays even.
    const jobs: { run: RunPlan; doc: PlannedDoc }[] = [];
    for (const suite of suites) {
      for (const doc of suite.docs) {
        for (const run of runs) if (run.suite === suite && !run.done.has(doc.doc.docId)) jobs.push({ run, doc });
      }
    }
    const skipped = runs.reduce((s, r) => s + r.done.size, 0);
    if (skipped > 0) log.write(`run: resuming, ${skipped} samples already stored\n`);

    const stats: StudyStats = { samplesWritten: 0, samplesSkipped: skipped, samplesFailed: 0, wallMs: 0, sessionRunMs: 0, overheadShare: 0 };
    let started = performance.now();
    if (jobs.length > 0) {
      const graphs: Partial<Record<Variant, string>> = {};
      for (const v of opts.variants) graphs[v] = cachedGraphPath(ckpt, v);
      const { workers, note } = capWorkers({
        requested: opts.workers, jobs: jobs.length, cores: availableParallelism(), intraOpThreads: opts.intraOpThreads,
        availableBytes: freemem(), graphBytes: Object.values(graphs).map((g) => statSync(g).size),
      });
      if (note !== null) log.write(`run: ${note}\n`);
      pool = await WorkerPool.start(workers, {
        modelDir: opts.modelDir, config: ckpt.config, graphs, executionProvider: opts.executionProvider, intraOpThreads: opts.intraOpThreads,
      });
      // Overhead is measured from here: graph building and session creation are one-off costs.
      started = performance.now();
      const piecesCache = new Map<string, string[]>();
      let writes: Promise<void> = Promise.resolve();
      let interrupted = false;
      const onSignal = (): void => {
        interrupted = true;
        pool!.stop(new Error('interrupted'));
        log.write('run: interrupted, finishing the samples in flight (interrupt again to stop at once)\n');
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await Promise.all(jobs.map(({ run, doc }) =>
          (doc.unfit !== null ? Promise.reject(new Error(doc.unfit)) : pool!.run({
            variant: run.variant,
            promptIds: doc.promptIds,
            maxNewTokens: run.suite.spec.generation.max_new_tokens,
            eosIds: eos,
            stopStrings: run.suite.spec.generation.stop,
            threshold: opts.threshold,
            sampling: run.suite.sampling,
          })).then(
            (res) => {
              stats.sessionRunMs += res.runMs;
              const { sample, tokens } = sampleRows(run.suite, doc, res.generation, tok, piecesCache);
              writes = writes.then(async () => {
                await db.writeSample(run.runId, sample, tokens);
                stats.samplesWritten++;
                progress.sampleDone(run.variant, res.generation.generatedIds.length, res.generation.timing.decodeMs);
              });
              return writes;
            },
            (err: Error) => {
              if (pool!.failed) throw err;
              // One sample failed (not the worker): store the reason, keep going.
              stats.samplesFailed++;
              writes = writes.then(() => db.writeSample(run.runId, errorSample(doc, err.message), []));
              return writes;
            },
          )));
      } catch (err) {
        // Stop starting new samples; let those in flight finish and be stored before reporting.
        pool.stop(err as Error);
        await pool.idle();
        await writes.catch(() => undefined);
        if (interrupted) throw new InterruptedError(`run interrupted; ${stats.samplesWritten} new samples stored in ${opts.dbPath}; rerun the same command to resume`);
        throw new UserError(`${(err as Error).message}; ${stats.samplesWritten} new samples stored in ${opts.dbPath}; rerun the same command to resume`);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      await writes;
      progress.print();
    }
    stats.wallMs = performance.now() - started;
    const workerMs = stats.wallMs * Math.max(1, pool?.size ?? 1);
    stats.overheadShare = jobs.length > 0 ? 1 - stats.sessionRunMs / workerMs : 0;
    for (const r of runs) await db.finishRun(r.runId);
    return stats;
  } finally {
    await pool?.close();
    await db.close();
  }
}

function sampleRows(suite: PlannedSuite, doc: PlannedDoc, gen: Generation, tok: TextTokenizer, piecesCache: Map<string, string[]>): { sample: SampleRecord; tokens: TokenRecord[] } {
  const key = `${suite.spec.name}\0${doc.doc.docId}`;
  let promptPieces = piecesCache.get(key);
  if (promptPieces === undefined) {
    promptPieces = tok.pieces(doc.promptIds);
    piecesCache.set(key, promptPieces);
  }
  // Generated pieces are decoded after the prompt's last tokens, so leading spaces come out right.
  const context = doc.promptIds.slice(-8);
  const genPieces = tok.pieces([...context, ...gen.generatedIds]).slice(context.length);
  const pieces = [...promptPieces, ...genPieces];
  // The output is the generated pieces joined, so the token rows reproduce it exactly: special
  // tokens (EOS, ...) keep their text in their rows but are not output text; cut before a stop string.
  const generated = genPieces.filter((_, i) => !tok.isSpecial(gen.generatedIds[i]!)).join('');
  const output = gen.stopString === null ? generated : generated.slice(0, generated.indexOf(gen.stopString));
  const tokens: TokenRecord[] = gen.positions.map((p, position) => ({
    position,
    tokenId: p.id,
    text: pieces[position]!,
    bytes: tok.tokenBytes(p.id),
    phase: p.phase,
    layersUsed: p.layersUsed,
    mask: p.mask,
    gates: p.gates,
  }));
  const sample: SampleRecord = {
    docId: doc.doc.docId,
    docIndex: doc.doc.index,
    prompt: doc.promptText,
    output,
    reference: doc.doc.reference,
    metrics: scoreSample(suite.spec, output, doc.doc.reference),
    promptTokens: gen.promptIds.length,
    truncatedTokens: doc.truncatedTokens,
    generatedTokens: gen.generatedIds.length,
    prefillMs: gen.timing.prefillMs,
    decodeMs: gen.timing.decodeMs,
    stopReason: gen.stopReason,
    status: 'done',
    error: null,
  };
  return { sample, tokens };
}

function errorSample(doc: PlannedDoc, message: string): SampleRecord {
  return {
    docId: doc.doc.docId, docIndex: doc.doc.index, prompt: doc.promptText, output: '', reference: doc.doc.reference, metrics: {},
    promptTokens: doc.promptIds.length, truncatedTokens: doc.truncatedTokens, generatedTokens: 0, prefillMs: 0, decodeMs: 0, stopReason: 'error', status: 'error', error: message,
  };
}
