/**
 * The terminal table fits the width it is given: at 160 columns nothing is left out, at 80 and 60
 * what the report has anyway gives way (speeds, routed share, intervals) before any name is
 * shortened, and at any width no line of the table or its footnote is wider. The study is a ROUGE
 * sweep written by hand: two summarization suites scored with all four ROUGE F1s, full and
 * FlexiDepth at three thresholds, each at fp32, int8 and int4 with blocks of 64, and a static
 * comparator at 0.5; one failed sample. The scores are arbitrary but fixed, so the cells' widths are too.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { estimate } from '../reports/format.ts';
import { loadReport, type ReportSummary } from '../reports/report-data.ts';
import { DEFAULT_WIDTH, renderTerminal, terminalWidth } from '../reports/render-terminal.ts';
import type { Variant } from '../src/model/variants.ts';
import { StudyDb, type RunIdentity } from '../src/store/study-db.ts';
import { fullTokens, identity, metadata, sample, tempDir, tokensFromMasks } from './store-fixtures.ts';

const ROUGE = { name: 'rouge', options: { types: ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'], stemming: true } };
const DOCS = ['d1', 'd2', 'd3', 'd4', 'd5', 'd6'] as const;
const SUITES = ['cnndm', 'xsum'] as const;
const THRESHOLDS = [0.3, 0.5, 0.7] as const;
const PRECISIONS: readonly Pick<RunIdentity, 'precision' | 'block_size'>[] = [{}, { precision: 'int8' }, { precision: 'int4', block_size: 64 }];

/** A deterministic score in [0, 1) per run and document. */
const score = (run: number, doc: number, metric: number): number => ((run * 37 + doc * 11 + metric * 5) % 97) / 97;

/** Writes the study to a new temporary folder; returns its path. */
async function writeRougeStudy(): Promise<string> {
  const path = join(tempDir('flexibench-terminal-'), 'rouge.duckdb');
  const db = await StudyDb.open(path);
  try {
    let run = 0;
    for (const suite of SUITES) {
      for (const precision of PRECISIONS) {
        const specs: [Variant, number][] = [
          ['full', 0.5],
          ...THRESHOLDS.map((t): [Variant, number] => ['flexidepth', t]),
          ...(precision.precision === undefined ? [['static', 0.5] as [Variant, number]] : []),
        ];
        for (const [variant, threshold] of specs) {
          run++;
          const { runId } = await db.ensureRun(
            { ...identity({ suite, variant, threshold, suiteConfigHash: `cfg-${suite}` }), ...precision },
            metadata({
              routingLayers: variant === 'full' ? [] : [3, 4, 5],
              suiteConfig: { name: suite, generation: { max_new_tokens: 8, stop: ['\n'] }, scorer: ROUGE },
              startedAt: `2025-01-02T03:${String(10 + run).padStart(2, '0')}:00.000Z`,
            }),
          );
          for (const [index, docId] of DOCS.entries()) {
            if (run === 7 && index === 5) {
              await db.writeSample(runId, sample(docId, { docIndex: index, status: 'error', error: 'boom', metrics: {} }), []);
              continue;
            }
            const metrics = Object.fromEntries(ROUGE.options.types.map((m, k) => [m, score(run, index, k)]));
            const masks = [run % 2, index % 2, (run + index) % 2];
            await db.writeSample(
              runId,
              sample(docId, { docIndex: index, metrics, promptTokens: 3, generatedTokens: 2, prefillMs: 7 + run, decodeMs: 100 + index }),
              variant === 'full' ? fullTokens(3, 2) : tokensFromMasks([masks, masks, masks], [masks, [1, 0, 1]]),
            );
          }
          await db.finishRun(runId);
        }
      }
    }
  } finally {
    await db.close();
  }
  return path;
}

const columns = (line: string): number => [...line].length;

/** The table's lines (header, rule, rows) and the footnote's, up to the blank line after them. */
function tableOf(text: string): { header: string; rows: string[]; footnote: string[] } {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('suite'));
  const end = lines.indexOf('', start);
  const body = lines.slice(start + 2, end);
  const rows = body.filter((l) => /^(cnndm|xsum) /.test(l));
  return { header: lines[start] as string, rows, footnote: body.slice(rows.length) };
}

