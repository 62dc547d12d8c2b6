/**
 * Everything a report shows, read from one or more study files: the summary (scores, pairing,
 * depth), the paper comparison and the layer patterns. Study files are opened read-only and
 * closed before anything is rendered; a report never changes a study.
 */
import { basename } from 'node:path';
import { UserError } from '../src/errors.ts';
import { StudyDb } from '../src/store/study-db.ts';
import { readSummaryInputs, type StoredRun } from '../src/store/summary-reads.ts';
import { variantLabel } from './format.ts';
import { paperComparisons, type PaperComparison } from './paper.ts';
import { readPatterns } from './patterns.ts';
import { buildSummary, DEFAULT_BOOTSTRAP, type BootstrapSettings, type LabeledStudy, type StudySummary } from './summary.ts';

/** What `report --json` prints and summary.json holds. */
export interface ReportSummary extends StudySummary {
  paper: PaperComparison[];
}

export interface ReportData {
  summary: ReportSummary;
  studies: LabeledStudy[];
  /** A run's series: what tells it apart in tables and charts (study, model, variant, threshold, precision). */
  seriesOf: (study: string, runId: string) => string;
  runOf: (study: string, runId: string) => StoredRun;
}

/** File names without .duckdb; a repeated name gets its position appended. */
export function studyLabels(paths: readonly string[]): string[] {
  const names = paths.map((p) => basename(p).replace(/\.duckdb$/, ''));
  return names.map((n, i) => (names.filter((m) => m === n).length > 1 ? `${n}#${i + 1}` : n));
}

async function readStudy(path: string, label: string): Promise<LabeledStudy> {
  const db = await StudyDb.open(path, { readOnly: true });
  try {
    const inputs = await db.read((conn) => readSummaryInputs(conn, path, db.schemaVersion));
    if (inputs.runs.length === 0) throw new UserError(`${path}: the study has no runs yet (run \`flexibench run --db ${path}\` first)`);
    // The layer counts the charts and depth maps size arrays by were checked when the study was
    // opened (run-bounds.ts); the read-only open keeps writers out until it is closed.
    const suites = [...new Set(inputs.runs.map((r) => r.suite))];
    return { label, inputs, patterns: await db.read((conn) => readPatterns(conn, suites)) };
  } finally {
    await db.close();
  }
}

function seriesNaming(studies: readonly LabeledStudy[]): (run: StoredRun, study: string) => string {
  const runs = studies.flatMap((s) => s.inputs.runs);
  const multiStudy = studies.length > 1;
  const multiModel = new Set(runs.map((r) => r.model_hash)).size > 1;
  return (run, study) =>
    [multiStudy ? study : null, multiModel ? run.model_hash.slice(0, 8) : null, variantLabel(run.variant, run.threshold, run)]
      .filter((x) => x !== null)
      .join(' · ');
}

export async function loadReport(paths: readonly string[], boot: BootstrapSettings = DEFAULT_BOOTSTRAP): Promise<ReportData> {
  const labels = studyLabels(paths);
  const studies: LabeledStudy[] = [];
  for (const [i, path] of paths.entries()) studies.push(await readStudy(path, labels[i] as string));
  const runIndex = new Map(studies.flatMap((s) => s.inputs.runs.map((r) => [`${s.label}\u0000${r.run_id}`, r] as const)));
  const runOf = (study: string, runId: string): StoredRun => {
    const run = runIndex.get(`${study}\u0000${runId}`);
    if (run === undefined) throw new Error(`no run ${runId} in study ${study}`);
    return run;
  };
  const name = seriesNaming(studies);
  const seriesOf = (study: string, runId: string): string => name(runOf(study, runId), study);
  const summary = buildSummary(studies, boot);
  return { summary: { ...summary, paper: paperComparisons(studies, seriesOf, boot) }, studies, seriesOf, runOf };
}
