/**
 * `flexibench run`: the main job. Suites through FlexiDepth and the full-depth baseline into a
 * DuckDB study, resumable, then the summary table. With no --model it runs the committed reference
 * model; with no --suites, the default study (every suite, DEFAULT_STUDY_LIMIT items each unless
 * --limit says).
 */
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { WEIGHT_PRECISIONS } from '../../src/model/graph-builder.ts';
import { DEFAULT_THRESHOLD, VARIANTS } from '../../src/model/variants.ts';
import { DEFAULT_DB } from '../../src/store/study-db.ts';
import { listSuites } from '../../tasks/suites/spec.ts';
import { resolveDataDir } from '../../datasets/data-dir.ts';
import { DATA_DIR, INCLUDE_PATH, commaList, defineCommand, integer, oneOf, real, text, type OptionSpec, type OptionValues } from '../args.ts';
import { UserError } from '../../src/errors.ts';
import { refuseFileOverInputs, refuseFolderOverInputs, studyFiles } from '../../src/output-paths.ts';
import { groupNames, selectSuites } from '../suite-selection.ts';
import { BLOCK_SIZE, PRECISION_HELP, REFERENCE_MODEL } from '../model-options.ts';
import { BATCH, ITEM_LIMIT, MAX_THRESHOLDS, POSITIONS, SEED, STATIC_LAYERS, THREADS, WORKERS } from '../option-ranges.ts';
import { runStudy } from '../runner/run-study.ts';
import { OVERRIDE_OPTIONS, overridesOf } from '../runner/suite-overrides.ts';
import { parseShard } from '../runner/shard.ts';
import { checkRunReportFolder } from '../runner/report-folder.ts';
import { loadReport } from '../../reports/report-data.ts';
import { renderTerminal, terminalWidth } from '../../reports/render-terminal.ts';
import { writeReport } from '../../reports/write-report.ts';
import { counted } from '../../src/plural.ts';

const DEFAULT_STUDY_LIMIT = 5;

/**
 * One sequence at a time by default: then a sample's numbers do not depend on what ran beside it,
 * so reruns, resumed runs and shards reproduce each other bit for bit. --batch trades that for speed,
 * with gates equal to within float rounding (docs/usage.md, "Batched decoding").
 */
const DEFAULT_BATCH = 1;

/** --thresholds 0.3,0.5,0.7: each value checked as --threshold is, duplicates dropped, sorted ascending. */
function thresholdList(): OptionSpec<number[], false> {
  const one = real('T', '', { min: 0, max: 1 });
  return {
    description: 'a threshold sweep: flexidepth runs once per threshold (comma-separated), full once; instead of --threshold',
    argument: 'LIST',
    accepts: `each ${one.accepts}, at most ${MAX_THRESHOLDS} of them`,
    parse: (t) => {
      const values = [...new Set(t.split(',').map((v) => one.parse(v.trim(), undefined)))].sort((a, b) => a - b);
      if (values.length > MAX_THRESHOLDS) throw new UserError(`run: --thresholds has ${values.length} values, more than ${MAX_THRESHOLDS}`);
      return values;
    },
  };
}

/** The exit code of a run that stored its results but had failed samples (1 is a bad input, nothing run). */
const EXIT_SAMPLES_FAILED = 2;

/** The report of a study goes next to it: results/flexibench.duckdb -> results/flexibench-report/. */
function reportFolderOf(dbPath: string): string {
  return join(dirname(dbPath), `${basename(dbPath).replace(/\.duckdb$/, '')}-report`);
}

const OPTIONS = {
  model: text('DIR', 'checkpoint folder (Hugging Face layout)', { default: REFERENCE_MODEL, defaultText: 'the reference model, models/flexidepth-ref' }),
  suites: commaList('LIST', `suite names, globs ('gsm*'), groups (${groupNames()}) or FILE.yaml paths, comma-separated`, 'suite name', {
    defaultText: `every suite, ${DEFAULT_STUDY_LIMIT} items each unless --limit`,
  }),
  includePath: INCLUDE_PATH,
  variants: commaList(
    'LIST',
    'variants, comma-separated: flexidepth, full, and the comparators static (ShortGPT-style removal of the routed layers of least Block Influence) and random (each routed decision a seeded draw), both matched to flexidepth at each threshold',
    'variant',
    { choices: VARIANTS, default: ['flexidepth', 'full'] },
  ),
  staticLayers: integer('K', 'static removes K routed layers instead of the rounded mean flexidepth skips per generated token', {
    ...STATIC_LAYERS,
    defaultText: "matched to flexidepth's mean at each threshold",
  }),
  limit: integer('N', 'a seeded random subset of N items per suite', { ...ITEM_LIMIT, defaultText: `every item; ${DEFAULT_STUDY_LIMIT} without --suites` }),
  db: text('FILE', 'the study database; a rerun resumes it', { default: DEFAULT_DB }),
  reportDir: text('DIR', "where the study's report goes (a folder that is empty, missing, or holds a previous report)", {
    defaultText: 'beside the study: results/flexibench-report for results/flexibench.duckdb',
  }),
  workers: integer('N', 'worker threads, one model session each', { ...WORKERS, default: availableParallelism(), defaultText: 'the number of CPUs' }),
  seed: integer('S', 'seed of the --limit subset', { ...SEED, default: 0 }),
  threshold: real('T', 'router threshold of flexidepth: a layer runs a token when its gate is above T', {
    min: 0,
    max: 1,
    defaultText: String(DEFAULT_THRESHOLD),
  }),
  thresholds: thresholdList(),
  precision: commaList(
    'LIST',
    `the weights, comma-separated; each precision runs as its own series, and with fp32 beside another, each FlexiDepth run is measured for how it routes fp32's tokens: ${PRECISION_HELP}`,
    'precision',
    { choices: WEIGHT_PRECISIONS, default: ['fp32'] },
  ),
  blockSize: BLOCK_SIZE,
  dataDir: DATA_DIR,
  threads: integer('N', 'intra-op threads per worker session', { ...THREADS, default: 1 }),
  batch: integer('N', "sequences each worker decodes together (continuous batching: a finished one's row is refilled at once)", {
    ...BATCH,
    default: DEFAULT_BATCH,
  }),
  ep: oneOf('EP', 'ONNX Runtime execution provider', ['cpu', 'cuda'] as const, { default: 'cpu' }),
  ...OVERRIDE_OPTIONS,
  maxLength: integer('N', 'prompt + max_new_tokens must fit in N positions; longer prompts lose their first tokens', {
    min: 2,
    ...POSITIONS,
    defaultText: "the model's context",
  }),
  logSamples: text('FILE.jsonl', 'also append each stored sample (prediction, reference, metrics) to this JSON Lines file'),
  shard: text(
    'K/N',
    "run only shard K of N (1-based) of every suite's items, split by a hash of the doc id; auto/N takes K from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID (0-based, as --array=0-<N-1>); combine the shards' databases with `flexibench merge`",
  ),
};