describe('the terminal table of a ROUGE sweep', () => {
  let summary: ReportSummary;

  beforeAll(async () => {
    summary = (await loadReport([await writeRougeStudy()], { samples: 200, seed: 1 })).summary;
  });

  /** Every line within `width` but the study's path and the failures' reasons, left whole to be copied. */
  function fits(text: string, width: number): void {
    const wide = text
      .trimEnd()
      .split('\n')
      .slice(1)
      .filter((l) => !/^ {2}\S.*: \d+ \u00d7 /.test(l))
      .filter((l) => columns(l) > width);
    expect(wide, `${width} columns`).toEqual([]);
  }

  it('at 160 columns leaves nothing out: every run, its primary metric with its interval, the difference, layers, routed share, speeds', () => {
    const text = renderTerminal(summary, { width: 160 });
    fits(text, 160);
    const { header, rows, footnote } = tableOf(text);
    expect(header).toMatch(/^suite {2}variant {2,}n {2,}rouge1 \[95% CI\] {2,}diff \[95% CI\] {2,}layers used {2}routed {2}prefill tok\/s {2}decode tok\/s$/);
    expect(rows).toHaveLength(summary.results.length);
    expect(text).not.toContain('\u2026');
    expect(footnote.join(' ')).toBe(
      'rouge1: the primary metric of each suite. diff: flexidepth - full over the documents both finished; on static and random rows, flexidepth - that run. Every metric is in the report.',
    );
    // The cells are the summary's: rouge1 of each run, FlexiDepth − full paired, FlexiDepth − static matched.
    for (const [i, r] of summary.results.entries()) {
      const row = rows[i] as string;
      expect(row).toContain(`  ${estimate(r.metrics['rouge1']!)}  `);
      const paired = summary.paired.find((p) => p.flexidepth_run_id === r.run_id && p.metric === 'rouge1');
      const matched = summary.matched.find((m) => m.comparator_run_id === r.run_id && m.metric === 'rouge1');
      const diff = paired?.flexidepth_minus_full ?? matched?.flexidepth_minus_comparator;
      if (r.variant === 'full') expect(diff).toBeUndefined();
      else expect(row).toContain(`  ${estimate(diff!)}  `);
    }
    expect(rows[1]).toMatch(/^cnndm {2}flexidepth@0\.3 int8 {5}5 \(\+1 err\) {2}0\.497 \[/);
    // Wider gives the same table: at 160 it is whole.
    expect(tableOf(renderTerminal(summary, { width: 1000 })).rows).toEqual(rows);
  });

  it("at 80 columns gives up the speeds, the routed share and the metric's interval, and says so; names and the difference's interval stay", () => {
    const text = renderTerminal(summary, { width: 80 });
    fits(text, 80);
    expect(renderTerminal(summary)).toBe(text);
    const { header, rows, footnote } = tableOf(text);
    expect(header).toMatch(/^suite variant +n +rouge1 diff \[95% CI\] +layers$/);
    expect(rows.some((r) => r.startsWith('cnndm flexidepth@0.3 int4/64 6          0.479  0.048 [-0.'))).toBe(true);
    expect(text).not.toContain('\u2026');
    expect(footnote.join(' ')).toContain("Left out at this width: routed, prefill tok/s, decode tok/s, the metric's interval.");
    // Nothing left out would have fitted: the narrowest column dropped (routed, 6 wide with its gap
    // of 1) and the metric's interval (15 more than its mean) each overflow.
    const width = Math.max(...[header, ...rows].map(columns));
    expect(width + 1 + 'routed'.length).toBeGreaterThan(80);
    expect(width + '0.000 [0.000, 0.000]'.length - '0.000 '.length).toBeGreaterThan(80);
  });

  it('at 60 columns gives up both intervals and long headers, still before any name', () => {
    const text = renderTerminal(summary, { width: 60 });
    fits(text, 60);
    const { header, rows, footnote } = tableOf(text);
    expect(header).toMatch(/^suite variant +n +rouge1 diff +layers$/);
    expect(rows).toHaveLength(summary.results.length);
    expect(text).not.toContain('\u2026');
    expect(rows.some((r) => r.startsWith('xsum  flexidepth@0.7 int4/64 6 '))).toBe(true);
    expect(footnote.join(' ')).toContain('Left out at this width: routed, prefill tok/s, decode tok/s, intervals.');
  });

  it('narrower still, drops columns rather than make two rows alike, and never exceeds the width', () => {
    for (const width of [50, 40, 30, 20, 1]) {
      const text = renderTerminal(summary, { width });
      fits(text, width);
    }
    const { rows, footnote } = tableOf(renderTerminal(summary, { width: 40 }));
    // Each row still tells its run: the shortened variants differ where the runs do.
    const keys = rows.map((r) => r.split(/ {1,}\d/)[0]);
    expect(new Set(keys).size).toBe(rows.length);
    expect(footnote.join(' ')).toContain('Left out at this width: diff, layers used,');
    expect(footnote.join(' ')).not.toContain('diff: flexidepth - full');
  });

  it('names the metric in a column when suites have different primary metrics', () => {
    const rougeL = { name: 'rouge', options: { types: ['rougeL', 'rouge1'], stemming: true } };
    const runs = summary.study.runs.map((r) => (r.suite === 'xsum' ? { ...r, suite_config: { ...(r.suite_config as object), scorer: rougeL } } : r));
    const mixed = { ...summary, study: { ...summary.study, runs } };
    for (const width of [160, 80, 60]) {
      const text = renderTerminal(mixed, { width });
      fits(text, width);
      const { header, rows, footnote } = tableOf(text);
      expect(header).toMatch(/^suite +variant +n +metric +mean/);
      expect(rows.filter((r) => r.startsWith('cnndm')).every((r) => /\srouge1\s/.test(r))).toBe(true);
      expect(rows.filter((r) => r.startsWith('xsum')).every((r) => /\srougeL\s/.test(r))).toBe(true);
      expect(footnote.join(' ')).toContain("metric: each suite's primary one.");
    }
  });

  it('escapes what it prints from the study, and measures the escapes it prints', () => {
    const results = summary.results.map((r) => ({ ...r, suite: `${r.suite}\x1b[2J` }));
    const text = renderTerminal({ ...summary, results }, { width: 60 });
    expect(text).not.toContain('\x1b');
    expect(text).toContain('cnndm\\x1b[2J');
    fits(text, 60);
  });
});

describe('terminalWidth', () => {
  it("is a terminal's columns, and 80 where they cannot be known", () => {
    expect(terminalWidth({ isTTY: true, columns: 132 })).toBe(132);
    expect(terminalWidth({ isTTY: undefined, columns: undefined })).toBe(DEFAULT_WIDTH);
    expect(terminalWidth({ isTTY: true, columns: 0 })).toBe(80);
    expect(terminalWidth({})).toBe(80);
  });
});
