/**
 * The terminal form of a report: one line per run on its suite's primary metric, then the failed
 * and truncated samples and the paper's claims on layers used. Strings read from a study or a path
 * are printed with their control characters shown as escapes (src/control-chars.ts): the table
 * cells all, and each free line's stored parts.
 *
 * The table fits the width it is given (a terminal's columns; 80 where they cannot be known). One
 * metric per suite keeps a row short; every metric, interval and comparison is in the report
 * (summary.md, index.html, `report --json`). Where the table is still too wide it gives up first
 * what the report has anyway (speeds, routed share, intervals), then shortens names. Lines naming a
 * path or a failure's reason are left whole: cut, they could no longer be copied.
 */
import { escapeControlChars as shown } from '../src/control-chars.ts';
import type { Estimate } from '../src/scoring/bootstrap.ts';
import { primaryMetrics } from './comparators.ts';
import { estimate, fixed, percent, variantLabel } from './format.ts';
import type { ReportSummary } from './report-data.ts';
import type { ResultRow } from './summary.ts';

/** The width rendered for when the output is not a terminal (a pipe, a file). */
export const DEFAULT_WIDTH = 80;

/** The width to render for on `stream`: its columns when it is a terminal, else DEFAULT_WIDTH. */
export function terminalWidth(stream: { isTTY?: boolean; columns?: number } = process.stdout): number {
  return stream.isTTY === true && typeof stream.columns === 'number' && stream.columns > 0 ? stream.columns : DEFAULT_WIDTH;
}

export interface TerminalOptions {
  /** Columns no line of the table may exceed; DEFAULT_WIDTH when absent. */
  width?: number;
}

const ELLIPSIS = '\u2026';
const NONE = '-';

/** Terminal columns of `text`, one per code point (cells are escaped: no control characters are left). */
const widthOf = (text: string): number => [...text].length;

const padded = (text: string, width: number): string => text + ' '.repeat(Math.max(0, width - widthOf(text)));

/**
 * `text` in at most `width` columns, a middle part given up. More of the end is kept: a variant's
 * threshold and precision are there, which is what tells its rows apart.
 */
function elided(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  if (width <= 1) return chars.slice(0, width).join('');
  const head = Math.floor((width - 1) / 3);
  const tail = width - 1 - head;
  return chars.slice(0, head).join('') + ELLIPSIS + chars.slice(chars.length - tail).join('');
}

/** The last resort, for widths too small for any table: the line cut at `width`. */
function cut(line: string, width: number): string {
  const chars = [...line];
  if (chars.length <= width) return line;
  return width <= 0 ? '' : chars.slice(0, width - 1).join('') + ELLIPSIS;
}

/** Our own prose, wrapped at spaces to `width`: `first` before the first line, `rest` before the others. */
function wrapped(text: string, width: number, first = '', rest = first): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(' ').filter((w) => w !== '')) {
    const next = empty ? `${line}${word}` : `${line} ${word}`;
    if (empty || widthOf(next) <= width) {
      line = next;
      empty = false;
      continue;
    }
    lines.push(line);
    line = `${rest}${word}`;
  }
  if (!empty) lines.push(line);
  return lines.map((l) => cut(l, width));
}

type ColumnId = 'study' | 'model' | 'suite' | 'variant' | 'n' | 'metric' | 'mean' | 'diff' | 'layers' | 'routed' | 'prefill' | 'decode';

interface Column {
  id: ColumnId;
  header: string;
  /** The header once headers are shortened. */
  short?: string;
  /** Escaped cells, one per row. */
  cells: string[];
  /** The cells without their intervals, under `compactHeader`. */
  compact?: { header: string; cells: string[] };
  /** Text from the study, shortened in the middle when nothing else is left to give up. */
  name?: boolean;
}

/**
 * What the table gives up until it fits, least missed first: what the report has anyway (the speeds
 * and the routed share, the metric's interval), long headers, a space between columns, and last the
 * difference's interval, which says whether FlexiDepth lost anything.
 */
const STAGES = ['prefill', 'routed', 'decode', 'headers', 'mean interval', 'gap', 'diff interval'] as const;
type Stage = (typeof STAGES)[number];

