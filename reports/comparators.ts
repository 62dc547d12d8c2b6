/**
 * The paper's Table 1 for this study: per suite (and weight precision), full depth, FlexiDepth at
 * each threshold and the comparators matched to each threshold's layer budget (static removal,
 * random skipping), on the suite's primary metric. Rows are derived once here so the HTML, the
 * Markdown and the chart agree.
 */
import { validateAgainst } from '../src/config-validation.ts';
import { ScorerConfig, scorerMetrics } from '../src/scoring/scorers.ts';
import type { Estimate } from '../src/scoring/bootstrap.ts';
import { COMPARATOR_VARIANTS, isComparator, type ComparatorVariant, type Variant } from '../src/model/variants.ts';
import type { StoredRun } from '../src/store/summary-reads.ts';
import type { QualityLayersPoint } from './charts.ts';
import { estimate, retentionCell, variantLabel } from './format.ts';
import { comparisonKey } from './pairing.ts';
import { FP32_PRECISION, isFp32, precisionLabel } from './precision.ts';
import type { MatchedRow, MetricEstimate, ResultRow, RunSummary, StudySummary } from './summary.ts';

export interface ComparatorTableRow {
  /** `full`, `flexidepth@T`, `static@T`, `random@T` (the table's title names a precision other than fp32). */
  method: string;
  variant: Variant;
  threshold: number;
  run_id: string;
  /** The primary metric; null when the run has no numeric value for it. */
  metric: MetricEstimate | null;
  /** mean / the full run's mean; null without a full run or when its mean is 0. */
  retention: number | null;
  /** The full run's mean of the metric, which the retention divides by; null without a full run. */
  full_mean: number | null;
  layers_used_mean: number | null;
  layers_total: number;
  /** Comparator rows: FlexiDepth − this comparator at its threshold, paired over shared documents. */
  flexidepth_minus_comparator: Estimate | null;
  /** Static rows: the routed layers every token skips. */
  removed_layers: number[] | null;
}

export interface ComparatorTable {
  study: string;
  model_hash: string;
  suite: string;
  /** Every row's weight precision: a table holds one precision. */
  precision: string;
  block_size: number | null;
  /** What tells the table apart from the others: the suite, with the study and model when there are several, and the precision when not fp32. */
  title: string;
  metric: string;
  rows: ComparatorTableRow[];
}

interface Sources {
  summary: StudySummary;
  runOf: (study: string, runId: string) => StoredRun;
}

/** The scorer a stored suite config names; null for a config without a valid one (hand-made or older studies). */
function storedScorer(suiteConfig: unknown): ScorerConfig | null {
  const scorer = typeof suiteConfig === 'object' && suiteConfig !== null ? (suiteConfig as { scorer?: unknown }).scorer : undefined;
  try {
    return validateAgainst(scorer, ScorerConfig, 'suite config');
  } catch {
    return null;
  }
}

/** The scorer's main metric when the stored suite config names a scorer and the rows have it, else the rows' first metric. */
export function primaryMetric(suiteConfig: unknown, rows: readonly { metrics: Readonly<Record<string, unknown>> }[]): string | null {
  const names = rows.flatMap((r) => Object.keys(r.metrics));
  const scorer = storedScorer(suiteConfig);
  const main = scorer === null ? undefined : scorerMetrics(scorer)[0];
  if (main !== undefined && names.includes(main)) return main;
  return names[0] ?? null;
}

/** Each result row's primary metric, chosen as the report's Table 1 and Precision section choose it, once per suite config. */
export function primaryMetrics(summary: StudySummary): Map<ResultRow, string | null> {
  const runs = new Map(summary.study.runs.map((r) => [`${r.study}\u0000${r.run_id}`, r]));
  const groups = new Map<string, { run: RunSummary | undefined; rows: ResultRow[] }>();
  for (const r of summary.results) {
    const run = runs.get(`${r.study}\u0000${r.run_id}`);
    const key = `${r.study}\u0000${run?.suite_config_hash ?? r.suite}`;
    const g = groups.get(key) ?? { run, rows: [] };
    g.rows.push(r);
    groups.set(key, g);
  }
  const out = new Map<ResultRow, string | null>();
  for (const g of groups.values()) {
    const metric = primaryMetric(g.run?.suite_config, g.rows);
    for (const r of g.rows) out.set(r, metric);
  }
  return out;
}

/** Table 1's row order: full, FlexiDepth by ascending threshold, then per threshold static and random. */
function rowRank(r: ResultRow): [number, number, number] {
  if (r.variant === 'full') return [0, 0, 0];
  if (r.variant === 'flexidepth') return [1, r.threshold, 0];
  return [2, r.threshold, COMPARATOR_VARIANTS.indexOf(r.variant as ComparatorVariant)];
}

function byRank(a: ResultRow, b: ResultRow): number {
  const [x, y] = [rowRank(a), rowRank(b)];
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2] || a.run_id.localeCompare(b.run_id);
}

