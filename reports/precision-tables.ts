/**
 * The report's Precision section: per study that ran several weight precisions, each run at a lower
 * precision beside its fp32 counterpart (the summary's `fidelity` rows) on the suite's primary
 * metric, with the layers each spent and how often they routed and wrote alike. Rows are derived
 * once here so the HTML and the Markdown agree.
 */
import type { StoredRun } from '../src/store/summary-reads.ts';
import { primaryMetric } from './comparators.ts';
import type { FidelityMetric, FidelityRow } from './fidelity.ts';
import { estimate, fixed, percent, variantLabel } from './format.ts';
import { FP32_PRECISION, precisionLabel } from './precision.ts';
import type { StudySummary } from './summary.ts';

export interface PrecisionTableRow {
  fidelity: FidelityRow;
  /** The suite's primary metric; null when the two runs share no numeric metric. */
  metric: string | null;
}

export interface PrecisionTable {
  study: string;
  /** The study's label when the report has several, else empty. */
  title: string;
  /** Rows name the model when the study has several. */
  multiModel: boolean;
  rows: PrecisionTableRow[];
}

interface Sources {
  summary: StudySummary;
  runOf: (study: string, runId: string) => StoredRun;
}

/** One table per study whose runs have more than one precision (empty when it has no fp32 counterpart); none when no study has. */
export function precisionTables(data: Sources): PrecisionTable[] {
  const { dbs, runs } = data.summary.study;
  const tables: PrecisionTable[] = [];
  for (const db of dbs) {
    const studyRuns = runs.filter((r) => r.study === db.label);
    if (new Set(studyRuns.map(precisionLabel)).size < 2) continue;
    const rows = data.summary.fidelity
      .filter((f) => f.study === db.label)
      .map((f) => ({ fidelity: f, metric: primaryMetric(data.runOf(f.study, f.run_id).suite_config, [f]) }));
    tables.push({
      study: db.label,
      title: dbs.length > 1 ? db.label : '',
      multiModel: new Set(studyRuns.map((r) => r.model_hash)).size > 1,
      rows,
    });
  }
  return tables;
}

/** Under the tables, in both renderers. */
export const PRECISION_NOTE =
  'Each run at a lower weight precision beside the fp32 run of the same suite, variant and threshold, over the documents both finished: the suite\u2019s primary metric, the paired difference (precision \u2212 fp32, bootstrap 95% interval over documents) and the mean layers used per generated token. ' +
  'Identical routing decisions (FlexiDepth only): fp32\u2019s generated tokens are fed back through both graphs and the routed-layer decisions at the positions that produced them are compared, so both decide on the same text and a divergence of the outputs is not counted a second time. ' +
  'Identical output: the share of documents whose output is byte-identical to fp32\u2019s, which is what greedy decoding should give; a suite that samples is marked \u201csampled\u201d, since there one changed probability can change a draw.';

const NONE = '\u2014';

export const precisionHeader = (multiModel: boolean): string[] => [
  ...(multiModel ? ['model'] : []),
  'suite',
  'method',
  'precision',
  'primary metric',
  'precision vs fp32',
  'precision \u2212 fp32 [95% CI]',
  'layers used (precision vs fp32)',
  'identical routing decisions',
  'identical output',
];

/** Which cells of precisionCells hold text from the study (the Markdown escapes those); the rest are numbers and words of ours. */
export const precisionTextCells = (multiModel: boolean): ReadonlySet<number> => new Set(multiModel ? [0, 1, 2, 3, 4] : [0, 1, 2, 3]);

/** The numeric columns of precisionHeader (the HTML right-aligns them). */
export const precisionNumericCells = (multiModel: boolean): ReadonlySet<number> => new Set([5, 6, 7, 8, 9].map((i) => i - (multiModel ? 0 : 1)));

function routingCell(f: FidelityRow): string {
  if (f.variant !== 'flexidepth') return NONE;
  if (f.routing_identical === null) return 'not stored';
  // Two decimals: the acceptance bars sit at 98-99%, where one decimal rounds 99.96% up to 100.0%.
  return `${percent(f.routing_identical, 2)} (${f.routing_samples} sample${f.routing_samples === 1 ? '' : 's'})`;
}

function outputCell(f: FidelityRow): string {
  if (f.identical_output === null) return NONE;
  const decoding = f.greedy === true ? '' : f.greedy === false ? ', sampled' : ', decoding not stored';
  return `${percent(f.identical_output)} of ${f.output_docs}${decoding}`;
}

/** Plain-text cells of a row, in precisionHeader's order (the HTML escapes them, the Markdown escapes precisionTextCells). */
export function precisionCells(r: PrecisionTableRow, multiModel: boolean): string[] {
  const f = r.fidelity;
  const m: FidelityMetric | null = r.metric === null ? null : (f.metrics[r.metric] ?? null);
  return [
    ...(multiModel ? [f.model_hash.slice(0, 12)] : []),
    f.suite,
    // The precision has its own column.
    variantLabel(f.variant, f.threshold, FP32_PRECISION),
    precisionLabel(f),
    r.metric ?? NONE,
    m === null ? NONE : `${m.mean.toFixed(3)} vs ${m.fp32_mean.toFixed(3)}`,
    m === null ? NONE : estimate(m.minus_fp32),
    `${fixed(f.layers_used_mean, 2)} vs ${fixed(f.fp32_layers_used_mean, 2)}`,
    routingCell(f),
    outputCell(f),
  ];
}
