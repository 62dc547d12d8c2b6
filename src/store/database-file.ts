/**
 * Opening a study database file without ever damaging a file that is not one. An existing file is
 * first checked for DuckDB's header, then opened READ_ONLY and inspected (tables, schema version);
 * only a file that is a study (or an empty DuckDB database) is reopened for writing, and only then
 * migrated. Every refusal is a one-line UserError that starts with the path.
 */
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { UserError } from '../errors.ts';
import { SCHEMA_VERSION, STUDY_TABLES, migrate, readSchemaState } from './schema.ts';

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

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
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
    const reason = firstLine(err);
    if (/could not set lock|conflicting lock/i.test(reason)) throw new UserError(`${path}: in use by another process (${reason})`);
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
 * and an older schema is migrated; with it, a missing file or one that needs migrating is refused.
 */
export async function openStudyFile(path: string, opts: { readOnly?: boolean } = {}): Promise<OpenedDatabase> {
  const readOnly = opts.readOnly === true;
  if (!existsSync(path)) {
    if (readOnly) throw new UserError(`${path}: no such study database`);
    mkdirSync(dirname(path), { recursive: true });
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
        throw new UserError(`${path}: written by a newer flexibench (schema version ${state.version}; this one reads up to ${SCHEMA_VERSION}); refusing to touch it`);
      }
      if (state.version < 1) throw notAStudy(path, 'its schema_version table is empty');
      const foreign = state.tables.filter((t) => !STUDY_TABLES.has(t));
      if (foreign.length > 0) throw notAStudy(path, `unknown tables ${foreign.join(', ')}`);
      const missing = [...STUDY_TABLES].filter((t) => !state.tables.includes(t));
      if (missing.length > 0) throw notAStudy(path, `schema version ${state.version} but no ${missing.join(', ')} table${missing.length > 1 ? 's' : ''}`);
      version = state.version;
    }
  } finally {
    disconnect(probe);
  }

  if (readOnly) {
    if (version === 0) throw notAStudy(path, 'an empty DuckDB database');
    if (version < SCHEMA_VERSION) {
      throw new UserError(`${path}: study database at schema version ${version} needs migrating to ${SCHEMA_VERSION}; open it once with flexibench run`);
    }
    return { ...(await connectTo(path, true)), schemaVersion: version };
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
