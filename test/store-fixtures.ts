/**
 * Hand-made study content for the store and report tests. `buildStudy` writes a small study whose
 * summary numbers are worked out by hand in store-summary.test.ts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { RunIdentity, RunMetadata, SampleRecord, StudyDb, TokenRecord } from '../src/store/study-db.ts';

/** Rows of `sql` on a study file no process holds open (JSON values: BIGINT as string). */
export async function queryStudyFile<T = Record<string, unknown>>(db: string, sql: string): Promise<T[]> {
  const instance = await DuckDBInstance.create(db, { access_mode: 'READ_ONLY' });
  const conn = await instance.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJson() as T[];
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

export function tempDir(prefix = 'flexibench-store-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function identity(over: Partial<RunIdentity> = {}): RunIdentity {
  return {
    modelHash: 'model-1',
    variant: 'flexidepth',
    suite: 'arith',
    suiteConfigHash: 'cfg-1',
    seed: 0,
    limit: null,
    threshold: 0.5,
    generation: { max_new_tokens: 8, temperature: 0, stop: ['\n'] },
    ...over,
  };
}

/** A 6-layer model whose layers 3, 4, 5 are routed: layers used = 3 + routed layers on. */
export function metadata(over: Partial<RunMetadata> = {}): RunMetadata {
  return {
    modelDir: 'models/test-6l',
    layersTotal: 6,
    routingLayers: [3, 4, 5],
    suiteConfig: { name: 'arith', generation: { max_new_tokens: 8 } },
    gitRevision: 'abc123',
    packageVersions: { 'onnxruntime-node': '1.30.0' },
    hardware: { cpu: 'test', cores: 2 },
    executionProvider: 'cpu',
    threads: { workers: 1, intra_op: 1 },
    startedAt: '2025-01-02T03:04:05.000Z',
    ...over,
  };
}

export function sample(docId: string, over: Partial<SampleRecord> = {}): SampleRecord {
  return {
    docId,
    docIndex: 0,
    prompt: `prompt of ${docId}`,
    output: `output of ${docId}`,
    reference: `reference of ${docId}`,
    metrics: { accuracy: 1 },
    promptTokens: 2,
    truncatedTokens: 0,
    generatedTokens: 1,
    prefillMs: 1,
    decodeMs: 1,
    stopReason: 'eos',
    status: 'done',
    error: null,
    ...over,
  };
}

const UNROUTED = 3;

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Token rows from per-position routed masks (1 = full path), prompt positions first. */
export function tokensFromMasks(prompt: number[][], generated: number[][]): TokenRecord[] {
  const rows = [...prompt.map((m) => ({ m, phase: 'prompt' as const })), ...generated.map((m) => ({ m, phase: 'generated' as const }))];
  return rows.map(({ m, phase }, position) => ({
    position,
    tokenId: 100 + position,
    text: `t${position}`,
    bytes: utf8(`t${position}`),
    phase,
    layersUsed: UNROUTED + m.filter((x) => x === 1).length,
    mask: m.map((x) => x === 1),
    gates: m.map((x) => (x === 1 ? 0.75 : 0.25)),
  }));
}

/** Full-variant rows: every layer runs, no routing decisions. */
export function fullTokens(promptCount: number, generatedCount: number): TokenRecord[] {
  return Array.from({ length: promptCount + generatedCount }, (_, position) => ({
    position,
    tokenId: 100 + position,
    text: `t${position}`,
    bytes: utf8(`t${position}`),
    phase: position < promptCount ? ('prompt' as const) : ('generated' as const),
    layersUsed: 6,
    mask: [],
    gates: [],
  }));
}

/** Routed rows with gates spread over (0, 1): a realistic write load (`routed` gates per position). */
export function randomTokens(promptCount: number, generatedCount: number, routed: number): TokenRecord[] {
  return Array.from({ length: promptCount + generatedCount }, (_, position) => {
    const gates = Array.from({ length: routed }, (_, r) => ((position * 31 + r * 17) % 100) / 100);
    const mask = gates.map((g) => g > 0.5);
    return {
      position,
      tokenId: position % 32000,
      text: ` tok${position}`,
      bytes: utf8(` tok${position}`),
      phase: position < promptCount ? 'prompt' : 'generated',
      layersUsed: 16 + mask.filter(Boolean).length,
      mask,
      gates,
    };
  });
}

export interface BuiltStudy {
  flex: string;
  full: string;
  otherModelFlex: string;
}

/**
 * model-1: a flexidepth and a full run of suite arith (paired), model-2: a flexidepth run only.
 * The numbers the tests expect are derived in store-summary.test.ts.
 */
export async function buildStudy(db: StudyDb): Promise<BuiltStudy> {
  const { runId: flex } = await db.ensureRun(identity(), metadata());
  const { runId: full } = await db.ensureRun(identity({ variant: 'full' }), metadata({ routingLayers: [], startedAt: '2025-01-02T03:04:06.000Z' }));
  const { runId: otherModelFlex } = await db.ensureRun(identity({ modelHash: 'model-2' }), metadata({ startedAt: '2025-01-02T03:04:07.000Z' }));

  // doc a: producing positions 2, 3, 4 -> layers 4, 5, 3; routed on 1 + 2 + 0 of 9.
  await db.writeSample(
    flex,
    sample('a', { docIndex: 0, metrics: { accuracy: 1, rouge: 0.5, extracted: '42' }, promptTokens: 3, generatedTokens: 3, prefillMs: 10, decodeMs: 30 }),
    tokensFromMasks(
      [
        [1, 1, 1],
        [1, 0, 1],
        [0, 0, 1],
      ],
      [
        [1, 1, 0],
        [0, 0, 0],
        [1, 1, 1],
      ],
    ),
  );
  // doc b: producing positions 1, 2 -> layers 6, 3; routed on 3 + 0 of 6.
  await db.writeSample(
    flex,
    sample('b', { docIndex: 1, metrics: { accuracy: 0, rouge: 0.25, extracted: '7' }, promptTokens: 2, generatedTokens: 2, prefillMs: 10, decodeMs: 20 }),
    tokensFromMasks(
      [
        [0, 1, 1],
        [1, 1, 1],
      ],
      [
        [0, 0, 0],
        [1, 1, 1],
      ],
    ),
  );
  // doc c failed: neither its metrics, its timings nor its tokens count.
  await db.writeSample(
    flex,
    sample('c', {
      docIndex: 2,
      status: 'error',
      error: 'boom',
      metrics: { accuracy: 1, rouge: 1 },
      promptTokens: 1,
      generatedTokens: 1,
      prefillMs: 1000,
      decodeMs: 1000,
    }),
    tokensFromMasks([[1, 1, 1]], [[1, 1, 1]]),
  );

  await db.writeSample(
    full,
    sample('a', { docIndex: 0, metrics: { accuracy: 1, rouge: 1 }, promptTokens: 3, generatedTokens: 3, prefillMs: 30, decodeMs: 60 }),
    fullTokens(3, 3),
  );
  await db.writeSample(
    full,
    sample('b', { docIndex: 1, metrics: { accuracy: 1, rouge: 0.5 }, promptTokens: 2, generatedTokens: 2, prefillMs: 20, decodeMs: 40 }),
    fullTokens(2, 2),
  );
  await db.writeSample(
    full,
    sample('d', { docIndex: 3, metrics: { accuracy: 0, rouge: 0 }, promptTokens: 1, generatedTokens: 1, prefillMs: 10, decodeMs: 20 }),
    fullTokens(1, 1),
  );

  // model-2: one doc, producing positions 0, 1 -> layers 3, 6.
  await db.writeSample(
    otherModelFlex,
    sample('a', { docIndex: 0, metrics: { accuracy: 0, rouge: 0.1 }, promptTokens: 1, generatedTokens: 2, prefillMs: 5, decodeMs: 10 }),
    tokensFromMasks(
      [[0, 0, 0]],
      [
        [1, 1, 1],
        [0, 0, 0],
      ],
    ),
  );
  await db.finishRun(flex);
  await db.finishRun(full);
  return { flex, full, otherModelFlex };
}
