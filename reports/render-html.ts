/**
 * The report page: one self-contained HTML file (inline style and SVG, no script, no external
 * resource), so it opens from disk and can be mailed or archived as is.
 */
import type { TopLevelSpec } from 'vega-lite';
import {
  answerPartsChart,
  depthDistributionChart,
  differenceChart,
  layersUsedChart,
  layerUsageChart,
  qualityLayersChart,
  renderSvg,
  speedChart,
} from './charts.ts';
import { comparatorCells, comparatorHeader, comparatorTables, COMPARATORS_NOTE, qualityLayersPoints } from './comparators.ts';
import { depthLegendHtml, depthMapHtml, type DepthScale } from './depth-map.ts';
import { estimate, fixed, interval, layersUsedCell, percent, retentionCell, samplesCell, variantLabel } from './format.ts';
import { BOWL_RULE } from './bowl.ts';
import { CLAIMS_NOTE, headlines, HEADLINE_NOTE, type QualityVerdict } from './headline.ts';
import { escapeHtml, htmlTable } from './html.ts';
import { PAPER_LAYERS_TOTAL, PAPER_MODEL } from './paper.ts';
import { PRECISION_NOTE, precisionCells, precisionHeader, precisionNumericCells, precisionTables } from './precision-tables.ts';
import type { ReportData } from './report-data.ts';
import {
  answerPartPoints,
  depthMapGroups,
  depthSharePoints,
  differencePoints,
  layersUsedPoints,
  layerUsagePoints,
  PAPER_SOURCE,
  speedPoints,
} from './report-views.ts';