async function runCommand(o: OptionValues<typeof OPTIONS>): Promise<void> {
  if (o.threshold !== undefined && o.thresholds !== undefined) throw new UserError('run: give --threshold or --thresholds, not both');
  const dataDir = resolveDataDir(o.dataDir);
  const reportDir = o.reportDir ?? reportFolderOf(o.db);
  const inputs = [
    ...studyFiles(o.db, '--db'),
    { path: o.model, option: '--model' },
    { path: dataDir, option: '--data-dir' },
    ...o.includePath.map((dir) => ({ path: dir, option: '--include-path' })),
  ];
  if (o.logSamples !== undefined) {
    // Appending to an input would damage it; run's report folder is replaced after the run, log and all.
    refuseFileOverInputs({ path: o.logSamples, option: 'run --log-samples' }, [...inputs, { path: reportDir, option: "the study's report folder" }]);
  }
  // Replaced after the run: it must neither be, hold nor lie inside what the run reads.
  if (o.reportDir !== undefined) refuseFolderOverInputs({ path: o.reportDir, option: 'run --report-dir' }, inputs);
  checkRunReportFolder(reportDir, o.reportDir !== undefined ? '--report-dir' : null);
  const stats = await runStudy({
    plan: {
      modelDir: o.model,
      suites: o.suites !== undefined ? selectSuites(o.suites, o.includePath) : listSuites(o.includePath),
      includePaths: o.includePath,
      dataDir,
      variants: o.variants,
      thresholds: o.thresholds ?? [o.threshold ?? DEFAULT_THRESHOLD],
      precisions: o.precision,
      blockSize: o.blockSize,
      limit: o.limit ?? (o.suites === undefined ? DEFAULT_STUDY_LIMIT : null),
      seed: o.seed,
      maxLength: o.maxLength ?? null,
      staticLayers: o.staticLayers ?? null,
      overrides: overridesOf('run', o),
    },
    output: { dbPath: o.db, logSamplesPath: o.logSamples ?? null, log: process.stderr },
    execution: {
      workers: o.workers,
      intraOpThreads: o.threads,
      executionProvider: o.ep,
      batch: o.batch,
      shard: o.shard !== undefined ? parseShard(o.shard, process.env) : null,
    },
  });
  process.stderr.write(
    `run: ${counted(stats.samplesWritten, 'sample')} written, ${stats.samplesSkipped} already stored, ${stats.samplesFailed} failed; ` +
      `${(stats.wallMs / 1000).toFixed(1)} s, ${(100 * stats.overheadShare).toFixed(1)}% of worker time outside session.run\n`,
  );
  const report = await loadReport([o.db]);
  process.stdout.write(renderTerminal(report.summary, { width: terminalWidth(process.stdout) }));
  const index = await writeReport(reportDir, report);
  process.stdout.write(`\nreport: ${index}\n`);
  if (stats.samplesFailed > 0) {
    process.stderr.write(`run: ${counted(stats.samplesFailed, 'sample')} failed (reasons above); what succeeded is stored; exit ${EXIT_SAMPLES_FAILED}\n`);
    process.exitCode = EXIT_SAMPLES_FAILED;
  }
}

export const command = defineCommand({
  name: 'run',
  description:
    'Run suites through FlexiDepth and the full-depth baseline into a DuckDB study (resumable), then print the summary and write the report next to the study.',
  options: OPTIONS,
  epilog: `Exit status: 0 when every sample ran; ${EXIT_SAMPLES_FAILED} when some failed (the rest is stored); 1 on bad input; 130 when interrupted.`,
  action: runCommand,
});
