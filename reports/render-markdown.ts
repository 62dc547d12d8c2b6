/**
 * The Markdown form of a report (summary.md): the same tables as the HTML page, without charts.
 * Every string read from a study or a path (study labels and files, suites, series, metrics) goes
 * through reports/markdown.ts; the numbers and the words of ours go as they are.
 */
import { estimate, fixed, interval, layersUsedCell, percent, retentionCell, samplesCell } from './format.ts';
import { comparatorCells, comparatorHeader, comparatorTables, COMPARATORS_NOTE } from './comparators.ts';
import { markdownCode, markdownTable as mdTable, markdownText as text } from './markdown.ts';
import { PAPER_LAYERS_TOTAL, PAPER_MODEL } from './paper.ts';
import { PRECISION_NOTE, precisionCells, precisionHeader, precisionTables, precisionTextCells } from './precision-tables.ts';
import type { ReportData } from './report-data.ts';
import { answerPartPoints, layerUsagePoints } from './report-views.ts';
import { BOWL_RULE } from './bowl.ts';
import { CLAIMS_NOTE, headlines, HEADLINE_NOTE } from './headline.ts';

/** The answer, first, as the HTML page's "At a glance" gives it. */
function headlineSection(data: ReportData): string[] {
  const series = headlines(data);
  if (series.length === 0) return ['## At a glance', '', 'No FlexiDepth runs in this study: nothing to compare with full depth.'];
  return [
    '## At a glance',
    '',
    HEADLINE_NOTE,
    ...series.flatMap((h) => [
      '',
      `**${text(h.series)}** ${text(h.sentence)}.`,
      '',
      mdTable(
        ['suite', 'quality', 'what it rests on', 'layers used [95% CI]'],
        h.suites.map((a) => [text(a.suite), `**${a.verdict}**`, text(a.because), layersUsedCell(a.result)]),
      ),
      // The claims' words and task names are ours, as in the paper section below.
      ...(h.claims.length === 0 ? [] : ['', 'The paper\u2019s claims, measured here:', '', ...h.claims.map((c) => `- ${c.text}`)]),
    ]),
    '',
    `${CLAIMS_NOTE} ${BOWL_RULE}`,
  ];
}

function layerUsageTable(data: ReportData): string {
  const points = layerUsagePoints(data);
  const layers = [...new Set(points.map((p) => p.layer))].sort((a, b) => a - b);
  const keys = [...new Set(points.map((p) => `${p.series}\u0000${p.suite}`))];
  const rows = keys.map((k) => {
    const [series, suite] = k.split('\u0000') as [string, string];
    return [
      text(series),
      text(suite),
      ...layers.map((l) => percent(points.find((p) => p.series === series && p.suite === suite && p.layer === l)?.usage ?? null, 0)),
    ];
  });
  return mdTable(['series', 'suite', ...layers.map((l) => `layer ${l}`)], rows);
}

/** Each lower weight precision beside fp32; nothing when no study ran several precisions. */
function precisionSection(data: ReportData): string[] {
  const tables = precisionTables(data);
  if (tables.length === 0) return [];
  return [
    '',
    '## Precision',
    ...tables.flatMap((t) => {
      const fromData = precisionTextCells(t.multiModel);
      return [
        ...(t.title === '' ? [] : ['', `### ${text(t.title)}`]),
        '',
        t.rows.length === 0
          ? 'No run at another precision has an fp32 run of the same suite, variant and threshold.'
          : mdTable(
              precisionHeader(t.multiModel),
              t.rows.map((r) => precisionCells(r, t.multiModel).map((c, i) => (fromData.has(i) ? text(c) : c))),
            ),
      ];
    }),
    '',
    PRECISION_NOTE,
  ];
}

