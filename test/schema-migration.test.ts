// Study files written by older flexibench versions: `report` reads them as they are (through views
// of the current schema, never writing), with the same numbers as after a real migration; opening one
// for writing migrates it to version 3, whose runs table admits the comparator variants.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, migrate } from '../src/store/schema.ts';
import { StudyDb } from '../src/store/study-db.ts';
import { flexibench } from './cli.ts';
import { identity, metadata, queryStudyFile, tempDir } from './store-fixtures.ts';

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** A study as flexibench at schema `version` wrote it: a full and a flexidepth run, two samples each, with tokens. */
async function oldStudy(version: number): Promise<string> {
  const path = join(tempDir('flexibench-schema-'), `v${version}.duckdb`);
  const instance = await DuckDBInstance.create(path);
  const conn = await instance.connect();
  await migrate(conn, 0, version);
  for (const [run, variant, routing] of [
    ['run-full', 'full', '[]'],
    ['run-flex', 'flexidepth', '[3, 4, 5]'],
  ] as const) {
    await conn.run(`INSERT INTO runs VALUES ('${run}', 'model-1', '${variant}', 'arith', 'cfg-1', 0, NULL, 0.5, '{"max_new_tokens": 8}', '{}', 'models/test-6l', 6,
                    ${routing}, NULL, 'abc', '{}', '{}', 'cpu', '{}', '2025-01-02T03:04:05Z', '2025-01-02T03:05:05Z')`);
    for (const [i, doc] of ['d1', 'd2'].entries()) {
      const metrics = variant === 'full' ? '{"exact_match": 1}' : `{"exact_match": ${i}}`;
      await conn.run(
        `INSERT INTO samples (run_id, doc_id, doc_index, prompt, output, reference, metrics, prompt_tokens, generated_tokens, prefill_ms, decode_ms, stop_reason, status, error, written_at)
         VALUES ('${run}', '${doc}', ${i}, 'p', 'o', 'r', '${metrics}', 2, 2, 1, 2, 'eos', 'done', NULL, '2025-01-02T03:04:06Z')`,
      );
      const mask = variant === 'full' ? '[]' : '[true, false, true]';
      const gates = variant === 'full' ? '[]' : '[0.9, 0.1, 0.8]';
      const used = variant === 'full' ? 6 : 5;
      for (const [position, phase] of ['prompt', 'prompt', 'generated', 'generated'].entries()) {
        await conn.run(
          `INSERT INTO tokens (run_id, doc_id, position, token_id, text, phase, layers_used, mask, gates)
           VALUES ('${run}', '${doc}', ${position}, ${position + 5}, 't', '${phase}', ${used}, ${mask}, ${gates})`,
        );
      }
    }
  }
  conn.closeSync();
  instance.closeSync();
  return path;
}

interface Summary {
  study: { dbs: { schema_version: number }[] };
  results: unknown[];
  paired: unknown[];
}

function reportJson(path: string): Summary {
  const r = flexibench(['report', '--db', path, '--json']);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Summary;
}

describe.each([1, 2])('a schema version %i study', (version) => {
  it('reports without being changed, with the numbers a migrated copy reports', async () => {
    const path = await oldStudy(version);
    const before = sha256(path);
    const old = reportJson(path);
    expect(sha256(path)).toBe(before);
    expect(old.study.dbs[0]!.schema_version).toBe(version);
    expect(old.results).toHaveLength(2);
    expect(old.paired).toHaveLength(1);

    const db = await StudyDb.open(path);
    expect(db.schemaVersion).toBe(SCHEMA_VERSION);
    await db.close();
    const migrated = reportJson(path);
    expect(migrated.study.dbs[0]!.schema_version).toBe(SCHEMA_VERSION);
    expect({ ...migrated, study: null }).toEqual({ ...old, study: null });
    expect(JSON.stringify(migrated.study).replace(`"schema_version":${SCHEMA_VERSION}`, `"schema_version":${version}`)).toBe(JSON.stringify(old.study));
  });

  it('migrates to version 3 when opened for writing: runs keep every value, and take the comparator variants', async () => {
    const path = await oldStudy(version);
    const RUNS = 'SELECT * EXCLUDE (comparator) FROM runs ORDER BY run_id';
    const before = await queryStudyFile(path, 'SELECT * FROM runs ORDER BY run_id');
    const db = await StudyDb.open(path);
    const { runId } = await db.ensureRun(identity({ variant: 'static', threshold: 0.5, comparator: { removed_layers: [4] } }), {
      ...metadata(),
      comparator: {
        kind: 'static',
        matched_threshold: 0.5,
        flexidepth_skips_mean: 1.2,
        removed_layers: [4],
        block_influence: [{ layer: 4, value: 0.01 }],
        calibration: { source: 'test', windows: 1, tokens: 3 },
      },
    });
    await db.close();
    const after = await queryStudyFile(path, RUNS);
    expect(after.filter((r) => r.run_id !== runId)).toEqual(before);
    const [stored] = await queryStudyFile<{ variant: string; removed: string; old: number }>(
      path,
      `SELECT variant, comparator->>'$.removed_layers' AS removed, (SELECT count(*) FROM runs WHERE comparator IS NULL)::INTEGER AS old FROM runs WHERE run_id = '${runId}'`,
    );
    expect(stored).toEqual({ variant: 'static', removed: '[4]', old: 2 });
    // The constraint is still there for anything else.
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    await expect(conn.run(`UPDATE runs SET variant = 'early-exit' WHERE run_id = '${runId}'`)).rejects.toThrow(/CHECK constraint/);
    conn.closeSync();
    instance.closeSync();
  });
});

it('merge refuses an input that needs migrating, with one line', async () => {
  const path = await oldStudy(2);
  const out = join(tempDir('flexibench-schema-'), 'merged.duckdb');
  const r = flexibench(['merge', '--out', out, path]);
  expect(r.status).toBe(1);
  expect(r.stderr).toBe(
    `flexibench: ${path}: study database at schema version 2 needs migrating to ${SCHEMA_VERSION} before a merge; open it once with flexibench run\n`,
  );
});