function tableRow(r: ResultRow, metric: string, full: ResultRow | undefined, matched: readonly MatchedRow[], run: StoredRun): ComparatorTableRow {
  const m = r.metrics[metric] ?? null;
  const fullMean = full?.metrics[metric]?.mean;
  const match = isComparator(r.variant) ? matched.find((x) => x.comparator_run_id === r.run_id && x.metric === metric) : undefined;
  return {
    // One precision per table, named in its title.
    method: variantLabel(r.variant, r.threshold, FP32_PRECISION),
    variant: r.variant,
    threshold: r.threshold,
    run_id: r.run_id,
    metric: m,
    retention: m === null || fullMean === undefined || fullMean === 0 ? null : m.mean / fullMean,
    full_mean: fullMean ?? null,
    layers_used_mean: r.layers_used_mean,
    layers_total: r.layers_total,
    flexidepth_minus_comparator: match?.flexidepth_minus_comparator ?? null,
    removed_layers: run.comparator?.kind === 'static' ? run.comparator.removed_layers : null,
  };
}

/**
 * One table per study, model, suite and comparable setting (suite config, seed, generation, weight
 * precision) whose study has a comparator run; none when no study has one.
 */
export function comparatorTables(data: Sources): ComparatorTable[] {
  const { results, matched } = data.summary;
  const withComparators = new Set(results.filter((r) => isComparator(r.variant)).map((r) => r.study));
  const groups = new Map<string, ResultRow[]>();
  for (const r of results.filter((x) => withComparators.has(x.study))) {
    const key = `${r.study}\u0000${comparisonKey(data.runOf(r.study, r.run_id))}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const multiStudy = withComparators.size > 1;
  const multiModel = new Set(results.map((r) => r.model_hash)).size > 1;
  const tables: ComparatorTable[] = [];
  for (const rows of groups.values()) {
    const first = rows[0] as ResultRow;
    const metric = primaryMetric(data.runOf(first.study, first.run_id).suite_config, rows);
    if (metric === null) continue;
    const sorted = [...rows].sort(byRank);
    const full = sorted.find((r) => r.variant === 'full');
    const studyMatched = matched.filter((m) => m.study === first.study);
    tables.push({
      study: first.study,
      model_hash: first.model_hash,
      suite: first.suite,
      precision: first.precision,
      block_size: first.block_size,
      title: [multiStudy ? first.study : null, multiModel ? first.model_hash.slice(0, 8) : null, first.suite, isFp32(first) ? null : precisionLabel(first)]
        .filter((x) => x !== null)
        .join(' \u00b7 '),
      metric,
      rows: sorted.map((r) => tableRow(r, metric, full, studyMatched, data.runOf(r.study, r.run_id))),
    });
  }
  return tables;
}

/** Under Table 1, in both renderers. */
export const COMPARATORS_NOTE =
  'static@T removes, for every token, the k routed layers of least Block Influence (ShortGPT-style), k being FlexiDepth\u2019s mean skips per generated token at threshold T over all the study\u2019s suites, so on one suite its layers used can differ from FlexiDepth\u2019s (compare the column); ' +
  'random@T draws each routed decision at the rate FlexiDepth ran that layer on the same suite at T, so it spends the same layers per suite: the paired difference FlexiDepth \u2212 random (over shared documents) measures what the routers\u2019 choice of tokens is worth. ' +
  'Where FlexiDepth runs a layer for all or none of the tokens, random does the same, and the two agree.';

const NONE = '\u2014';

export const comparatorHeader = (metric: string): string[] => [
  'method',
  `${metric} [95% CI]`,
  'retention',
  'layers used',
  'FlexiDepth \u2212 comparator [95% CI]',
  'removed layers',
];

/** Plain-text cells of a row, in comparatorHeader's order (the HTML escapes them, the Markdown pipes). */
export function comparatorCells(r: ComparatorTableRow): string[] {
  return [
    r.method,
    r.metric === null ? NONE : estimate(r.metric),
    r.retention === null ? NONE : retentionCell(r.retention, r.full_mean ?? undefined),
    r.layers_used_mean === null ? NONE : `${r.layers_used_mean.toFixed(2)} / ${r.layers_total}`,
    r.flexidepth_minus_comparator === null ? '' : estimate(r.flexidepth_minus_comparator),
    r.removed_layers === null ? '' : r.removed_layers.join(', '),
  ];
}

/** The chart's points: rows with both a layers-used mean and a primary-metric value. */
export function qualityLayersPoints(tables: readonly ComparatorTable[]): QualityLayersPoint[] {
  return tables.flatMap((t) =>
    t.rows.flatMap((r) =>
      r.metric === null || r.layers_used_mean === null
        ? []
        : [
            {
              panel: `${t.title} \u00b7 ${t.metric}`,
              variant: r.variant,
              method: r.method,
              threshold: r.threshold,
              layers_used: r.layers_used_mean,
              mean: r.metric.mean,
              lo: r.metric.ci95[0],
              hi: r.metric.ci95[1],
            },
          ],
    ),
  );
}