/** The paper's Table 1 (the HTML page adds a quality-versus-layers chart); nothing without comparator runs. */
function comparatorsSection(data: ReportData): string[] {
  const tables = comparatorTables(data);
  if (tables.length === 0) return [];
  return [
    '',
    '## Against budget-matched comparators (the paper\u2019s Table 1)',
    ...tables.flatMap((t) => [
      '',
      `### ${text(t.title)}`,
      '',
      // The method names the variant as the study stores it; the other cells are numbers.
      mdTable(
        comparatorHeader(text(t.metric)),
        t.rows.map((r) => [text(r.method), ...comparatorCells(r).slice(1)]),
      ),
    ]),
    '',
    COMPARATORS_NOTE,
  ];
}

export function renderMarkdown(data: ReportData, generatedAt: string): string {
  const s = data.summary;
  const out = [
    `# flexibench report: ${s.study.dbs.map((d) => text(d.label)).join(', ')}`,
    '',
    `Written ${generatedAt} from ${s.study.dbs.map((d) => markdownCode(d.db)).join(', ')} (${s.study.runs.length} runs). Intervals are bootstrap 95% intervals over samples; layers used are per generated token at the producing position.`,
    '',
    ...headlineSection(data),
    '',
    '## Scores',
    '',
    mdTable(
      ['suite', 'series', 'n', 'metrics: mean [95% CI]', 'layers used', 'routed usage'],
      s.results.map((r) => [
        text(r.suite),
        text(data.seriesOf(r.study, r.run_id)),
        samplesCell(r),
        Object.entries(r.metrics)
          .map(([n, m]) => `${text(n)} ${estimate(m)}`)
          .join('; ') || '-',
        layersUsedCell(r),
        percent(r.routed_usage),
      ]),
    ),
    '',
    mdTable(
      ['suite', 'series', 'metric', 'pairs', 'FlexiDepth − full [95% CI]', 'retention'],
      s.paired.map((p) => [
        text(p.suite),
        text(data.seriesOf(p.study, p.flexidepth_run_id)),
        text(p.metric),
        String(p.n),
        estimate(p.flexidepth_minus_full),
        retentionCell(p.retention, p.full_mean),
      ]),
    ),
    ...precisionSection(data),
    ...comparatorsSection(data),
    '',
    `## Layers used per generated token, beside the paper (${PAPER_MODEL}, ${PAPER_LAYERS_TOTAL} layers)`,
  ];
  for (const c of s.paper) {
    out.push(
      '',
      `### ${text(c.series)}`,
      '',
      mdTable(
        ['task', 'our suites', 'ours [95% CI]', 'ours: share', 'paper', 'paper: share'],
        c.rows.map((r) => [
          r.task,
          r.suites.join(', '),
          r.ours === null ? 'not run' : `${r.ours.mean.toFixed(2)}/${c.layers_total} ${interval(r.ours.ci95, 2)}`,
          r.ours === null ? '-' : percent(r.ours.share),
          `${r.paper_layers.toFixed(2)}/${PAPER_LAYERS_TOTAL}`,
          percent(r.paper_share),
        ]),
      ),
      '',
      ...c.orderings.map((o) => `- ${o.text} (paper: +${o.paper_difference.toFixed(2)})`),
      `- ${c.digits.text}`,
      `- ${c.bowl.text}`,
    );
  }
  out.push('', '## Per-layer usage over the routed layers', '', layerUsageTable(data), '', '## Where in the answer depth goes', '');
  out.push(
    mdTable(
      ['suite', 'series', 'part', 'mean layers used', 'tokens'],
      answerPartPoints(data).map((p) => [text(p.suite), text(p.series), p.part, p.layers_used.toFixed(2), String(p.tokens)]),
    ),
  );
  out.push('', '## Speed (stored timings)', '');
  out.push(
    mdTable(
      ['suite', 'series', 'prefill tok/s', 'decode tok/s'],
      s.results.map((r) => [text(r.suite), text(data.seriesOf(r.study, r.run_id)), fixed(r.prefill_tokens_per_s, 1), fixed(r.decode_tokens_per_s, 1)]),
    ),
  );
  return `${out.join('\n')}\n`;
}
