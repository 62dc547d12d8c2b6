/**
 * Opening a study database file without ever damaging a file that is not one. An existing file is
 * first checked for DuckDB's header, then opened READ_ONLY and inspected (tables, schema version);
 * only a file that is a study (or an empty DuckDB database) is reopened for writing, and only then
 * migrated. Before a write, every table of an existing study is read in full, so a damaged file
 * (truncated, overwritten, failing DuckDB's block checksums) is refused before anything is written
 * to it. Every refusal is a one-line UserError that starts with the path.
 */
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { UserError, oneLineReason } from '../errors.ts';
import { SCHEMA_VERSION, STUDY_TABLES, currentVersionViews, migrate, readSchemaState } from './schema.ts';

export interface OpenedDatabase {
  instance: DuckDBInstance;
  connection: DuckDBConnection;
  schemaVersion: number;
}

/** DuckDB's main header: 8 bytes of checksum, then the magic bytes. */
const MAGIC = Buffer.from('DUCK', 'ascii');
const MAGIC_OFFSET = 8;

function notAStudy(path: string, why: string): UserError {
  return new UserError(`${path}: not a flexibench study database (${why})`);
}

function makeParentFolder(path: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // mkdir -p says EEXIST or ENOTDIR when a part of the path is a file.
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new UserError(`${path}: cannot create its folder, a part of ${dirname(path)} is a file`);
    throw new UserError(`${path}: cannot create its folder (${code ?? oneLineReason(err)})`);
  }
}

/**
 * The first of `tables` that does not read back in full, with DuckDB's reason; null when all do.
 * Every column of every row is read, so DuckDB verifies each block's checksum. Cheap next to a
 * run: ~50 ms per 600k token rows. `catalog` names an ATTACHed study; by default the connection's own.
 */
export async function firstUnreadableTable(
  connection: DuckDBConnection,
  tables: readonly string[],
  catalog?: string,
): Promise<{ table: string; reason: string } | null> {
  for (const table of tables) {
    try {
      await connection.run(`SELECT count(row) FROM ${catalog === undefined ? '' : `${catalog}.main.`}"${table}" row`);
    } catch (err) {
      return { table, reason: oneLineReason(err) };
    }
  }
  return null;
}

/**
 * Refuses a damaged study before anything is written to it: writing into a damaged file would make
 * it worse (DuckDB appends past the damage, then fails to roll back and invalidates the database).
 */
async function checkEveryBlockReads(path: string, connection: DuckDBConnection, tables: readonly string[]): Promise<void> {
  const bad = await firstUnreadableTable(connection, tables);
  if (bad === null) return;
  throw new UserError(
    `${path}: the study is damaged, table ${bad.table} does not read back (${bad.reason}); nothing was written to it. ` +
      'Move it aside and rerun with --db NEW.duckdb to start a new study',
  );
}

function hasDuckDbHeader(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(MAGIC_OFFSET + MAGIC.length);
    const read = readSync(fd, head, 0, head.length, 0);
    return read === head.length && head.subarray(MAGIC_OFFSET).equals(MAGIC);
  } finally {
    closeSync(fd);
  }
}

async function connectTo(path: string, readOnly: boolean): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path, { access_mode: readOnly ? 'READ_ONLY' : 'READ_WRITE' });
  } catch (err) {
    const reason = oneLineReason(err);
    if (/could not set lock|conflicting lock/i.test(reason)) throw new UserError(`${path}: in use by another process (${reason})`);
    if (/checksum|Could not read/i.test(reason)) throw new UserError(`${path}: the file is damaged, it does not open (${reason}); nothing was written to it`);
    throw notAStudy(path, reason);
  }
  try {
    return { instance, connection: await instance.connect() };
  } catch (err) {
    instance.closeSync();
    throw err;
  }
}

function disconnect(db: { instance: DuckDBInstance; connection: DuckDBConnection }): void {
  db.connection.closeSync();
  db.instance.closeSync();
}

/**
 * Opens `path` as a study database. Without `readOnly`, a missing file (and its folder) is created
 * and an older schema is migrated; with it, a missing file is refused and an older schema is read
 * through views of the current one (schema.ts, currentVersionViews), leaving the file as it is.
 */
export async function openStudyFile(path: string, opts: { readOnly?: boolean } = {}): Promise<OpenedDatabase> {
  const readOnly = opts.readOnly === true;
  if (!existsSync(path)) {
    if (readOnly) throw new UserError(`${path}: no such study database`);
    makeParentFolder(path);
    const db = await connectTo(path, false);
    try {
      await migrate(db.connection, 0);
    } catch (err) {
      disconnect(db);
      throw err;
    }
    return { ...db, schemaVersion: SCHEMA_VERSION };
  }

  if (!statSync(path).isFile()) throw notAStudy(path, 'not a regular file');
  if (!hasDuckDbHeader(path)) throw notAStudy(path, 'not a DuckDB file');

  const probe = await connectTo(path, true);
  let version: number;
  try {
    const state = await readSchemaState(probe.connection);
    if (state.version === null) {
      if (state.tables.length > 0) throw notAStudy(path, `a DuckDB database without a schema_version table; it holds ${state.tables.join(', ')}`);
      version = 0;
    } else {
      if (state.version > SCHEMA_VERSION) {
        throw new UserError(
          `${path}: written by a newer flexibench (schema version ${state.version}; this one reads up to ${SCHEMA_VERSION}); refusing to touch it`,
        );
      }
      if (state.version < 1) throw notAStudy(path, 'its schema_version table is empty');
      const foreign = state.tables.filter((t) => !STUDY_TABLES.has(t));
      if (foreign.length > 0) throw notAStudy(path, `unknown tables ${foreign.join(', ')}`);
      const missing = [...STUDY_TABLES].filter((t) => !state.tables.includes(t));
      if (missing.length > 0) throw notAStudy(path, `schema version ${state.version} but no ${missing.join(', ')} table${missing.length > 1 ? 's' : ''}`);
      version = state.version;
    }
    if (!readOnly) await checkEveryBlockReads(path, probe.connection, state.tables);
  } finally {
    disconnect(probe);
  }

  if (readOnly) {
    if (version === 0) throw notAStudy(path, 'an empty DuckDB database');
    const db = await connectTo(path, true);
    try {
      // An older file is read through views of the current schema, not migrated: reading never writes.
      const catalog = String((await db.connection.runAndReadAll('SELECT current_database() AS c')).getRowObjectsJS()[0]?.c);
      for (const view of currentVersionViews(version, catalog)) await db.connection.run(view);
    } catch (err) {
      disconnect(db);
      throw err;
    }
    return { ...db, schemaVersion: version };
  }
  const db = await connectTo(path, false);
  try {
    await migrate(db.connection, version);
  } catch (err) {
    disconnect(db);
    throw err;
  }
  return { ...db, schemaVersion: SCHEMA_VERSION };
}
