import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StudyDb } from '../src/store/study-db.ts';
import { fullTokens, identity, metadata, randomTokens, sample, tempDir, tokensFromMasks } from './store-fixtures.ts';

async function query(db: StudyDb, sql: string): Promise<Record<string, unknown>[]> {
  // Reads through the store's own connection would need a public query API; a second instance on
  // the same file in one process is not safe, so close, read, reopen.
  await db.close();
  const instance = await DuckDBInstance.create(db.path, { access_mode: 'READ_ONLY' });
  const conn = await instance.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

describe('run identity', () => {
  it('is 16 hex digits of a canonical hash: key order does not matter, every field does', async () => {
    const db = await StudyDb.open(join(tempDir(), 'id.duckdb'));
    try {
      const id = db.runId(identity());
      expect(id).toMatch(/^[0-9a-f]{16}$/);
      const reordered = JSON.parse(
        JSON.stringify({
          generation: { stop: ['\n'], temperature: 0, max_new_tokens: 8 },
          threshold: 0.5,
          limit: null,
          seed: 0,
          suiteConfigHash: 'cfg-1',
          suite: 'arith',
          variant: 'flexidepth',
          modelHash: 'model-1',
        }),
      );
      expect(db.runId(reordered)).toBe(id);
      expect(db.runId(identity({ threshold: 0.6 }))).not.toBe(id);
      expect(db.runId(identity({ limit: 10 }))).not.toBe(id);
      expect(db.runId(identity({ generation: { max_new_tokens: 9, temperature: 0, stop: ['\n'] } }))).not.toBe(id);
    } finally {
      await db.close();
    }
  });
});

describe('StudyDb writes', () => {
  let db: StudyDb;
  let runId: string;
  beforeEach(async () => {
    db = await StudyDb.open(join(tempDir(), 'study.duckdb'));
    ({ runId } = await db.ensureRun(identity(), metadata()));
  });
  afterEach(async () => {
    await db.close();
  });

  it('ensureRun registers a run once and resumes it with the count of done samples', async () => {
    await db.writeSample(runId, sample('a'), tokensFromMasks([[1, 1, 1]], [[0, 1, 0]]));
    await db.writeSample(runId, sample('b', { docIndex: 1 }), []);
    await db.writeSample(runId, sample('c', { docIndex: 2, status: 'error', error: 'worker died' }), []);
    await db.finishRun(runId);
    const again = await db.ensureRun(identity(), metadata({ startedAt: '2030-01-01T00:00:00Z' }));
    expect(again).toEqual({ runId, resumed: true, done: 2 });
    expect(await db.completedDocIds(runId)).toEqual(new Set(['a', 'b']));
    const rows = await query(db, 'SELECT run_id, started_at, ended_at, routing_layers, identity::VARCHAR AS identity FROM runs');
    expect(rows).toHaveLength(1);
    // The original start stays; the resumed run is open again until finishRun.
    expect(rows[0]).toMatchObject({ run_id: runId, started_at: new Date('2025-01-02T03:04:05.000Z'), ended_at: null, routing_layers: [3, 4, 5] });
    expect(JSON.parse(String(rows[0]!.identity))).toEqual(identity());
  });

  it('stores every field of a sample and its tokens', async () => {
    const tokens = tokensFromMasks(
      [
        [1, 0, 1],
        [0, 0, 0],
      ],
      [[1, 1, 1]],
    );
    await db.writeSample(
      runId,
      sample('a', {
        docIndex: 4,
        metrics: { accuracy: 1, extracted: '42' },
        promptTokens: 2,
        truncatedTokens: 7,
        generatedTokens: 1,
        prefillMs: 1.5,
        decodeMs: 2.5,
      }),
      tokens,
    );
    const samples = await query(db, 'SELECT * EXCLUDE (written_at, metrics), metrics::VARCHAR AS metrics FROM samples');
    expect(samples).toEqual([
      {
        run_id: runId,
        doc_id: 'a',
        doc_index: 4,
        prompt: 'prompt of a',
        output: 'output of a',
        reference: 'reference of a',
        prompt_tokens: 2,
        generated_tokens: 1,
        prefill_ms: 1.5,
        truncated_tokens: 7,
        decode_ms: 2.5,
        stop_reason: 'eos',
        status: 'done',
        error: null,
        metrics: '{"accuracy":1,"extracted":"42"}',
      },
    ]);
    const rows = await query(db, 'SELECT * EXCLUDE (bytes), lower(hex(bytes)) AS bytes FROM tokens ORDER BY position');
    expect(rows).toEqual(
      tokens.map((t) => ({
        run_id: runId,
        doc_id: 'a',
        position: t.position,
        token_id: t.tokenId,
        text: t.text,
        phase: t.phase,
        layers_used: t.layersUsed,
        mask: t.mask,
        gates: t.gates,
        bytes: Buffer.from(t.bytes).toString('hex'),
      })),
    );
  });

  it('stores a full-variant run with no routed layers', async () => {
    const { runId: full } = await db.ensureRun(identity({ variant: 'full' }), metadata({ routingLayers: [] }));
    await db.writeSample(full, sample('a'), fullTokens(2, 1));
    expect(await query(db, `SELECT routing_layers FROM runs WHERE variant = 'full'`)).toEqual([{ routing_layers: [] }]);
  });

  it('splits more tokens than one data chunk holds', async () => {
    await db.writeSample(runId, sample('long'), randomTokens(3000, 2000, 16));
    expect(
      await query(db, `SELECT count(*)::INTEGER AS n, max(position) AS last, count(DISTINCT position)::INTEGER AS distinct_positions FROM tokens`),
    ).toEqual([{ n: 5000, last: 4999, distinct_positions: 5000 }]);
  });

  it('is atomic: a bad token value leaves neither the sample nor any of its tokens, and the store stays usable', async () => {
    await db.writeSample(runId, sample('ok'), tokensFromMasks([[1, 1, 1]], [[1, 1, 1]]));
    const overflow = randomTokens(600, 10, 3);
    overflow[599]!.layersUsed = 70_000; // out of SMALLINT range: fails while appending, after the sample row is inserted
    await expect(db.writeSample(runId, sample('x'), overflow)).rejects.toThrow(/range/);
    const huge = randomTokens(2500, 10, 3);
    huge[2400]!.tokenId = 2 ** 40; // in the second data chunk, after the first was appended
    await expect(db.writeSample(runId, sample('x'), huge)).rejects.toThrow(/range/);
    await db.writeSample(runId, sample('y'), tokensFromMasks([[0, 0, 0]], []));
    expect(await db.completedDocIds(runId)).toEqual(new Set(['ok', 'y']));
    expect(await query(db, `SELECT doc_id, count(*)::INTEGER AS n FROM tokens GROUP BY doc_id ORDER BY doc_id`)).toEqual([
      { doc_id: 'ok', n: 2 },
      { doc_id: 'y', n: 1 },
    ]);
  });

  it('refuses token sequences that are not positions 0..n-1, prompt first, and writes nothing', async () => {
    const gap = tokensFromMasks(
      [
        [1, 1, 1],
        [1, 1, 1],
      ],
      [[1, 1, 1]],
    );
    gap[2]!.position = 3;
    await expect(db.writeSample(runId, sample('a'), gap)).rejects.toThrow(/positions must be 0..n-1/);
    const order = tokensFromMasks([[1, 1, 1]], [[1, 1, 1]]);
    order[0]!.phase = 'generated';
    order[1]!.phase = 'prompt';
    await expect(db.writeSample(runId, sample('a'), order)).rejects.toThrow(/prompt token 1 after a generated token/);
    const ragged = tokensFromMasks([[1, 1, 1]], []);
    ragged[0]!.gates.pop();
    await expect(db.writeSample(runId, sample('a'), ragged)).rejects.toThrow(/3 mask entries but 2 gates/);
    const textless = tokensFromMasks([[1, 1, 1]], []);
    (textless[0] as { text: unknown }).text = undefined;
    await expect(db.writeSample(runId, sample('a'), textless)).rejects.toThrow(/token 0 has no text piece/);
    await expect(db.writeSample(runId, sample('a', { docIndex: 0.5 }), [])).rejects.toThrow(/docIndex must be an integer/);
    await expect(db.writeSample('0000000000000000', sample('a'), [])).rejects.toThrow(/no run 0000000000000000/);
    expect(await query(db, 'SELECT (SELECT count(*) FROM samples)::INTEGER AS s, (SELECT count(*) FROM tokens)::INTEGER AS t')).toEqual([{ s: 0, t: 0 }]);
  });

  it('never duplicates a done document: a second write is ignored', async () => {
    await db.writeSample(runId, sample('a', { output: 'first' }), tokensFromMasks([[1, 1, 1]], [[1, 1, 1]]));
    await db.writeSample(
      runId,
      sample('a', { output: 'second' }),
      tokensFromMasks(
        [[1, 1, 1]],
        [
          [1, 1, 1],
          [0, 0, 0],
        ],
      ),
    );
    await db.writeSample(runId, sample('a', { output: 'failed later', status: 'error', error: 'x' }), []);
    expect(await query(db, `SELECT output, status, (SELECT count(*) FROM tokens)::INTEGER AS tokens FROM samples`)).toEqual([
      { output: 'first', status: 'done', tokens: 2 },
    ]);
  });

  it('replaces an error row, and its tokens, when the document is written again', async () => {
    await db.writeSample(
      runId,
      sample('a', { status: 'error', error: 'timeout', output: '' }),
      tokensFromMasks(
        [
          [1, 1, 1],
          [0, 0, 0],
          [0, 0, 0],
        ],
        [],
      ),
    );
    expect(await db.completedDocIds(runId)).toEqual(new Set());
    await db.writeSample(runId, sample('a', { status: 'error', error: 'timeout again', output: '' }), tokensFromMasks([[1, 1, 1]], []));
    await db.writeSample(
      runId,
      sample('a', { output: 'done now' }),
      tokensFromMasks(
        [
          [1, 1, 1],
          [0, 1, 0],
        ],
        [[1, 1, 1]],
      ),
    );
    expect(await db.completedDocIds(runId)).toEqual(new Set(['a']));
    expect(await query(db, `SELECT output, status, error, (SELECT count(*) FROM tokens)::INTEGER AS tokens FROM samples`)).toEqual([
      { output: 'done now', status: 'done', error: null, tokens: 3 },
    ]);
  });

  it('serializes concurrent writes', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => db.writeSample(runId, sample(`d${i}`, { docIndex: i }), randomTokens(20, 5, 3))));
    expect((await db.completedDocIds(runId)).size).toBe(20);
    expect(await query(db, 'SELECT count(*)::INTEGER AS n FROM tokens')).toEqual([{ n: 500 }]);
  });
});