/** Marks the page as flexibench's own output (a report folder holding it may be replaced). */
export const GENERATOR_META = '<meta name="generator" content="flexibench report">';

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1180px; padding: 0 24px 48px; color: #1b1f24; }
h1 { font-size: 22px; margin: 24px 0 4px; } h2 { font-size: 18px; margin: 36px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 6px; } nav a { margin-right: 12px; } .note { color: #57606a; max-width: 900px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; } th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure.chart { margin: 8px 0 16px; } figure.chart svg { display: block; max-width: 100%; height: auto; }
.wide { overflow-x: auto; max-width: 100%; } h1, h2, h3, h4, p, li { overflow-wrap: anywhere; } .answer { font-size: 15px; } .holds { color: #1a7f37; } .reversed { color: #cf222e; } .unclear { color: #9a6700; }
.depthmap { margin: 6px 0 12px; } .depthmap p { margin: 2px 0; line-height: 1.9; font-family: ui-monospace, monospace; font-size: 12.5px; white-space: pre-wrap; }
.tok { padding: 1px 0; border-radius: 2px; } .tok.prompt { border-bottom: 2px dotted #8c959f; } .tok.generated { border-bottom: 2px solid #1b1f24; }
.boundary { color: #cf222e; font-weight: bold; padding: 0 4px; } .docid, .cut { color: #57606a; font-size: 12px; } .legend .tok { padding: 1px 5px; margin-right: 1px; }
details pre { background: #f6f8fa; padding: 8px; overflow-x: auto; font-size: 12px; }
.fields { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 0 16px; } .fields code { overflow-wrap: anywhere; }
`;

async function chart(name: string, spec: TopLevelSpec, caption: string): Promise<string> {
  return `<figure class="chart" data-chart="${name}">${await renderSvg(spec)}<figcaption class="note">${escapeHtml(caption)}</figcaption></figure>`;
}

const QUALITY_CLASS: Record<QualityVerdict, string> = { kept: 'holds', higher: 'holds', lower: 'reversed', 'cannot tell': 'unclear', 'not paired': 'unclear' };

/** The answer, first: per FlexiDepth series, quality kept or not per suite, layers used, the paper's claims. */
function headlineSection(data: ReportData): string {
  const series = headlines(data);
  const parts = ['<section id="headline">', '<h2>At a glance</h2>'];
  if (series.length === 0) return [...parts, '<p>No FlexiDepth runs in this study: nothing to compare with full depth.</p>', '</section>'].join('\n');
  parts.push(`<p class="note">${escapeHtml(HEADLINE_NOTE)}</p>`);
  for (const h of series) {
    parts.push(
      `<p class="answer"><strong>${escapeHtml(h.series)}</strong> ${escapeHtml(h.sentence)}.</p>`,
      htmlTable(
        ['suite', 'quality', 'what it rests on', 'layers used per generated token [95% CI]'],
        h.suites.map((a) => [
          escapeHtml(a.suite),
          `<strong class="${QUALITY_CLASS[a.verdict]}">${escapeHtml(a.verdict)}</strong>`,
          escapeHtml(a.because),
          layersUsedCell(a.result),
        ]),
        new Set([3]),
      ),
    );
    if (h.claims.length > 0) {
      parts.push(
        '<p>The paper\u2019s claims, measured here:</p>',
        '<ul class="claims">',
        ...h.claims.map((c) => `<li class="${verdictClass(c.verdict)}">${escapeHtml(c.text)}</li>`),
        '</ul>',
      );
    }
  }
  parts.push(`<p class="note">${escapeHtml(CLAIMS_NOTE)} ${escapeHtml(BOWL_RULE)}</p>`, '</section>');
  return parts.join('\n');
}

function scoresSection(data: ReportData): string {
  const rows = data.summary.results.map((r) => [
    escapeHtml(r.suite),
    escapeHtml(data.seriesOf(r.study, r.run_id)),
    samplesCell(r),
    Object.entries(r.metrics)
      .map(([name, m]) => `${escapeHtml(name)} ${estimate(m)}`)
      .join('<br>') || '-',
    layersUsedCell(r),
    percent(r.routed_usage),
  ]);
  const paired = data.summary.paired.map((p) => [
    escapeHtml(p.suite),
    escapeHtml(data.seriesOf(p.study, p.flexidepth_run_id)),
    escapeHtml(p.metric),
    String(p.n),
    p.flexidepth_mean.toFixed(3),
    p.full_mean.toFixed(3),
    estimate(p.flexidepth_minus_full),
    retentionCell(p.retention, p.full_mean),
  ]);
  const failures = data.summary.study.runs.flatMap((r) =>
    r.errors.map((e) => [escapeHtml(r.suite), escapeHtml(data.seriesOf(r.study, r.run_id)), String(e.count), escapeHtml(e.reason)]),
  );
  return [
    '<h2 id="scores">Scores</h2>',
    failures.length > 0
      ? `<p><strong>Failed samples</strong> are not scored:</p>${htmlTable(['suite', 'series', 'samples', 'reason'], failures, new Set([2]))}`
      : '',
    '<p class="note">Mean per suite and variant with a percentile bootstrap 95% interval over samples (seeded); the paired difference resamples the same documents for both variants. Retention = FlexiDepth mean / full mean.</p>',
    htmlTable(['suite', 'series', 'n', 'metrics: mean [95% CI]', 'layers used per generated token [95% CI]', 'routed usage'], rows, new Set([2, 4, 5])),
    paired.length > 0
      ? htmlTable(['suite', 'series', 'metric', 'pairs', 'FlexiDepth', 'full', 'FlexiDepth − full [95% CI]', 'retention'], paired, new Set([3, 4, 5, 6, 7]))
      : '<p>No FlexiDepth run has a comparable full run.</p>',
  ].join('\n');
}

/** Each lower weight precision beside fp32; nothing when no study ran several precisions. */
function precisionSection(data: ReportData): string {
  const tables = precisionTables(data);
  if (tables.length === 0) return '';
  const parts = ['<h2 id="precision">Precision</h2>'];
  for (const t of tables) {
    parts.push(
      t.title === '' ? '' : `<h3>${escapeHtml(t.title)}</h3>`,
      `<div data-table="precision" data-study="${escapeHtml(t.study)}">`,
      t.rows.length === 0
        ? '<p>No run at another precision has an fp32 run of the same suite, variant and threshold.</p>'
        : htmlTable(
            precisionHeader(t.multiModel),
            t.rows.map((r) => precisionCells(r, t.multiModel).map(escapeHtml)),
            precisionNumericCells(t.multiModel),
          ),
      '</div>',
    );
  }
  parts.push(`<p class="note">${escapeHtml(PRECISION_NOTE)}</p>`);
  return parts.join('\n');
}

/** The paper's Table 1 beside a quality-versus-layers chart; nothing when no study has a comparator run. */
async function comparatorsSection(data: ReportData): Promise<string> {
  const tables = comparatorTables(data);
  if (tables.length === 0) return '';
  const parts = ['<h2 id="comparators">Against budget-matched comparators (the paper\u2019s Table 1)</h2>'];
  for (const t of tables) {
    parts.push(
      `<h3>${escapeHtml(t.title)}</h3>`,
      `<div data-table="comparators" data-suite="${escapeHtml(t.suite)}">`,
      htmlTable(
        comparatorHeader(t.metric),
        t.rows.map((r) => comparatorCells(r).map(escapeHtml)),
        new Set([1, 2, 3, 4]),
      ),
      '</div>',
    );
  }
  parts.push(
    `<p class="note">${escapeHtml(COMPARATORS_NOTE)}</p>`,
    await chart(
      'quality-layers',
      qualityLayersChart(qualityLayersPoints(tables)),
      'Primary metric (mean, 95% CI) against mean layers used per generated token; the line joins FlexiDepth\u2019s thresholds (labelled).',
    ),
  );
  return parts.join('\n');
}

function verdictClass(v: string): string {
  return v === 'holds' ? 'holds' : v === 'reversed' ? 'reversed' : 'unclear';
}

async function paperSection(data: ReportData): Promise<string> {
  const parts = [
    '<h2 id="paper">Layers used per generated token, beside the paper</h2>',
    `<p class="note">Ours: mean layers used per generated token at the producing position (the pass that produced the token), pooled over a suite's samples, with a cluster-bootstrap 95% interval over samples; summarization pools XSum and CNN/DM. The paper: FlexiDepth on ${PAPER_MODEL} (docs/method.md). Shares make models of different depth comparable.</p>`,
  ];
  if (data.summary.paper.length === 0) return [...parts, '<p>No FlexiDepth runs in this study.</p>'].join('\n');
  for (const c of data.summary.paper) {
    const rows = c.rows.map((r) => [
      r.family,
      escapeHtml(r.task),
      escapeHtml(r.suites.join(', ')),
      r.ours === null ? 'not run' : `${r.ours.mean.toFixed(2)}/${c.layers_total} ${interval(r.ours.ci95, 2)}`,
      r.ours === null ? '-' : percent(r.ours.share),
      `${r.paper_layers.toFixed(2)}/${PAPER_LAYERS_TOTAL}`,
      percent(r.paper_share),
    ]);
    parts.push(
      `<h3>${escapeHtml(c.series)}</h3>`,
      htmlTable(
        ['family', 'task', 'our suites', 'ours: layers used [95% CI]', 'ours: share', `paper (${PAPER_MODEL})`, 'paper: share'],
        rows,
        new Set([3, 4, 5, 6]),
      ),
    );
    parts.push(
      '<ul class="orderings">',
      ...c.orderings.map(
        (o) => `<li class="${verdictClass(o.verdict)}">${escapeHtml(o.text)} (paper: +${o.paper_difference.toFixed(2)} of ${PAPER_LAYERS_TOTAL})</li>`,
      ),
      '</ul>',
    );
  }
  const tasks = data.summary.paper[0]?.rows.map((r) => r.task) ?? [];
  parts.push(
    await chart(
      'layers-used',
      layersUsedChart(layersUsedPoints(data), tasks, PAPER_SOURCE),
      `Share of the model's layers used per generated token; black rules are our 95% intervals; "${PAPER_SOURCE}" is the paper's table.`,
    ),
  );
  return parts.join('\n');
}

async function layerUsageSection(data: ReportData): Promise<string> {
  const points = layerUsagePoints(data);
  const head = [
    '<h2 id="layer-usage">Per-layer usage over the routed layers</h2>',
    '<p class="note">Share of generated tokens whose producing pass ran each routed layer, one line per suite. The paper finds a bowl: the first and last routed layers run for more tokens than the middle ones.</p>',
  ];
  if (points.length === 0) return [...head, '<p>No FlexiDepth tokens.</p>'].join('\n');
  const checks = data.summary.paper.flatMap((c) => [
    `<h3>${escapeHtml(c.series)}: ${escapeHtml(c.bowl.text)}</h3>`,
    '<ul class="claims">',
    ...c.bowl_by_suite.map((b) => `<li class="${verdictClass(b.check.verdict)}">${escapeHtml(b.suite)}: ${escapeHtml(b.check.text)}</li>`),
    '</ul>',
  ]);
  return [
    ...head,
    await chart('layer-usage', layerUsageChart(points), 'Per-layer usage; layers before the first routed layer run for every token.'),
    ...checks,
    `<p class="note">${escapeHtml(BOWL_RULE)}</p>`,
  ].join('\n');
}

async function distributionSection(data: ReportData): Promise<string> {
  const points = depthSharePoints(data);
  const head = ['<h2 id="distribution">Distribution of layers used per generated token</h2>'];
  if (points.length === 0) return [...head, '<p>No FlexiDepth tokens.</p>'].join('\n');
  const total = Math.max(...data.summary.results.map((r) => r.layers_total));
  return [
    ...head,
    await chart('depth-distribution', depthDistributionChart(points, total), 'Share of a suite\u2019s generated tokens at each depth (producing position).'),
  ].join('\n');
}

function depthMapsSection(data: ReportData): string {
  const groups = depthMapGroups(data);
  const parts = [
    '<h2 id="depth-maps">Token depth maps</h2>',
    '<p class="note">The first samples of each suite, every token shaded by the layers used by the pass that produced it (darker = more layers; the first token has no producing pass). Dotted underline: prompt; solid: generated; \u25b8 marks where generation starts. The title of each token (hover) lists the producing pass\u2019s gates per routed layer.</p>',
  ];
  if (groups.length === 0) return [...parts, '<p>No FlexiDepth samples.</p>'].join('\n');
  for (const g of groups) {
    const run = data.runOf(g.study, g.runId);
    const scale: DepthScale = { min: run.layers_total - run.routing_layers.length, max: run.layers_total, routingLayers: run.routing_layers };
    parts.push(`<h3>${escapeHtml(g.suite)} \u00b7 ${escapeHtml(g.series)}</h3>`, depthLegendHtml(scale), ...g.docs.map((d) => depthMapHtml(d, scale)));
  }
  return parts.join('\n');
}

async function answerDepthSection(data: ReportData): Promise<string> {
  const points = answerPartPoints(data);
  const head = [
    '<h2 id="answer-depth">Where in the answer depth goes</h2>',
    '<p class="note">Mean layers used (producing position) on each part of the text. Arithmetic: operand digits and other prompt tokens, then each answer digit by its place. Copy: tokens generated while the output is still the source passage, and the rest. The paper finds more layers on result digits than on the left-hand side.</p>',
  ];
  if (points.length === 0) return [...head, '<p>No FlexiDepth runs of the arithmetic or copy suites.</p>'].join('\n');
  const rows = points.map((p) => [escapeHtml(p.suite), escapeHtml(p.series), escapeHtml(p.part), p.layers_used.toFixed(2), String(p.tokens)]);
  return [
    ...head,
    '<ul class="claims">',
    ...data.summary.paper.map((c) => `<li class="${verdictClass(c.digits.verdict)}">${escapeHtml(c.series)}: ${escapeHtml(c.digits.text)}</li>`),
    '</ul>',
    await chart('answer-depth', answerPartsChart(points), 'Mean layers used per part.'),
    htmlTable(['suite', 'series', 'part', 'mean layers used', 'tokens'], rows, new Set([3, 4])),
  ].join('\n');
}

async function speedSection(data: ReportData): Promise<string> {
  const rows = data.summary.results.map((r) => [
    escapeHtml(r.suite),
    escapeHtml(data.seriesOf(r.study, r.run_id)),
    fixed(r.prefill_tokens_per_s, 1),
    fixed(r.decode_tokens_per_s, 1),
    String(r.generated_tokens),
  ]);
  return [
    '<h2 id="speed">Speed</h2>',
    '<p class="note">Tokens per second from the stored per-sample timings (prompt tokens / prefill time, generated tokens / decode time), as the study ran them: concurrent workers on a shared machine. For a speed claim use <code>flexibench bench</code> (interleaved A/B, medians).</p>',
    await chart('speed', speedChart(speedPoints(data)), 'Prefill and decode tokens per second per suite.'),
    htmlTable(['suite', 'series', 'prefill tok/s', 'decode tok/s', 'generated tokens'], rows, new Set([2, 3, 4])),
  ].join('\n');
}

/** An object's fields as a two-column table, `title` over the names; nested values as compact JSON. */
function fieldsTable(title: string, value: unknown): string {
  const entries = value !== null && typeof value === 'object' ? Object.entries(value) : [['value', value] as const];
  return htmlTable(
    [title, ''],
    entries.map(([k, v]) => [escapeHtml(k), `<code>${escapeHtml(typeof v === 'string' ? v : JSON.stringify(v))}</code>`]),
  );
}

function metadataSection(data: ReportData): string {
  const parts = ['<h2 id="metadata">Run metadata</h2>'];
  for (const db of data.summary.study.dbs) {
    const runs = data.summary.study.runs.filter((r) => r.study === db.label);
    const models = [...new Map(runs.map((r) => [r.model_hash, r.model_dir])).entries()];
    const rows = runs.map((r) => [
      `<code>${escapeHtml(r.run_id)}</code>`,
      escapeHtml(r.suite),
      escapeHtml(variantLabel(r.variant, r.threshold, r)),
      `<code title="${escapeHtml(r.model_hash)}">${escapeHtml(r.model_hash.slice(0, 12))}</code>`,
      `<code title="${escapeHtml(r.suite_config_hash)}">${escapeHtml(r.suite_config_hash.slice(0, 12))}</code>`,
      String(r.seed),
      r.limit === null ? 'all' : String(r.limit),
      `${r.n_done}${r.n_error > 0 ? ` (+${r.n_error} failed)` : ''}`,
      escapeHtml(r.started_at.slice(0, 19).replace('T', ' ')),
      escapeHtml(r.ended_at === null ? 'not finished' : r.ended_at.slice(0, 19).replace('T', ' ')),
    ]);
    const first = runs[0];
    parts.push(
      `<h3>${escapeHtml(db.label)}: <code>${escapeHtml(db.db)}</code> (schema version ${db.schema_version})</h3>`,
      `<p>${models.map(([hash, dir]) => `model <code>${escapeHtml(dir)}</code>, content hash <code>${escapeHtml(hash)}</code>`).join('<br>')}</p>`,
      first === undefined
        ? ''
        : `<p>git revision <code>${escapeHtml(first.git_revision ?? 'unknown')}</code> \u00b7 execution provider ${escapeHtml(first.execution_provider)}</p>` +
            `<div class="fields">${fieldsTable('threads', first.threads)}${fieldsTable('versions', first.package_versions)}${fieldsTable('hardware', first.hardware)}</div>`,
      htmlTable(['run', 'suite', 'variant', 'model hash', 'suite config hash', 'seed', 'limit', 'done', 'started (UTC)', 'ended (UTC)'], rows),
      '<details><summary>suite configs</summary>',
      ...[...new Map(runs.map((r) => [r.suite_config_hash, r])).values()].map(
        (r) =>
          `<h4>${escapeHtml(r.suite)} <code>${escapeHtml(r.suite_config_hash)}</code></h4><pre>${escapeHtml(JSON.stringify(r.suite_config, null, 2))}</pre>`,
      ),
      '</details>',
    );
  }
  return parts.join('\n');
}

export async function renderHtml(data: ReportData, generatedAt: string): Promise<string> {
  const studies = data.summary.study.dbs.map((d) => d.label).join(', ');
  const comparators = await comparatorsSection(data);
  const precision = precisionSection(data);
  const sections = [
    headlineSection(data),
    scoresSection(data),
    await differencesChart(data),
    precision,
    comparators,
    await paperSection(data),
    await layerUsageSection(data),
    await distributionSection(data),
    depthMapsSection(data),
    await answerDepthSection(data),
    await speedSection(data),
    metadataSection(data),
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
${GENERATOR_META}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>flexibench report: ${escapeHtml(studies)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>FlexiDepth against full depth: ${escapeHtml(studies)}</h1>
<p class="note">${data.summary.study.runs.length} runs \u00b7 written ${escapeHtml(generatedAt)} by <code>flexibench report</code> \u00b7 summary.json and summary.md beside this file hold the same numbers.</p>
<nav><a href="#headline">at a glance</a><a href="#scores">scores</a>${precision === '' ? '' : '<a href="#precision">precision</a>'}${comparators === '' ? '' : '<a href="#comparators">comparators</a>'}<a href="#paper">paper table</a><a href="#layer-usage">per-layer usage</a><a href="#distribution">distribution</a><a href="#depth-maps">depth maps</a><a href="#answer-depth">answer depth</a><a href="#speed">speed</a><a href="#metadata">metadata</a></nav>
${sections.join('\n')}
</body>
</html>
`;
}

async function differencesChart(data: ReportData): Promise<string> {
  const points = differencePoints(data);
  if (points.length === 0) return '';
  return chart('differences', differenceChart(points), 'Paired FlexiDepth \u2212 full difference per suite and metric; the dashed line is no difference.');
}
