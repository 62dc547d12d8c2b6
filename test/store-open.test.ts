import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.ts';
import { readSummaryInputs } from '../src/store/summary-reads.ts';
import { SCHEMA_VERSION } from '../src/store/schema.ts';
import { StudyDb } from '../src/store/study-db.ts';
import { buildStudy, identity, metadata, tempDir } from './store-fixtures.ts';

async function sql(path: string, statements: string[]): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(path);
  const conn = await instance.connect();
  try {
    let last: Record<string, unknown>[] = [];
    for (const s of statements) last = (await conn.runAndReadAll(s)).getRowObjectsJS() as Record<string, unknown>[];
    return last;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** Opening must fail with a one-line UserError starting with the path, and leave the file's bytes (and folder) as they were. */
async function expectRefused(path: string, pattern: RegExp, opts: { readOnly?: boolean } = {}): Promise<void> {
  const before = existsSync(path) && statSync(path).isFile() ? readFileSync(path) : null;
  const dirBefore = readdirSync(join(path, '..')).sort();
  const err = await StudyDb.open(path, opts).then(
    async (db) => {
      await db.close();
      return null;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  const message = (err as Error).message;
  expect(message.startsWith(`${path}: `)).toBe(true);
  expect(message).not.toContain('\n');
  expect(message).toMatch(pattern);
  if (before !== null) expect(readFileSync(path).equals(before)).toBe(true);
  expect(readdirSync(join(path, '..')).sort()).toEqual(dirBefore);
}

describe('StudyDb.open', () => {
  it('creates the folder and the file, with the schema at the current version', async () => {
    const path = join(tempDir(), 'a', 'b', 'study.duckdb');
    const db = await StudyDb.open(path);
    expect(db.schemaVersion).toBe(SCHEMA_VERSION);
    await db.close();
    await db.close();
    expect(existsSync(path)).toBe(true);
    // Reopening an up-to-date study migrates nothing.
    await (await StudyDb.open(path)).close();
    const tables = await sql(path, [`SELECT table_name FROM duckdb_tables() ORDER BY 1`]);
    expect(tables.map((t) => t.table_name)).toEqual(['routing_agreement', 'runs', 'samples', 'schema_version', 'tokens']);
    expect(await sql(path, ['SELECT version FROM schema_version'])).toEqual([{ version: SCHEMA_VERSION }]);
  });

  it('refuses a text file', async () => {
    const path = join(tempDir(), 'notes.duckdb');
    writeFileSync(path, 'these are my notes\nnot a database\n');
    await expectRefused(path, /not a flexibench study database \(not a DuckDB file\)$/);
    await expectRefused(path, /not a flexibench study database/, { readOnly: true });
  });

  it('refuses random bytes, with or without the DuckDB magic', async () => {
    const dir = tempDir();
    let x = 12345;
    const bytes = Buffer.from(Array.from({ length: 16384 }, () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 16) & 0xff));
    const plain = join(dir, 'random.bin');
    writeFileSync(plain, bytes);
    await expectRefused(plain, /not a flexibench study database \(not a DuckDB file\)$/);
    const magic = join(dir, 'magic.duckdb');
    const forged = Buffer.from(bytes);
    forged.write('DUCK', 8, 'ascii');
    writeFileSync(magic, forged);
    await expectRefused(magic, /the file is damaged, it does not open \(.*checksum.*\); nothing was written to it$/);
  });

  it('refuses an empty file and a directory', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'empty.duckdb'), '');
    await expectRefused(join(dir, 'empty.duckdb'), /not a flexibench study database \(not a DuckDB file\)$/);
    mkdirSync(join(dir, 'folder.duckdb'));
    await expectRefused(join(dir, 'folder.duckdb'), /not a flexibench study database \(not a regular file\)$/);
  });

  it('refuses a DuckDB database of something else and leaves it untouched', async () => {
    const path = join(tempDir(), 'other.duckdb');
    await sql(path, ['CREATE TABLE measurements (id INTEGER, value DOUBLE)', 'INSERT INTO measurements VALUES (1, 2.5)']);
    await expectRefused(path, /not a flexibench study database \(a DuckDB database without a schema_version table; it holds measurements\)$/);
    await expectRefused(path, /without a schema_version table/, { readOnly: true });
    expect(await sql(path, ['SELECT * FROM measurements'])).toEqual([{ id: 1, value: 2.5 }]);
  });

  it('refuses a study with tables it does not know', async () => {
    const path = join(tempDir(), 'study.duckdb');
    await (await StudyDb.open(path)).close();
    await sql(path, ['CREATE TABLE extra (x INTEGER)']);
    await expectRefused(path, /not a flexibench study database \(unknown tables extra\)$/);
  });

  it('refuses a file that claims a schema version but lacks its tables', async () => {
    const path = join(tempDir(), 'stub.duckdb');
    await sql(path, ['CREATE TABLE schema_version (version INTEGER NOT NULL)', 'INSERT INTO schema_version VALUES (1)']);
    await expectRefused(path, /not a flexibench study database \(schema version 1 but no runs, samples, tokens tables\)$/);
    await expectRefused(path, /no runs, samples, tokens tables/, { readOnly: true });
  });

  it('a damaged study: reads fail with one line naming the file, and the file is left as it was', async () => {
    const path = join(tempDir(), 'damaged.duckdb');
    const db = await StudyDb.open(path);
    await buildStudy(db);
    await db.close();
    truncateSync(path, Math.floor(statSync(path).size / 2));
    const before = readFileSync(path);
    const reader = await StudyDb.open(path, { readOnly: true });
    try {
      const err = await reader.read((conn) => readSummaryInputs(conn, path, 1)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(new RegExp(`^${path}: cannot read the study, the file is damaged \\(IO Error: Could not read`));
    } finally {
      await reader.close();
    }
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('refuses a study from a newer schema version', async () => {
    const path = join(tempDir(), 'study.duckdb');
    await (await StudyDb.open(path)).close();
    await sql(path, ['UPDATE schema_version SET version = 99']);
    await expectRefused(path, new RegExp(`written by a newer flexibench \\(schema version 99; this one reads up to ${SCHEMA_VERSION}\\)`));
    await expectRefused(path, /newer flexibench/, { readOnly: true });
  });

  it('read-only: refuses a missing file without creating it', async () => {
    const dir = tempDir();
    const path = join(dir, 'missing.duckdb');
    await expectRefused(path, /^.*: no such study database$/, { readOnly: true });
    expect(existsSync(path)).toBe(false);
  });

  it('takes an empty DuckDB database as a new study, but a report refuses it', async () => {
    const path = join(tempDir(), 'blank.duckdb');
    await sql(path, ['SELECT 1']);
    await expectRefused(path, /\(an empty DuckDB database\)$/, { readOnly: true });
    await (await StudyDb.open(path)).close();
    expect(await sql(path, ['SELECT version FROM schema_version'])).toEqual([{ version: SCHEMA_VERSION }]);
  });

  it('read-only: reads a study and refuses to write', async () => {
    const path = join(tempDir(), 'study.duckdb');
    await (await StudyDb.open(path)).close();
    const before = readFileSync(path);
    const db = await StudyDb.open(path, { readOnly: true });
    try {
      expect((await db.read((conn) => readSummaryInputs(conn, path, db.schemaVersion))).runs).toEqual([]);
      await expect(db.finishRun('x')).rejects.toThrow(/read-only/);
      await expect(db.ensureRun(identity(), metadata())).rejects.toThrow(/read-only/);
    } finally {
      await db.close();
    }
    expect(readFileSync(path).equals(before)).toBe(true);
  });
});
