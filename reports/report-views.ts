/**
 * The rows each part of a report shows, derived once from the report data so the HTML charts, the
 * HTML tables and the Markdown show the same numbers.
 */
import type { AnswerPartPoint, DepthSharePoint, DifferencePoint, LayersUsedPoint, LayerUsagePoint, SpeedPoint } from './charts.ts';
import { PAPER_LAYERS_TOTAL, PAPER_MODEL, PAPER_TASKS } from './paper.ts';
import { answerParts, depthDistribution, type DepthDoc } from './patterns.ts';
import type { ReportData } from './report-data.ts';

export const PAPER_SOURCE = `paper (${PAPER_MODEL}, ${PAPER_LAYERS_TOTAL} layers)`;

export function layersUsedPoints(data: ReportData): LayersUsedPoint[] {
  const paper = PAPER_TASKS.map((t) => ({
    task: t.task,
    source: PAPER_SOURCE,
    share: t.paper / PAPER_LAYERS_TOTAL,
    lo: null,
    hi: null,
    label: `${t.paper.toFixed(2)}/${PAPER_LAYERS_TOTAL}`,
  }));
  const ours = data.summary.paper.flatMap((c) =>
    c.rows.flatMap((r) =>
      r.ours === null
        ? []
        : [
            {
              task: r.task,
              source: c.series,
              share: r.ours.share,
              lo: r.ours.ci95[0] / c.layers_total,
              hi: r.ours.ci95[1] / c.layers_total,
              label: `${r.ours.mean.toFixed(2)}/${c.layers_total}`,
            },
          ],
    ),
  );
  return [...ours, ...paper];
}

/** FlexiDepth runs only: full runs use every layer. */
function flexRuns(data: ReportData) {
  return data.summary.results.filter((r) => r.variant === 'flexidepth');
}

export function layerUsagePoints(data: ReportData): LayerUsagePoint[] {
  return flexRuns(data).flatMap((r) =>
    (r.routed_layer_usage ?? []).map((u) => ({ series: data.seriesOf(r.study, r.run_id), suite: r.suite, layer: u.layer, usage: u.usage })),
  );
}

export function depthSharePoints(data: ReportData): DepthSharePoint[] {
  return data.studies.flatMap((s) => {
    const dist = depthDistribution(s.patterns);
    return s.inputs.runs
      .filter((r) => r.variant === 'flexidepth')
      .flatMap((r) =>
        (dist.get(r.run_id) ?? []).map((d) => ({ series: data.seriesOf(s.label, r.run_id), suite: r.suite, layers_used: d.layers_used, share: d.share })),
      );
  });
}

export function answerPartPoints(data: ReportData): AnswerPartPoint[] {
  return data.studies.flatMap((s) => {
    const parts = answerParts(s.patterns, (runId) => data.runOf(s.label, runId).suite);
    return [...parts].flatMap(([runId, list]) =>
      list.map((p) => ({
        series: data.seriesOf(s.label, runId),
        suite: data.runOf(s.label, runId).suite,
        part: p.part,
        order: p.order,
        layers_used: p.layers_used_mean,
        tokens: p.tokens,
      })),
    );
  });
}

export function speedPoints(data: ReportData): SpeedPoint[] {
  return data.summary.results.flatMap((r) => {
    const series = data.seriesOf(r.study, r.run_id);
    const out: SpeedPoint[] = [];
    if (r.prefill_tokens_per_s !== null) out.push({ series, suite: r.suite, phase: 'prefill', tokens_per_s: r.prefill_tokens_per_s });
    if (r.decode_tokens_per_s !== null) out.push({ series, suite: r.suite, phase: 'decode', tokens_per_s: r.decode_tokens_per_s });
    return out;
  });
}

export function differencePoints(data: ReportData): DifferencePoint[] {
  return data.summary.paired.map((p) => ({
    series: data.seriesOf(p.study, p.flexidepth_run_id),
    item: `${p.suite} \u00b7 ${p.metric}`,
    mean: p.flexidepth_minus_full.mean,
    lo: p.flexidepth_minus_full.ci95[0],
    hi: p.flexidepth_minus_full.ci95[1],
  }));
}

export interface DepthMapGroup {
  suite: string;
  series: string;
  study: string;
  runId: string;
  docs: DepthDoc[];
}

/** Depth-map samples grouped by suite, then series. */
export function depthMapGroups(data: ReportData): DepthMapGroup[] {
  const groups = new Map<string, DepthMapGroup>();
  for (const s of data.studies) {
    for (const d of s.patterns.depthMaps) {
      const key = `${s.label}\u0000${d.doc.run_id}`;
      let g = groups.get(key);
      if (g === undefined) {
        groups.set(
          key,
          (g = { suite: data.runOf(s.label, d.doc.run_id).suite, series: data.seriesOf(s.label, d.doc.run_id), study: s.label, runId: d.doc.run_id, docs: [] }),
        );
      }
      g.docs.push(d);
    }
  }
  return [...groups.values()].sort((a, b) => a.suite.localeCompare(b.suite) || a.series.localeCompare(b.series));
}
