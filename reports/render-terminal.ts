/**
 * The terminal form of a report: one line per run, the paired and matched comparisons, the paper's
 * orderings. Strings read from a study or a path are printed with their control characters shown
 * as escapes (src/control-chars.ts): the table cells all, and each free line's stored parts.
 */
import { escapeControlChars as shown } from '../src/control-chars.ts';
import { estimate, fixed, percent, variantLabel } from './format.ts';
import { precisionLabel } from './precision.ts';
import type { ReportSummary } from './report-data.ts';

function table(header: string[], cells: string[][]): string {
  const rows = cells.map((r) => r.map(shown));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function renderTerminal(summary: ReportSummary): string {
  const dbs = summary.study.dbs;
  const head = dbs.map((d) => `${shown(d.db)}: ${summary.study.runs.filter((r) => r.study === d.label).length} runs, schema version ${d.schema_version}`);
  const out = [...head, ''];
  if (summary.results.length === 0) return `${out.join('\n')}no runs yet\n`;
  const multiStudy = dbs.length > 1;
  const multiModel = new Set(summary.results.map((r) => r.model_hash)).size > 1;
  const key = (r: { study: string; model_hash: string }): string[] => [...(multiStudy ? [r.study] : []), ...(multiModel ? [r.model_hash.slice(0, 12)] : [])];
  const keyHeader = [...(multiStudy ? ['study'] : []), ...(multiModel ? ['model'] : [])];
  const rows = summary.results.map((r) => [
    ...key(r),
    r.suite,
    variantLabel(r.variant, r.threshold, r),
    r.n_error > 0 ? `${r.n} (+${r.n_error} err)` : String(r.n),
    Object.entries(r.metrics)
      .map(([name, m]) => `${name} ${estimate(m)}`)
      .join('; ') || '-',
    r.layers_used_mean === null ? '-' : `${r.layers_used_mean.toFixed(2)}/${r.layers_total}`,
    percent(r.routed_usage),
    fixed(r.prefill_tokens_per_s, 1),
    fixed(r.decode_tokens_per_s, 1),
  ]);
  out.push(table([...keyHeader, 'suite', 'variant', 'n', 'metrics (mean [95% CI])', 'layers used', 'routed', 'prefill tok/s', 'decode tok/s'], rows));
  if (summary.paired.length > 0) {
    // A sweep pairs each threshold with the same full run: the threshold tells the rows apart; so
    // does the precision, each paired within itself, when several were run.
    const swept = new Set(summary.paired.map((p) => p.threshold)).size > 1;
    const precisions = new Set(summary.paired.map(precisionLabel)).size > 1;
    const pairedRows = summary.paired.map((p) => [
      ...key(p),
      p.suite,
      ...(swept ? [String(p.threshold)] : []),
      ...(precisions ? [precisionLabel(p)] : []),
      p.metric,
      String(p.n),
      estimate(p.flexidepth_minus_full),
      percent(p.retention),
    ]);
    const extra = [...(swept ? ['threshold'] : []), ...(precisions ? ['precision'] : [])];
    out.push('', table([...keyHeader, 'suite', ...extra, 'metric', 'pairs', 'flexidepth - full [95% CI]', 'retention'], pairedRows));
  }
  if (summary.matched.length > 0) {
    const layers = (v: number | null): string => fixed(v, 2);
    const matchedRows = summary.matched.map((m) => [
      ...key(m),
      m.suite,
      variantLabel(m.comparator, m.threshold, m),
      m.metric,
      String(m.n),
      estimate(m.flexidepth_minus_comparator),
      `${layers(m.flexidepth_layers_used)} vs ${layers(m.comparator_layers_used)}`,
    ]);
    out.push(
      '',
      table(
        [...keyHeader, 'suite', 'comparator', 'metric', 'pairs', 'flexidepth - comparator [95% CI]', 'layers used (flexidepth vs comparator)'],
        matchedRows,
      ),
    );
  }
  const failed = summary.study.runs.filter((r) => r.n_error > 0);
  if (failed.length > 0) {
    out.push('', 'failed samples (not scored; rerun the same command to retry them):');
    for (const r of failed)
      out.push(...r.errors.map((e) => `  ${shown([...key(r), r.suite, variantLabel(r.variant, r.threshold, r)].join(' '))}: ${e.count} × ${shown(e.reason)}`));
  }
  const truncated = summary.study.runs.filter((r) => r.n_truncated > 0);
  if (truncated.length > 0) {
    out.push('', 'prompts left-truncated to fit the max length (as lm-evaluation-harness does; see tasks/README.md):');
    out.push(...truncated.map((r) => `  ${shown([...key(r), r.suite, variantLabel(r.variant, r.threshold, r)].join(' '))}: ${r.n_truncated} of ${r.n_done}`));
  }
  for (const c of summary.paper) {
    const measured = c.orderings.filter((o) => o.verdict !== 'not measured');
    if (measured.length === 0) continue;
    out.push('', `the paper's layer orderings, ${shown(c.series)} (layers used per generated token, 95% CI):`, ...measured.map((o) => `  ${o.text}`));
  }
  return `${out.join('\n')}\n`;
}
