/**
 * `flexibench report --db FILE [--out DIR] [--json]`: summarizes a study database. `--json` prints
 * the summary (DESIGN.md) as one JSON document on stdout, otherwise a readable table goes there;
 * `--out DIR` also writes the summary to DIR/summary.json (the HTML/Markdown report is a later
 * step). The database is opened read-only: a report never changes a study.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../src/errors.ts';
import { StudyDb, type StudySummary } from '../../src/store/study-db.ts';
import { numberOption, parseOptions } from '../args.ts';

const USAGE = 'usage: flexibench report --db FILE [--out DIR] [--json] [--bootstrap-samples N] [--seed S]';
const DEFAULT_DB = 'results/flexibench.duckdb';

export async function main(argv: string[]): Promise<void> {
  const opts = parseOptions('report', argv, {
    db: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean' },
    'bootstrap-samples': { type: 'string' },
    seed: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (opts.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const dbPath = opts.db ?? DEFAULT_DB;
  const bootstrapSamples = numberOption('report', opts['bootstrap-samples'], 'bootstrap-samples', 10_000, { integer: true, min: 1 });
  const seed = numberOption('report', opts.seed, 'seed', 0, { integer: true, min: 0 });

  const db = await StudyDb.open(dbPath, { readOnly: true });
  let summary: StudySummary;
  try {
    summary = await db.summary({ bootstrapSamples, seed });
  } finally {
    await db.close();
  }

  if (opts.out !== undefined) {
    const file = join(opts.out, 'summary.json');
    try {
      mkdirSync(opts.out, { recursive: true });
      writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
    } catch (err) {
      throw new UserError(`report: cannot write ${file} (${(err as Error).message.split('\n')[0]})`);
    }
    process.stderr.write(`wrote ${file} (the HTML report is not generated yet)\n`);
  }
  if (opts.json === true) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(formatSummaryTable(summary));
}

const fixed = (v: number | null, digits: number): string => (v === null ? '-' : v.toFixed(digits));

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The readable form: one line per run, then the paired comparisons. */
export function formatSummaryTable(summary: StudySummary): string {
  const runs = summary.study.runs.length;
  const out = [`${summary.study.db}: ${runs} run${runs === 1 ? '' : 's'}, schema version ${summary.study.schema_version}`, ''];
  if (summary.results.length === 0) return `${out.join('\n')}no runs yet\n`;
  const multiModel = new Set(summary.results.map((r) => r.model_hash)).size > 1;
  const rows = summary.results.map((r) => [
    ...(multiModel ? [r.model_hash.slice(0, 12)] : []),
    r.suite,
    r.variant === 'flexidepth' ? `flexidepth@${r.threshold}` : r.variant,
    r.n_error > 0 ? `${r.n} (+${r.n_error} err)` : String(r.n),
    Object.entries(r.metrics)
      .map(([name, m]) => `${name} ${m.mean.toFixed(3)} [${m.ci95[0].toFixed(3)}, ${m.ci95[1].toFixed(3)}]`)
      .join('; ') || '-',
    r.layers_used_mean === null ? '-' : `${r.layers_used_mean.toFixed(2)}/${r.layers_total}`,
    r.routed_usage === null ? '-' : `${(r.routed_usage * 100).toFixed(1)}%`,
    fixed(r.prefill_tokens_per_s, 1),
    fixed(r.decode_tokens_per_s, 1),
  ]);
  out.push(table([...(multiModel ? ['model'] : []), 'suite', 'variant', 'n', 'metrics (mean [95% CI])', 'layers used', 'routed', 'prefill tok/s', 'decode tok/s'], rows));
  if (summary.paired.length > 0) {
    const pairedRows = summary.paired.map((p) => [
      ...(multiModel ? [p.model_hash.slice(0, 12)] : []),
      p.suite,
      p.metric,
      String(p.n),
      `${p.flexidepth_minus_full.mean.toFixed(3)} [${p.flexidepth_minus_full.ci95[0].toFixed(3)}, ${p.flexidepth_minus_full.ci95[1].toFixed(3)}]`,
      p.retention === null ? '-' : `${(p.retention * 100).toFixed(1)}%`,
    ]);
    out.push('', table([...(multiModel ? ['model'] : []), 'suite', 'metric', 'pairs', 'flexidepth - full [95% CI]', 'retention'], pairedRows));
  }
  return `${out.join('\n')}\n`;
}