const DROPS: Partial<Record<Stage, ColumnId>> = { prefill: 'prefill', routed: 'routed', decode: 'decode' };
const COMPACTS: Partial<Record<Stage, ColumnId>> = { 'mean interval': 'mean', 'diff interval': 'diff' };

/** Names are not shortened below this, nor below their header. */
const MIN_NAME_WIDTH = 6;

interface Shown {
  id: ColumnId;
  header: string;
  cells: string[];
  name: boolean;
}

function shownColumns(columns: readonly Column[], given: ReadonlySet<Stage>): Shown[] {
  const dropped = new Set([...given].map((s) => DROPS[s]));
  const compact = new Set([...given].map((s) => COMPACTS[s]));
  return columns
    .filter((c) => !dropped.has(c.id))
    .map((c) => {
      const small = compact.has(c.id) ? c.compact : undefined;
      return {
        id: c.id,
        header: small?.header ?? (given.has('headers') ? (c.short ?? c.header) : c.header),
        cells: small?.cells ?? c.cells,
        name: c.name === true,
      };
    });
}

const columnWidth = (c: Shown): number => Math.max(widthOf(c.header), ...c.cells.map(widthOf));

const tableWidth = (widths: readonly number[], gap: number): number => widths.reduce((a, b) => a + b, 0) + gap * Math.max(0, widths.length - 1);

const gapOf = (given: ReadonlySet<Stage>): number => (given.has('gap') ? 1 : 2);

/** What the footnote says was left out: the dropped columns and the intervals. */
function leftOut(columns: readonly Column[], shownIds: ReadonlySet<ColumnId>, given: ReadonlySet<Stage>): string[] {
  const names = columns.filter((c) => !shownIds.has(c.id)).map((c) => c.header.replace(/ \[95% CI\]$/, ''));
  const intervals = given.has('diff interval') ? ['intervals'] : given.has('mean interval') ? ["the metric's interval"] : [];
  return [...names, ...intervals];
}

/** Narrows the name columns in `widths`, the widest first, while the table is wider than `width` and `allowed` accepts the narrower widths. */
function shrinkNames(columns: readonly Shown[], widths: number[], gap: number, width: number, allowed: (widths: readonly number[]) => boolean): void {
  const floor = columns.map((c) => (c.name ? Math.max(widthOf(c.header), MIN_NAME_WIDTH) : Infinity));
  const frozen = new Set<number>();
  while (tableWidth(widths, gap) > width) {
    let widest = -1;
    for (const [i, w] of widths.entries()) if (!frozen.has(i) && w > (floor[i] as number) && (widest < 0 || w > (widths[widest] as number))) widest = i;
    if (widest < 0) return;
    const narrower = widths.map((w, i) => (i === widest ? w - 1 : w));
    if (allowed(narrower)) widths[widest] = narrower[widest] as number;
    else frozen.add(widest);
  }
}

/** The table's lines, none wider than `width`; and what it left out to get there. */
function fittedTable(columns: readonly Column[], width: number): { lines: string[]; shown: Set<ColumnId>; left: string[] } {
  const fits = (given: ReadonlySet<Stage>): boolean => tableWidth(shownColumns(columns, given).map(columnWidth), gapOf(given)) <= width;
  const given = new Set<Stage>();
  for (const stage of STAGES) {
    if (fits(given)) break;
    given.add(stage);
  }
  // A later stage can make an earlier one needless (the difference's interval frees more than a
  // space between columns): what fits again is given back, the most missed first.
  for (const stage of [...given].reverse()) {
    given.delete(stage);
    if (!fits(given)) given.add(stage);
  }
  const gap = gapOf(given);
  const shownCols = shownColumns(columns, given);
  const widths = shownCols.map(columnWidth);
  // Then names, as long as the rows stay told apart; then whole columns from the right, rather than
  // a cell cut in the middle; then names whether or not two rows look alike.
  const names = shownCols.flatMap((c, i) => (c.name ? [i] : []));
  const rowKeys = (w: readonly number[]): number =>
    new Set((shownCols[0]?.cells ?? []).map((_, r) => names.map((i) => elided(shownCols[i]?.cells[r] as string, w[i] as number)).join('\u0000'))).size;
  const distinct = rowKeys(widths);
  shrinkNames(shownCols, widths, gap, width, (w) => rowKeys(w) === distinct);
  // The names that tell a run (study, model, suite, variant) lead; a metric's name is data like the rest.
  const leading = shownCols.findIndex((c) => !c.name);
  while (shownCols.length > Math.max(1, leading) && tableWidth(widths, gap) > width) {
    shownCols.pop();
    widths.pop();
  }
  shrinkNames(shownCols, widths, gap, width, () => true);
  const line = (cells: readonly string[]): string =>
    cut(
      cells
        .map((c, i) => padded(elided(c, widths[i] as number), widths[i] as number))
        .join(' '.repeat(gap))
        .trimEnd(),
      width,
    );
  const rows = (shownCols[0]?.cells ?? []).map((_, r) => shownCols.map((c) => c.cells[r] as string));
  return {
    lines: [line(shownCols.map((c) => c.header)), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)],
    shown: new Set(shownCols.map((c) => c.id)),
    left: leftOut(columns, new Set(shownCols.map((c) => c.id)), given),
  };
}