describe('a run killed with SIGKILL', () => {
  it('leaves only whole samples, and the store reopens', async () => {
    const dir = tempDir();
    const path = join(dir, 'killed.duckdb');
    const studyDb = fileURLToPath(new URL('../src/store/study-db.ts', import.meta.url));
    const fixtures = fileURLToPath(new URL('./store-fixtures.ts', import.meta.url));
    const script = join(dir, 'writer.mts');
    writeFileSync(
      script,
      `import { StudyDb } from ${JSON.stringify(studyDb)};
       import { identity, metadata, sample, tokensFromMasks } from ${JSON.stringify(fixtures)};
       const db = await StudyDb.open(${JSON.stringify(path)});
       const { runId } = await db.ensureRun(identity(), metadata());
       for (let i = 0; ; i++) {
         const n = 200 + (i % 7) * 50;
         const masks = Array.from({ length: n }, (_, p) => [p % 2, p % 3 === 0 ? 1 : 0, 1]);
         await db.writeSample(runId, sample('d' + i, { docIndex: i, promptTokens: n - 20, generatedTokens: 20 }), tokensFromMasks(masks.slice(0, n - 20), masks.slice(n - 20)));
         process.stdout.write('wrote ' + i + '\\n');
       }`,
    );
    const repo = fileURLToPath(new URL('..', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const written = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const count = out.split('\n').filter((l) => l.startsWith('wrote')).length;
        if (count >= 15) {
          child.kill('SIGKILL');
          resolve(count);
        }
      });
      child.on('exit', (code, signal) => signal === null && reject(new Error(`writer exited ${code}: ${stderr}`)));
    });
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.on('exit', resolve)));

    const db = await StudyDb.open(path);
    const rows = await query(
      db,
      `SELECT s.doc_id, s.doc_index, s.prompt_tokens + s.generated_tokens AS expected, count(t.position)::INTEGER AS stored,
              count(*) FILTER (WHERE t.phase = 'generated')::INTEGER AS generated
       FROM samples s LEFT JOIN tokens t USING (run_id, doc_id) GROUP BY ALL ORDER BY doc_index`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(written);
    for (const r of rows) expect([r.doc_id, r.stored, r.generated]).toEqual([r.doc_id, r.expected, 20]);
    const orphans = await query(db, 'SELECT count(*)::INTEGER AS n FROM tokens t ANTI JOIN samples s USING (run_id, doc_id)');
    expect(orphans).toEqual([{ n: 0 }]);
  });
});
