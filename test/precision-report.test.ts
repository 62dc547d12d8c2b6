/**
 * Weight precision in the report: runs pair within one precision only, the `fidelity` rows put each
 * lower precision beside fp32, the labels name the precision when it is not fp32, and the Precision
 * section appears only for a study with several precisions. The study is written by hand through
 * StudyDb, and every expected number is worked out here from the rows written.
 */
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { comparatorTables } from '../reports/comparators.ts';
import { reproduceCommand, renderDatasetCard, type DatasetCardData } from '../reports/dataset-card.ts';
import { variantLabel } from '../reports/format.ts';
import { FP32_PRECISION } from '../reports/precision.ts';
import { loadReport, type ReportData } from '../reports/report-data.ts';
import { renderHtml } from '../reports/render-html.ts';
import { renderMarkdown } from '../reports/render-markdown.ts';
import { renderTerminal } from '../reports/render-terminal.ts';
import { renderJson } from '../reports/write-report.ts';
import type { Variant } from '../src/model/variants.ts';
import { pairedBootstrap } from '../src/scoring/bootstrap.ts';
import type { ExportRun } from '../src/store/pattern-export-reads.ts';
import { migrate } from '../src/store/schema.ts';
import { StudyDb, type RunIdentity, type TokenRecord } from '../src/store/study-db.ts';
import { buildStudy, fullTokens, identity, metadata, sample, tempDir, tokensFromMasks } from './store-fixtures.ts';

const BOOT = { samples: 500, seed: 7 };
const DOCS = ['d1', 'd2', 'd3', 'd4'] as const;

type Precision = Pick<RunIdentity, 'precision' | 'block_size'>;

interface RunSpec {
  name: string;
  suite: 'arith' | 'story';
  variant: Variant;
  precision: Precision;
  /** Per document (DOCS order): accuracy and output; undefined marks a failed sample. */
  docs: ({ accuracy: number; output: string } | undefined)[];
  /** Routed masks of the producing positions 0 and 1 (flexidepth and static only). */
  masks?: [number[], number[]];
}

const greedy = { name: 'arith', generation: { max_new_tokens: 8, stop: ['\n'], sampling: { method: 'greedy' } } };
const sampled = { name: 'story', generation: { max_new_tokens: 8, stop: ['\n'], sampling: { method: 'sample', temperature: 0.8, seed: 1 } } };

const doc = (accuracy: number, output: string) => ({ accuracy, output });

/**
 * arith (greedy): full and flexidepth at fp32 and int8, flexidepth at int4 with blocks of 64, static
 * at int8; story (sampled): full at fp32 and int8. Inserted in this order (started_at ascending).
 */
const RUNS: readonly RunSpec[] = [
  { name: 'fullFp32', suite: 'arith', variant: 'full', precision: {}, docs: [doc(1, 'o1'), doc(1, 'o2'), doc(1, 'cafe\u0301'), doc(0, 'o4')] },
  {
    name: 'flexFp32',
    suite: 'arith',
    variant: 'flexidepth',
    precision: {},
    docs: [doc(1, 'o1'), doc(1, 'o2'), doc(0, 'o3'), doc(0, 'o4')],
    // Producing depths 6 and 4: 5 layers per generated token.
    masks: [
      [1, 1, 1],
      [1, 0, 0],
    ],
  },
  // The same text as fp32 on d1 and d2 only: d3 is NFC where fp32's is NFD, d4 has a trailing space.
  {
    name: 'fullInt8',
    suite: 'arith',
    variant: 'full',
    precision: { precision: 'int8' },
    docs: [doc(1, 'o1'), doc(0, 'o2'), doc(1, 'caf\u00e9'), doc(0, 'o4 ')],
  },
  {
    name: 'flexInt8',
    suite: 'arith',
    variant: 'flexidepth',
    precision: { precision: 'int8' },
    // d4 failed: the pairs are d1-d3.
    docs: [doc(1, 'o1'), doc(0, 'x2'), doc(0, 'o3'), undefined],
    // Producing depths 4 and 3: 3.5 layers per generated token.
    masks: [
      [1, 0, 0],
      [0, 0, 0],
    ],
  },
  {
    name: 'flexInt4',
    suite: 'arith',
    variant: 'flexidepth',
    precision: { precision: 'int4', block_size: 64 },
    docs: [doc(0, 'z1'), doc(0, 'z2'), doc(0, 'z3'), doc(0, 'z4')],
    masks: [
      [0, 0, 0],
      [0, 0, 0],
    ],
  },
  {
    name: 'staticInt8',
    suite: 'arith',
    variant: 'static',
    precision: { precision: 'int8' },
    docs: [doc(0, 's1'), doc(0, 's2'), doc(0, 's3'), doc(0, 's4')],
    masks: [
      [1, 1, 0],
      [1, 1, 0],
    ],
  },
  { name: 'storyFp32', suite: 'story', variant: 'full', precision: {}, docs: [doc(1, 'once'), doc(1, 'upon')] },
  { name: 'storyInt8', suite: 'story', variant: 'full', precision: { precision: 'int8' }, docs: [doc(1, 'once'), doc(0, 'a time')] },
];