/** The paired difference a row shows: FlexiDepth − full on a FlexiDepth run, FlexiDepth − the comparator on a comparator's. */
function differenceOf(summary: ReportSummary, r: ResultRow, metric: string | null): Estimate | null {
  if (metric === null) return null;
  if (r.variant === 'flexidepth')
    return summary.paired.find((p) => p.study === r.study && p.flexidepth_run_id === r.run_id && p.metric === metric)?.flexidepth_minus_full ?? null;
  return summary.matched.find((m) => m.study === r.study && m.comparator_run_id === r.run_id && m.metric === metric)?.flexidepth_minus_comparator ?? null;
}

interface ResultColumns {
  columns: Column[];
  /** The one metric every row shows, named in the header; null when suites differ (a column names it). */
  metric: string | null;
}

function resultColumns(summary: ReportSummary, multiStudy: boolean, multiModel: boolean): ResultColumns {
  const rows = summary.results;
  const metrics = primaryMetrics(summary);
  const metricOf = (r: ResultRow): string | null => metrics.get(r) ?? null;
  const names = new Set(rows.map(metricOf));
  const only = names.size === 1 ? [...names][0]! : null;
  const scores = rows.map((r) => {
    const m = metricOf(r);
    return m === null ? null : (r.metrics[m] ?? null);
  });
  const diffs = rows.map((r) => differenceOf(summary, r, metricOf(r)));
  const hasDiff = diffs.some((d) => d !== null);
  const cellsOf = (f: (r: ResultRow, i: number) => string): string[] => rows.map((r, i) => shown(f(r, i)));
  const meanHeader = only === null ? 'mean' : shown(only);
  const columns: Column[] = [
    ...(multiStudy ? [{ id: 'study' as const, header: 'study', cells: cellsOf((r) => r.study), name: true }] : []),
    ...(multiModel ? [{ id: 'model' as const, header: 'model', cells: cellsOf((r) => r.model_hash.slice(0, 12)), name: true }] : []),
    { id: 'suite', header: 'suite', cells: cellsOf((r) => r.suite), name: true },
    { id: 'variant', header: 'variant', cells: cellsOf((r) => variantLabel(r.variant, r.threshold, r)), name: true },
    { id: 'n', header: 'n', cells: cellsOf((r) => (r.n_error > 0 ? `${r.n} (+${r.n_error} err)` : String(r.n))) },
    ...(only === null ? [{ id: 'metric' as const, header: 'metric', cells: cellsOf((r) => metricOf(r) ?? NONE), name: true }] : []),
    {
      id: 'mean',
      header: `${meanHeader} [95% CI]`,
      cells: cellsOf((_, i) => (scores[i] == null ? NONE : estimate(scores[i]))),
      compact: { header: meanHeader, cells: cellsOf((_, i) => fixed(scores[i]?.mean ?? null, 3)) },
    },
    ...(hasDiff
      ? [
          {
            id: 'diff' as const,
            header: 'diff [95% CI]',
            cells: cellsOf((_, i) => (diffs[i] == null ? '' : estimate(diffs[i]))),
            compact: { header: 'diff', cells: cellsOf((_, i) => (diffs[i] == null ? '' : diffs[i].mean.toFixed(3))) },
          },
        ]
      : []),
    {
      id: 'layers',
      header: 'layers used',
      short: 'layers',
      cells: cellsOf((r) => (r.layers_used_mean === null ? NONE : `${r.layers_used_mean.toFixed(2)}/${r.layers_total}`)),
    },
    { id: 'routed', header: 'routed', cells: cellsOf((r) => percent(r.routed_usage)) },
    { id: 'prefill', header: 'prefill tok/s', cells: cellsOf((r) => fixed(r.prefill_tokens_per_s, 1)) },
    { id: 'decode', header: 'decode tok/s', cells: cellsOf((r) => fixed(r.decode_tokens_per_s, 1)) },
  ];
  return { columns, metric: only };
}

