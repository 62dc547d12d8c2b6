/**
 * `flexibench run [--model DIR] [--suites a,b,...] [--variants flexidepth,full] [--limit N] [--db FILE]
 *                 [--workers N] [--seed S] [--threshold T] [--data-dir DIR] [--threads N] [--ep cpu|cuda]
 *                 [--max-length N]`
 *
 * The main job: suites through FlexiDepth and the full-depth baseline into a DuckDB study,
 * resumable, then the summary table. With no --model it runs the committed reference model; with
 * no --suites, the default study (every suite, DEFAULT_STUDY_LIMIT items each unless --limit says).
 */
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../../src/errors.ts';
import { VARIANTS, type Variant } from '../../src/model/graph-builder.ts';
import { DEFAULT_DB } from '../../src/store/study-db.ts';
import { listSuites } from '../../src/suites/spec.ts';
import { resolveDataDir } from '../../datasets/data-dir.ts';
import { choiceOption, numberOption, parseOptions } from '../args.ts';
import { REFERENCE_MODEL } from '../model-options.ts';
import { runStudy } from '../runner/run-study.ts';
import { loadReport } from '../../reports/report-data.ts';
import { renderTerminal } from '../../reports/render-terminal.ts';
import { writeReport } from '../../reports/write-report.ts';

export const DEFAULT_STUDY_LIMIT = 5;

export async function main(argv: string[]): Promise<void> {
  const o = parseOptions('run', argv, {
    model: { type: 'string' },
    suites: { type: 'string' },
    variants: { type: 'string' },
    limit: { type: 'string' },
    db: { type: 'string' },
    workers: { type: 'string' },
    seed: { type: 'string' },
    threshold: { type: 'string' },
    'data-dir': { type: 'string' },
    threads: { type: 'string' },
    ep: { type: 'string' },
    'max-length': { type: 'string' },
  });
  const modelDir = o.model ?? REFERENCE_MODEL;
  const suites = o.suites === undefined ? listSuites() : [...new Set(o.suites.split(',').map((s) => s.trim()).filter(Boolean))];
  if (suites.length === 0) throw new UserError('run: --suites needs at least one suite name');
  const variants = (o.variants ?? 'flexidepth,full').split(',').map((v) => v.trim());
  for (const v of variants) if (!(VARIANTS as readonly string[]).includes(v)) throw new UserError(`run: unknown variant '${v}' in --variants (known: ${VARIANTS.join(', ')})`);
  const defaultLimit = o.suites === undefined ? DEFAULT_STUDY_LIMIT : null;
  const limit = o.limit === undefined ? defaultLimit : numberOption('run', o.limit, 'limit', 0, { integer: true, min: 1 });
  const dbPath = o.db ?? DEFAULT_DB;
  const workers = numberOption('run', o.workers, 'workers', availableParallelism(), { integer: true, min: 1 });

  const stats = await runStudy({
    modelDir,
    suites,
    variants: [...new Set(variants)] as Variant[],
    limit,
    seed: numberOption('run', o.seed, 'seed', 0, { integer: true, min: 0 }),
    threshold: numberOption('run', o.threshold, 'threshold', 0.5, { min: 0, max: 1 }),
    dbPath,
    dataDir: resolveDataDir(o['data-dir']),
    workers,
    intraOpThreads: numberOption('run', o.threads, 'threads', 1, { integer: true, min: 1 }),
    executionProvider: choiceOption('run', o.ep, 'ep', ['cpu', 'cuda'] as const, 'cpu'),
    maxLength: o['max-length'] === undefined ? null : numberOption('run', o['max-length'], 'max-length', 0, { integer: true, min: 2 }),
  });
  process.stderr.write(
    `run: ${stats.samplesWritten} samples written, ${stats.samplesSkipped} already stored, ${stats.samplesFailed} failed; ` +
      `${(stats.wallMs / 1000).toFixed(1)} s, ${(100 * stats.overheadShare).toFixed(1)}% of worker time outside session.run\n`,
  );
  const report = await loadReport([dbPath]);
  process.stdout.write(renderTerminal(report.summary));
  const index = await writeReport(reportFolderOf(dbPath), report);
  process.stdout.write(`\nreport: ${index}\n`);
  if (stats.samplesFailed > 0) {
    process.stderr.write(`run: ${stats.samplesFailed} samples failed (reasons above); what succeeded is stored; exit ${EXIT_SAMPLES_FAILED}\n`);
    process.exitCode = EXIT_SAMPLES_FAILED;
  }
}

/** The exit code of a run that stored its results but had failed samples (1 is a bad input, nothing run). */
export const EXIT_SAMPLES_FAILED = 2;

/** The report of a study goes next to it: results/flexibench.duckdb -> results/flexibench-report/. */
export function reportFolderOf(dbPath: string): string {
  return join(dirname(dbPath), `${basename(dbPath).replace(/\.duckdb$/, '')}-report`);
}
