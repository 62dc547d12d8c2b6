// `flexibench run --batch N` (issue 15): the same samples and token rows as one sequence at a time,
// one row per sample and token after a SIGKILL in the middle of batched decoding and a rerun.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { flexibench } from './cli.ts';
import { queryStudyFile } from './store-fixtures.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';

const work = mkdtempSync(join(tmpdir(), 'fb-run-batch-'));
const model = join(work, 'ddllama');
const env = { FLEXIBENCH_CACHE_DIR: join(work, 'cache') };
const BIN = fileURLToPath(new URL('../bin/flexibench.js', import.meta.url));
const LIMIT = 12;
const study = (db: string, batch: number): string[] => [
  'run',
  '--model',
  model,
  '--suites',
  'repetition,addition',
  '--limit',
  String(LIMIT),
  '--db',
  db,
  '--workers',
  '1',
  '--batch',
  String(batch),
];

interface Row {
  key: string;
  ids: string;
  masks: string;
  gates: number[][];
  output: string;
  tokens: number;
}

/** Per sample: its token ids, masks and gates in position order, and its output. */
async function samples(db: string): Promise<Map<string, Row>> {
  const rows = await queryStudyFile<Row & { gates: string }>(
    db,
    `SELECT r.suite || ' ' || r.variant || ' ' || s.doc_id AS key, s.output, count(*)::INT AS tokens,
            string_agg(t.token_id::VARCHAR, ' ' ORDER BY t.position) AS ids, string_agg(t.mask::VARCHAR, ' ' ORDER BY t.position) AS masks,
            to_json(list(t.gates ORDER BY t.position))::VARCHAR AS gates
     FROM samples s JOIN runs r USING (run_id) JOIN tokens t USING (run_id, doc_id) GROUP BY ALL`,
  );
  return new Map(rows.map((r) => [r.key, { ...r, gates: JSON.parse(r.gates) as number[][] }]));
}

function compare(a: Map<string, Row>, b: Map<string, Row>): { same: number; total: number; worstGate: number } {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  let same = 0;
  let worstGate = 0;
  for (const [key, x] of a) {
    const y = b.get(key)!;
    if (x.ids !== y.ids) continue;
    same++;
    expect(y.masks, key).toBe(x.masks);
    expect(y.output, key).toBe(x.output);
    x.gates.forEach((g, p) => g.forEach((v, r) => (worstGate = Math.max(worstGate, Math.abs(v - y.gates[p]![r]!)))));
  }
  return { same, total: a.size, worstGate };
}

beforeAll(() => {
  writeRandomCheckpoint(model, { routingLayers: [2, 3], routerHeadScale: 4, seed: 11 });
});

describe('flexibench run --batch', () => {
  const one = join(work, 'one.duckdb');
  const batched = join(work, 'batched.duckdb');

  it('stores what one sequence at a time stores: the same samples, token rows, masks and (within 1e-4) gates', async () => {
    expect(flexibench(study(one, 1), env).status).toBe(0);
    const r = flexibench(study(batched, 4), env);
    expect(r.status, r.stderr).toBe(0);
    const { same, total, worstGate } = compare(await samples(one), await samples(batched));
    expect(total).toBe(4 * LIMIT);
    // Different MatMul shapes may flip a near-tie; measured: none here.
    expect(same / total).toBeGreaterThanOrEqual(0.99);
    expect(worstGate).toBeLessThan(1e-4);
    const count = 'SELECT (SELECT count(*) FROM samples)::INT AS samples, (SELECT count(*) FROM tokens)::INT AS tokens';
    expect(await queryStudyFile(batched, count)).toEqual(await queryStudyFile(one, count));
  }, 300_000);

  it('resumes after a SIGKILL in the middle of batched decoding with exactly one row per sample and token', async () => {
    const killed = join(work, 'killed.duckdb');
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...study(killed, 4)], { env: { ...process.env, ...env, FLEXIBENCH_PROGRESS_MS: '0' } });
      let lines = 0;
      child.stderr.on('data', (chunk: Buffer) => {
        lines += (chunk.toString().match(/^run: .*\d+\/\d+/gm) ?? []).length;
        if (lines >= 6) child.kill('SIGKILL');
      });
      child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child ended before it was killed (code ${code})`))));
    });
    const [partial] = await queryStudyFile<{ n: number }>(killed, 'SELECT count(*)::INT AS n FROM samples');
    expect(partial!.n).toBeGreaterThan(0);
    expect(partial!.n).toBeLessThan(4 * LIMIT);

    const resumed = flexibench(study(killed, 4), env);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming/);
    expect(await queryStudyFile(killed, 'SELECT run_id, doc_id FROM samples GROUP BY ALL HAVING count(*) > 1')).toEqual([]);
    expect(await queryStudyFile(killed, 'SELECT run_id, doc_id, position FROM tokens GROUP BY ALL HAVING count(*) > 1')).toEqual([]);
    const { same, total, worstGate } = compare(await samples(batched), await samples(killed));
    expect(same).toBe(total);
    expect(worstGate).toBeLessThan(1e-4);
  }, 300_000);
});