/** Under the table: what its numbers are, and where the rest is. */
function footnote(summary: ReportSummary, t: ResultColumns, table: { shown: ReadonlySet<ColumnId>; left: readonly string[] }): string {
  const suites = new Set(summary.results.map((r) => `${r.study}\u0000${r.suite}`)).size;
  const metric =
    t.metric === null ? "metric: each suite's primary one." : `${shown(t.metric)}: the primary metric of ${suites === 1 ? 'the suite' : 'each suite'}.`;
  const comparators = summary.matched.length > 0 ? '; on static and random rows, flexidepth - that run' : '';
  return [
    metric,
    ...(table.shown.has('diff') ? [`diff: flexidepth - full over the documents both finished${comparators}.`] : []),
    ...(table.left.length > 0 ? [`Left out at this width: ${table.left.join(', ')}.`] : []),
    'Every metric is in the report.',
  ].join(' ');
}

export function renderTerminal(summary: ReportSummary, options: TerminalOptions = {}): string {
  const width = Math.max(1, Math.floor(options.width ?? DEFAULT_WIDTH));
  const dbs = summary.study.dbs;
  const head = dbs.map((d) => `${shown(d.db)}: ${summary.study.runs.filter((r) => r.study === d.label).length} runs, schema version ${d.schema_version}`);
  const out = [...head, ''];
  if (summary.results.length === 0) return `${out.join('\n')}no runs yet\n`;
  const multiStudy = dbs.length > 1;
  const multiModel = new Set(summary.results.map((r) => r.model_hash)).size > 1;
  const key = (r: { study: string; model_hash: string }): string[] => [...(multiStudy ? [r.study] : []), ...(multiModel ? [r.model_hash.slice(0, 12)] : [])];
  const results = resultColumns(summary, multiStudy, multiModel);
  const table = fittedTable(results.columns, width);
  out.push(...table.lines, ...wrapped(footnote(summary, results, table), width));
  const failed = summary.study.runs.filter((r) => r.n_error > 0);
  if (failed.length > 0) {
    out.push('', ...wrapped('failed samples (not scored; rerun the same command to retry them):', width));
    for (const r of failed)
      out.push(...r.errors.map((e) => `  ${shown([...key(r), r.suite, variantLabel(r.variant, r.threshold, r)].join(' '))}: ${e.count} × ${shown(e.reason)}`));
  }
  const truncated = summary.study.runs.filter((r) => r.n_truncated > 0);
  if (truncated.length > 0) {
    out.push('', ...wrapped('prompts left-truncated to fit the max length (as lm-evaluation-harness does; see tasks/README.md):', width));
    out.push(...truncated.map((r) => `  ${shown([...key(r), r.suite, variantLabel(r.variant, r.threshold, r)].join(' '))}: ${r.n_truncated} of ${r.n_done}`));
  }
  for (const c of summary.paper) {
    const measured = [...c.orderings, c.digits, c.bowl].filter((o) => o.verdict !== 'not measured');
    if (measured.length === 0) continue;
    out.push(
      '',
      ...wrapped(`the paper's claims on layers used, ${shown(c.series)} (95% CI):`, width),
      ...measured.flatMap((o) => wrapped(o.text, width, '  ', '    ')),
    );
  }
  return `${out.join('\n')}\n`;
}