function tokensOf(spec: RunSpec): TokenRecord[] {
  if (spec.masks === undefined) return fullTokens(1, 2);
  return tokensFromMasks([spec.masks[0]], [spec.masks[1], [0, 0, 0]]);
}

async function buildPrecisionStudy(path: string): Promise<Record<string, string>> {
  const db = await StudyDb.open(path);
  const ids: Record<string, string> = {};
  try {
    for (const [i, spec] of RUNS.entries()) {
      const { runId } = await db.ensureRun(
        { ...identity({ suite: spec.suite, variant: spec.variant, suiteConfigHash: `cfg-${spec.suite}` }), ...spec.precision },
        metadata({
          routingLayers: spec.variant === 'full' ? [] : [3, 4, 5],
          suiteConfig: spec.suite === 'arith' ? greedy : sampled,
          startedAt: `2025-01-02T03:04:${String(10 + i)}.000Z`,
        }),
      );
      ids[spec.name] = runId;
      for (const [index, d] of spec.docs.entries()) {
        const docId = DOCS[index] as string;
        if (d === undefined) {
          await db.writeSample(runId, sample(docId, { docIndex: index, status: 'error', error: 'boom', metrics: {} }), []);
          continue;
        }
        await db.writeSample(
          runId,
          sample(docId, { docIndex: index, output: d.output, metrics: { accuracy: d.accuracy }, promptTokens: 1, generatedTokens: 2 }),
          tokensOf(spec),
        );
      }
      await db.finishRun(runId);
    }
    // fp32's tokens through both graphs: 6 of 6, 4 of 6, 8 of 9 decisions alike; none stored for int4.
    const agreement: [string, number, number][] = [
      ['d1', 6, 6],
      ['d2', 6, 4],
      ['d3', 9, 8],
    ];
    for (const [docId, decisions, identical] of agreement) {
      await db.writeAgreement(ids.flexInt8 as string, docId, ids.flexFp32 as string, { decisions, identical });
    }
  } finally {
    await db.close();
  }
  return ids;
}

