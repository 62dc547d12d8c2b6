/**
 * The report's answer, first: per FlexiDepth series, whether it kept the quality of full depth on
 * each suite (the paired difference on the suite's primary metric and its interval, in words), the
 * layers it used, and each of the paper's claims as measured here. Derived once from the summary,
 * so the HTML page and summary.md say the same.
 */
import type { Estimate } from '../src/scoring/bootstrap.ts';
import { primaryMetrics } from './comparators.ts';
import { RETENTION_BASELINE_FLOOR } from './format.ts';
import type { ReportData } from './report-data.ts';
import type { ResultRow } from './summary.ts';
import { signed, type Verdict } from './verdict.ts';

/**
 * kept: the interval of FlexiDepth − full holds 0; lower, higher: it lies below or above 0;
 * cannot tell: it holds 0 and both means are near 0, so the suite could not show a loss;
 * not paired: no full run of the same suite, model and precision to compare with.
 */
export type QualityVerdict = 'kept' | 'lower' | 'higher' | 'cannot tell' | 'not paired';

export interface SuiteAnswer {
  suite: string;
  metric: string | null;
  verdict: QualityVerdict;
  /** What the verdict rests on, in words: "exact_match 0.420 against 0.430 at full depth, difference …". */
  because: string;
  /** The FlexiDepth run's result row: its layers used, of its total. */
  result: ResultRow;
}

export interface ClaimAnswer {
  verdict: Verdict;
  text: string;
}

export interface SeriesHeadline {
  series: string;
  /** The series in one sentence: how many suites kept quality, and the layers used. */
  sentence: string;
  suites: SuiteAnswer[];
  /** The paper's claims, measured on this series; empty when the summary has no comparison for it. */
  claims: ClaimAnswer[];
}

export const HEADLINE_NOTE =
  'Did FlexiDepth keep the quality of full depth? Per suite, on its primary metric, over the documents both finished: kept when the 95% interval of the paired difference (FlexiDepth \u2212 full, bootstrap over documents) holds 0, lower or higher when it lies below or above 0, cannot tell when it holds 0 and both score near 0. ' +
  'Layers used: mean per generated token at the producing position, with a cluster-bootstrap interval over samples.';

export const CLAIMS_NOTE =
  'A claim holds when the 95% interval of the difference it predicts lies above 0, is reversed when it lies below 0, and is not shown when the interval holds 0. ' +
  'The orderings compare layers used per generated token between suites (summarization pools XSum and CNN/DM); the equation claim compares the operand digits of the arithmetic prompts with the result digits generated, each resampled over documents on its own.';

const score = (v: number): string => v.toFixed(3);

/** The verdict on one paired difference, and its words. */
export function qualityVerdict(metric: string, flexidepth: number, full: number, d: Estimate, n: number): { verdict: QualityVerdict; because: string } {
  const [lo, hi] = d.ci95;
  const numbers = `${metric} ${score(flexidepth)} against ${score(full)} at full depth, difference ${signed(d.mean, 3)} [${score(lo)}, ${score(hi)}] over ${n} documents`;
  if (hi < 0) return { verdict: 'lower', because: numbers };
  if (lo > 0) return { verdict: 'higher', because: numbers };
  if (Math.abs(full) < RETENTION_BASELINE_FLOOR && Math.abs(flexidepth) < RETENTION_BASELINE_FLOOR) {
    return { verdict: 'cannot tell', because: `both score near 0, so this suite cannot show a loss here: ${numbers}` };
  }
  const bound = lo < 0 ? `; a loss of up to ${score(-lo)} is not ruled out` : '';
  return { verdict: 'kept', because: `${numbers}, an interval that holds 0${bound}` };
}

function suiteAnswer(data: ReportData, r: ResultRow, metric: string | null): SuiteAnswer {
  const pair = data.summary.paired.find((p) => p.study === r.study && p.flexidepth_run_id === r.run_id && p.metric === metric);
  if (metric === null || pair === undefined) {
    return { suite: r.suite, metric, verdict: 'not paired', because: 'no full run of this suite, model and precision finished the same documents', result: r };
  }
  return { suite: r.suite, metric, ...qualityVerdict(metric, pair.flexidepth_mean, pair.full_mean, pair.flexidepth_minus_full, pair.n), result: r };
}

const named = (answers: readonly SuiteAnswer[]): string => (answers.length === 0 ? '' : ` (${answers.map((a) => a.suite).join(', ')})`);

/** "kept quality on 6 of 9 suites, lower on 1 (xsum), cannot tell on 2 (gsm8k, gsm8k-chat); 7.54 (repetition) to 10.16 (gsm8k) of 12 layers per generated token" */
export function seriesSentence(answers: readonly SuiteAnswer[]): string {
  const of = (v: QualityVerdict) => answers.filter((a) => a.verdict === v);
  const parts = [`kept quality on ${of('kept').length} of ${answers.length} suites`];
  for (const v of ['lower', 'higher', 'cannot tell'] as const) if (of(v).length > 0) parts.push(`${v} on ${of(v).length}${named(of(v))}`);
  if (of('not paired').length > 0) parts.push(`${of('not paired').length} not paired${named(of('not paired'))}`);
  const used = answers
    .filter((a) => a.result.layers_used_mean !== null)
    .sort((a, b) => (a.result.layers_used_mean as number) - (b.result.layers_used_mean as number));
  const least = used[0];
  const most = used[used.length - 1];
  const layers =
    least === undefined || most === undefined
      ? 'no generated tokens'
      : least === most
        ? `${(least.result.layers_used_mean as number).toFixed(2)} of ${least.result.layers_total} layers per generated token`
        : `${(least.result.layers_used_mean as number).toFixed(2)} (${least.suite}) to ${(most.result.layers_used_mean as number).toFixed(2)} (${most.suite}) of ${most.result.layers_total} layers per generated token`;
  return `${parts.join(', ')}; ${layers}`;
}

/** One headline per FlexiDepth series, in the summary's order. */
export function headlines(data: ReportData): SeriesHeadline[] {
  const metrics = primaryMetrics(data.summary);
  const bySeries = new Map<string, SuiteAnswer[]>();
  for (const r of data.summary.results.filter((x) => x.variant === 'flexidepth')) {
    const series = data.seriesOf(r.study, r.run_id);
    const list = bySeries.get(series) ?? [];
    list.push(suiteAnswer(data, r, metrics.get(r) ?? null));
    bySeries.set(series, list);
  }
  return [...bySeries].map(([series, suites]) => {
    const paper = data.summary.paper.find((c) => c.series === series);
    const claims: ClaimAnswer[] = paper === undefined ? [] : [...paper.orderings, paper.digits, paper.bowl].map((c) => ({ verdict: c.verdict, text: c.text }));
    return { series, sentence: seriesSentence(suites), suites, claims };
  });
}