describe('a study at several weight precisions', () => {
  let data: ReportData;
  let ids: Record<string, string>;

  beforeAll(async () => {
    const path = join(tempDir('flexibench-precision-'), 'precision.duckdb');
    ids = await buildPrecisionStudy(path);
    data = await loadReport([path], BOOT);
  });

  const precisionOf = (runId: string): string => {
    const run = data.summary.study.runs.find((r) => r.run_id === runId);
    if (run === undefined) throw new Error(`no run ${runId}`);
    return run.precision;
  };

  it('reads each run its precision and block size; fp32 has none stored', () => {
    const runs = Object.fromEntries(data.summary.study.runs.map((r) => [r.run_id, [r.precision, r.block_size]]));
    expect(runs[ids.fullFp32 as string]).toEqual(['fp32', null]);
    expect(runs[ids.flexInt8 as string]).toEqual(['int8', null]);
    expect(runs[ids.flexInt4 as string]).toEqual(['int4', 64]);
  });

  it('pairs FlexiDepth with full and with comparators within one precision only', () => {
    const { paired, matched } = data.summary;
    expect(paired.map((p) => [p.flexidepth_run_id, p.full_run_id, p.precision])).toEqual([
      [ids.flexFp32, ids.fullFp32, 'fp32'],
      [ids.flexInt8, ids.fullInt8, 'int8'],
    ]);
    for (const p of paired) expect([precisionOf(p.flexidepth_run_id), precisionOf(p.full_run_id)]).toEqual([p.precision, p.precision]);
    // int8: d1-d3, FlexiDepth [1, 0, 0] against full [1, 0, 1].
    const int8 = paired[1]!;
    expect([int8.n, int8.flexidepth_mean, int8.full_mean]).toEqual([3, 1 / 3, 2 / 3]);
    expect(matched.map((m) => [m.flexidepth_run_id, m.comparator_run_id, m.precision])).toEqual([[ids.flexInt8, ids.staticInt8, 'int8']]);
  });

  it('sorts precision after threshold: fp32, then int8, then int4', () => {
    const arith = data.summary.results.filter((r) => r.suite === 'arith');
    expect(arith.map((r) => [r.variant, r.precision, r.block_size])).toEqual([
      ['flexidepth', 'fp32', null],
      ['flexidepth', 'int8', null],
      ['flexidepth', 'int4', 64],
      ['full', 'fp32', null],
      ['full', 'int8', null],
      ['static', 'int8', null],
    ]);
  });

  it('puts each lower precision beside its fp32 counterpart of the same variant and threshold', () => {
    const { fidelity } = data.summary;
    expect(fidelity.map((f) => [f.suite, f.variant, f.precision, f.block_size, f.run_id, f.fp32_run_id])).toEqual([
      ['arith', 'flexidepth', 'int8', null, ids.flexInt8, ids.flexFp32],
      ['arith', 'flexidepth', 'int4', 64, ids.flexInt4, ids.flexFp32],
      ['arith', 'full', 'int8', null, ids.fullInt8, ids.fullFp32],
      ['story', 'full', 'int8', null, ids.storyInt8, ids.storyFp32],
    ]);
  });

  it('pairs the metrics by document: int8 − fp32 over the documents both finished', () => {
    const [flexInt8, flexInt4, fullInt8] = data.summary.fidelity;
    // d1-d3 (int8's d4 failed): int8 [1, 0, 0], fp32 [1, 1, 0].
    const expected = pairedBootstrap([1, 0, 0], [1, 1, 0], BOOT);
    expect(flexInt8!.metrics.accuracy).toEqual({
      n: 3,
      mean: expected.a.mean,
      ci95: expected.a.ci95,
      fp32_mean: expected.b.mean,
      minus_fp32: expected.difference,
    });
    expect(flexInt8!.metrics.accuracy!.minus_fp32.mean).toBeCloseTo(-1 / 3, 12);
    expect(flexInt4!.metrics.accuracy!.minus_fp32.mean).toBeCloseTo(-0.5, 12);
    expect(flexInt4!.metrics.accuracy!.n).toBe(4);
    // full: int8 [1, 0, 1, 0], fp32 [1, 1, 1, 0].
    expect(fullInt8!.metrics.accuracy!.minus_fp32).toEqual(pairedBootstrap([1, 0, 1, 0], [1, 1, 1, 0], BOOT).difference);
    expect(fullInt8!.metrics.accuracy!.minus_fp32.mean).toBeCloseTo(-0.25, 12);
  });

  it('compares layers used, identical outputs byte for byte and routing decisions as sum over sum', () => {
    const [flexInt8, flexInt4, fullInt8, storyInt8] = data.summary.fidelity;
    expect([flexInt8!.layers_used_mean, flexInt8!.fp32_layers_used_mean]).toEqual([3.5, 5]);
    expect([fullInt8!.layers_used_mean, fullInt8!.fp32_layers_used_mean]).toEqual([6, 6]);
    // o1 and o3 alike, x2 not; d4 is not done in int8.
    expect([flexInt8!.output_docs, flexInt8!.identical_output]).toEqual([3, 2 / 3]);
    // Only o1 and o2: NFC against NFD and a trailing space are different bytes.
    expect([fullInt8!.output_docs, fullInt8!.identical_output]).toEqual([4, 0.5]);
    expect([flexInt4!.output_docs, flexInt4!.identical_output]).toEqual([4, 0]);
    // (6 + 4 + 8) / (6 + 6 + 9), not the mean of the per-sample shares.
    expect(flexInt8!.routing_identical).toBeCloseTo(18 / 21, 12);
    expect([flexInt8!.routing_decisions, flexInt8!.routing_samples]).toEqual([21, 3]);
    expect([flexInt4!.routing_identical, flexInt4!.routing_samples]).toEqual([null, 0]);
    expect(fullInt8!.routing_identical).toBeNull();
    expect([flexInt8!.greedy, storyInt8!.greedy]).toEqual([true, false]);
    expect(storyInt8!.identical_output).toBe(0.5);
  });

  it('carries fidelity and the precisions in the JSON summary', () => {
    const json = JSON.parse(renderJson(data.summary)) as typeof data.summary;
    expect(json.fidelity).toHaveLength(4);
    expect(json.results.every((r) => typeof r.precision === 'string')).toBe(true);
    expect(json.paper.map((p) => [p.series, p.precision, p.block_size])).toEqual([
      ['flexidepth@0.5', 'fp32', null],
      ['flexidepth@0.5 int8', 'int8', null],
      ['flexidepth@0.5 int4/64', 'int4', 64],
    ]);
  });

  it('labels every series with its precision when it is not fp32', () => {
    expect(variantLabel('full', 0.5, FP32_PRECISION)).toBe('full');
    expect(variantLabel('flexidepth', 0.5, FP32_PRECISION)).toBe('flexidepth@0.5');
    expect(variantLabel('full', 0.5, { precision: 'int8', block_size: null })).toBe('full int8');
    expect(variantLabel('flexidepth', 0.5, { precision: 'int4', block_size: 64 })).toBe('flexidepth@0.5 int4/64');
    const series = Object.fromEntries(Object.entries(ids).map(([name, runId]) => [name, data.seriesOf('precision', runId)]));
    expect(series).toMatchObject({
      fullFp32: 'full',
      flexFp32: 'flexidepth@0.5',
      fullInt8: 'full int8',
      flexInt8: 'flexidepth@0.5 int8',
      staticInt8: 'static@0.5 int8',
    });
    expect(series.flexInt4).toBe('flexidepth@0.5 int4/64');
    const terminal = renderTerminal(data.summary);
    expect(terminal).toMatch(/^arith\s+flexidepth@0\.5 int4\/64\s+4\s/m);
    expect(terminal).toMatch(/^arith\s+full int8\s+4\s/m);
    // Each FlexiDepth row carries its difference from full at its own precision (int8: d1-d3, 1/3 - 2/3),
    // a comparator's row FlexiDepth's difference from it.
    expect(terminal).toMatch(/^arith\s+flexidepth@0\.5 int8\s+3 \(\+1 err\)\s+0\.333\s+-0\.333 \[/m);
    expect(terminal).toMatch(/^arith\s+static@0\.5 int8\s+4\s+0\.000\s+0\.333 \[/m);
    // Table 1: one table per precision, named in its title.
    expect(comparatorTables(data).map((t) => t.title)).toEqual(['arith', 'arith \u00b7 int8', 'arith \u00b7 int4/64', 'story', 'story \u00b7 int8']);
  });

  it('writes the Precision section in the page and in summary.md', async () => {
    const html = await renderHtml(data, 'now');
    expect(html).toContain('<a href="#precision">precision</a>');
    expect(html.indexOf('<h2 id="precision">Precision</h2>')).toBeGreaterThan(html.indexOf('<h2 id="scores">'));
    const section = html.slice(html.indexOf('<div data-table="precision"'), html.indexOf('</div>', html.indexOf('<div data-table="precision"')));
    const rows = [...section.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) => [...(m[1] as string).matchAll(/<t[dh][^>]*>(.*?)<\/t[dh]>/g)].map((c) => c[1]));
    expect(rows[0]).toEqual([
      'suite',
      'method',
      'precision',
      'primary metric',
      'precision vs fp32',
      'precision \u2212 fp32 [95% CI]',
      'layers used (precision vs fp32)',
      'identical routing decisions',
      'identical output',
    ]);
    expect(rows.slice(1).map((r) => [r[0], r[1], r[2], r[4], r[6], r[7], r[8]])).toEqual([
      ['arith', 'flexidepth@0.5', 'int8', '0.333 vs 0.667', '3.50 vs 5.00', '85.71% (3 samples)', '66.7% of 3'],
      ['arith', 'flexidepth@0.5', 'int4/64', '0.000 vs 0.500', '3.00 vs 5.00', 'not stored', '0.0% of 4'],
      ['arith', 'full', 'int8', '0.500 vs 0.750', '6.00 vs 6.00', '\u2014', '50.0% of 4'],
      ['story', 'full', 'int8', '0.500 vs 1.000', '6.00 vs 6.00', '\u2014', '50.0% of 2, sampled'],
    ]);
    expect(rows[1]![5]).toMatch(/^-0\.333 \[-?[\d.]+, -?[\d.]+\]$/);
    expect(html).toContain('fp32\u2019s generated tokens are fed back through both graphs');

    const md = renderMarkdown(data, 'now');
    expect(md).toContain('\n## Precision\n');
    expect(md).toMatch(
      /\n\| arith \| flexidepth@0\.5 \| int8 \| accuracy \| 0\.333 vs 0\.667 \| -0\.333 \[[-\d.]+, [-\d.]+\] \| 3\.50 vs 5\.00 \| 85\.71% \(3 samples\) \| 66\.7% of 3 \|\n/,
    );
    expect(md).toContain('| story | full | int8 | accuracy | 0.500 vs 1.000 |');
    expect(md.indexOf('## Precision')).toBeLessThan(md.indexOf('## Against budget-matched comparators'));
  });
});

describe('a study at one precision', () => {
  it('has no fidelity rows and no Precision section, and keeps its labels', async () => {
    const path = join(tempDir('flexibench-precision-'), 'fp32.duckdb');
    const db = await StudyDb.open(path);
    await buildStudy(db);
    await db.close();
    const data = await loadReport([path], BOOT);
    expect(data.summary.fidelity).toEqual([]);
    expect(data.summary.results.every((r) => r.precision === 'fp32' && r.block_size === null)).toBe(true);
    const html = await renderHtml(data, 'now');
    expect(html).not.toContain('id="precision"');
    expect(html).not.toContain('href="#precision"');
    expect(renderMarkdown(data, 'now')).not.toContain('## Precision');
  });

  it('one lower precision alone is a single precision: no section either', async () => {
    const path = join(tempDir('flexibench-precision-'), 'int8.duckdb');
    const db = await StudyDb.open(path);
    for (const variant of ['full', 'flexidepth'] as const) {
      const { runId } = await db.ensureRun({ ...identity({ variant }), precision: 'int8' }, metadata());
      await db.writeSample(runId, sample('a'), tokensFromMasks([[1, 1, 1]], [[0, 0, 0]]));
    }
    await db.close();
    const data = await loadReport([path], BOOT);
    expect(data.summary.paired).toHaveLength(1);
    expect(data.summary.fidelity).toEqual([]);
    expect(data.summary.results.map((r) => data.seriesOf(r.study, r.run_id))).toEqual(['flexidepth@0.5 int8', 'full int8']);
    expect(await renderHtml(data, 'now')).not.toContain('id="precision"');
  });
});

describe('a precision read from a changed file', () => {
  it('is text, escaped where the report writes it', async () => {
    const path = join(tempDir('flexibench-precision-'), 'hostile.duckdb');
    const db = await StudyDb.open(path);
    const hostile = { precision: '<img src=x onerror=alert(1)>|`x`' } as unknown as Precision;
    for (const precision of [{}, hostile]) {
      const { runId } = await db.ensureRun({ ...identity({ variant: 'full' }), ...precision }, metadata({ routingLayers: [] }));
      await db.writeSample(runId, sample('a'), fullTokens(1, 1));
    }
    await db.close();
    const data = await loadReport([path], BOOT);
    expect(data.summary.fidelity.map((f) => f.precision)).toEqual(['<img src=x onerror=alert(1)>|`x`']);
    const html = await renderHtml(data, 'now');
    expect(html).not.toContain('<img');
    expect(html).toContain('full &lt;img src=x onerror=alert(1)&gt;|`x`');
    const md = renderMarkdown(data, 'now');
    expect(md).not.toContain('<img');
    expect(md).toContain('| full | &lt;img src=x onerror=alert(1)&gt;\\|\\`x\\` |');
  });
});

describe('a study written before precisions (schema version 3)', () => {
  it('reads every run as fp32 with the labels it always had', async () => {
    const path = join(tempDir('flexibench-precision-'), 'v3.duckdb');
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    await migrate(conn, 0, 3);
    for (const [run, variant, routing] of [
      ['run-full', 'full', '[]'],
      ['run-flex', 'flexidepth', '[3, 4, 5]'],
    ] as const) {
      const identityJson = JSON.stringify({ modelHash: 'model-1', variant, suite: 'arith', suiteConfigHash: 'cfg-1', seed: 0, limit: null, threshold: 0.5 });
      await conn.run(`INSERT INTO runs VALUES ('${run}', 'model-1', '${variant}', 'arith', 'cfg-1', 0, NULL, 0.5, '{"max_new_tokens": 8}', '${identityJson}',
                      'models/test-6l', 6, ${routing}, NULL, 'abc', '{}', '{}', 'cpu', '{}', '2025-01-02T03:04:05Z', '2025-01-02T03:05:05Z', NULL)`);
      await conn.run(
        `INSERT INTO samples (run_id, doc_id, doc_index, prompt, output, reference, metrics, prompt_tokens, generated_tokens, prefill_ms, decode_ms, stop_reason, status, error, written_at)
         VALUES ('${run}', 'd1', 0, 'p', 'o', 'r', '{"exact_match": 1}', 1, 1, 1, 2, 'eos', 'done', NULL, '2025-01-02T03:04:06Z')`,
      );
    }
    conn.closeSync();
    instance.closeSync();

    const data = await loadReport([path], BOOT);
    expect(data.summary.study.dbs[0]!.schema_version).toBe(3);
    expect(data.summary.study.runs.map((r) => [r.run_id, r.precision, r.block_size])).toEqual([
      ['run-flex', 'fp32', null],
      ['run-full', 'fp32', null],
    ]);
    expect(data.summary.results.map((r) => data.seriesOf(r.study, r.run_id))).toEqual(['flexidepth@0.5', 'full']);
    expect(data.summary.paired).toHaveLength(1);
    expect(data.summary.fidelity).toEqual([]);
    expect(renderTerminal(data.summary)).toMatch(/^arith\s+flexidepth@0\.5\s+1\s/m);
  });
});

describe('the dataset card of runs at a lower precision', () => {
  const run = (over: Partial<ExportRun>): ExportRun =>
    ({
      run_id: 'r1',
      suite: 'arith',
      variant: 'flexidepth',
      model_hash: 'model-1',
      model_dir: 'models/test-6l',
      suite_config_hash: 'cfg-1',
      limit: null,
      seed: 0,
      threshold: 0.5,
      precision: 'fp32',
      block_size: null,
      layers_total: 6,
      routing_layers: [3, 4, 5],
      git_revision: null,
      samples: 1,
      error_samples: 0,
      tokens: 2,
      tokens_without_bytes: 0,
      ...over,
    }) as ExportRun;

  it('reproduces a run with its precision and a block size that is not the default', () => {
    expect(reproduceCommand(run({}))).toBe('flexibench run --model models/test-6l --suites arith --variants flexidepth --seed 0 --threshold 0.5');
    expect(reproduceCommand(run({ precision: 'int8' }))).toBe(
      'flexibench run --model models/test-6l --suites arith --variants flexidepth --precision int8 --seed 0 --threshold 0.5',
    );
    expect(reproduceCommand(run({ precision: 'int4', block_size: 64 }))).toBe(
      'flexibench run --model models/test-6l --suites arith --variants flexidepth --precision int4 --block-size 64 --seed 0 --threshold 0.5',
    );
  });

  it('lists the precision of each run only when one is not fp32', () => {
    const table = { rows: 2, order: ['doc_id'], fields: [{ name: 'doc_id', type: 'VARCHAR', description: 'the document' }] };
    const card = (runs: ExportRun[]): string => {
      const data: DatasetCardData = {
        models: [{ hash: 'model-1', dirs: ['models/test-6l'], layersTotal: 6, routingLayers: [3, 4, 5] }],
        suites: [{ name: 'arith', configHashes: ['cfg-1'], source: 'synthetic', license: 'MIT', samples: 2, tokens: 4 }],
        runs,
        tokens: { name: 'tokens', ...table },
        samples: { name: 'samples', ...table },
        exportCommand: 'flexibench export-patterns --db s.duckdb --out o',
      };
      return renderDatasetCard(data);
    };
    expect(card([run({}), run({ run_id: 'r2', variant: 'full' })])).toContain('| run id | suite | variant | threshold | seed |');
    const mixed = card([run({}), run({ run_id: 'r2', precision: 'int4', block_size: 64 })]);
    expect(mixed).toContain('| run id | suite | variant | threshold | precision | seed |');
    expect(mixed).toContain('| `r2` | arith | flexidepth | 0.5 | int4/64 | 0 |');
    expect(mixed).toContain('# run r2: arith, flexidepth, threshold 0.5, int4/64 weights\nflexibench run --model models/test-6l');
  });
});
