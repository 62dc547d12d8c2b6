/**
 * Opening a study database file without ever damaging a file that is not one. An existing file is
 * first checked for DuckDB's header, then opened READ_ONLY and inspected before any query reads its
 * data: tables, schema version, every column of every table (table-shape.ts) and the values that
 * size a report's memory (run-bounds.ts). Only a file that is a study (or an empty DuckDB database),
 * in a place that can be written, is reopened for writing, and only then migrated. Before a write,
 * every table of an existing study is read in full, so a damaged file (truncated, overwritten,
 * failing DuckDB's block checksums) is refused before anything is written to it. Every refusal is
 * a one-line UserError that starts with the path and says which it is: not a study, damaged,
 * changed outside flexibench, from a newer flexibench, or a file or folder that cannot be written
 * (with the errno).
 */
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { UserError, oneLineReason } from '../errors.ts';
import { StudyIoError, ioFailure, ioFailureOf, type IoFailure } from './io-failure.ts';
import { RUNS_OUT_OF_BOUNDS_SQL, runShapeProblem } from './run-bounds.ts';
import { SCHEMA_VERSION, STUDY_TABLES, currentVersionViews, studyTablesOf, migrate, readSchemaVersion, readTableNames } from './schema.ts';
import { expectedColumnShapes, readColumnShapes, shapeDifference } from './table-shape.ts';

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

/** A study whose tables or values are not what flexibench writes. */
function changedStudy(path: string, what: string): UserError {
  return new UserError(`${path}: the study's ${what}; the file was changed outside flexibench, refusing to use it`);
}

export { StudyIoError } from './io-failure.ts';

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
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const failure = ioFailure(err);
    if (failure !== null) throw new StudyIoError(path, 'cannot read the study', failure);
    throw err;
  }
  try {
    const head = Buffer.alloc(MAGIC_OFFSET + MAGIC.length);
    const read = readSync(fd, head, 0, head.length, 0);
    return read === head.length && head.subarray(MAGIC_OFFSET).equals(MAGIC);
  } finally {
    closeSync(fd);
  }
}

async function connectTo(path: string, readOnly: boolean): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  const existed = existsSync(path);
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path, { access_mode: readOnly ? 'READ_ONLY' : 'READ_WRITE' });
  } catch (err) {
    const reason = oneLineReason(err);
    if (/could not set lock|conflicting lock/i.test(reason)) throw new UserError(`${path}: in use by another process (${reason})`);
    // Before the damage test: "Could not read" also starts DuckDB's message for a file it may not read.
    const failure = ioFailure(err);
    if (failure !== null) {
      // What DuckDB began of a new file (a header cut short by a full disk) would later read as a damaged study.
      if (!existed) for (const f of [path, `${path}.wal`]) rmSync(f, { force: true });
      throw new StudyIoError(path, readOnly ? 'cannot read the study' : existed ? 'cannot write to the study' : 'cannot create the study', failure);
    }
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
 * The schema version of the existing study `conn` holds (0 for an empty DuckDB database), checked
 * to be one flexibench can read before any query reads its rows: the tables, their columns (the
 * schema_version table's before the version is read from it), and the runs' layer counts.
 */
async function checkedVersion(path: string, conn: DuckDBConnection): Promise<number> {
  const tables = await readTableNames(conn);
  if (!tables.includes('schema_version')) {
    if (tables.length > 0) throw notAStudy(path, `a DuckDB database without a schema_version table; it holds ${tables.join(', ')}`);
    return 0;
  }
  const columns = await readColumnShapes(conn);
  // The version is read before the columns can be checked against it; schema_version's are the same in every version.
  if (!columns.some((c) => c.table === 'schema_version' && c.column === 'version' && c.type === 'INTEGER')) {
    const versionTable = shapeDifference(await expectedColumnShapes(SCHEMA_VERSION), columns, ['schema_version'], SCHEMA_VERSION);
    throw changedStudy(path, versionTable ?? 'table schema_version has no INTEGER column version');
  }
  const version = await readSchemaVersion(conn);
  if (version > SCHEMA_VERSION) {
    throw new UserError(`${path}: written by a newer flexibench (schema version ${version}; this one reads up to ${SCHEMA_VERSION}); refusing to touch it`);
  }
  if (version < 1) throw notAStudy(path, 'its schema_version table is empty');
  const foreign = tables.filter((t) => !STUDY_TABLES.has(t));
  if (foreign.length > 0) throw notAStudy(path, `unknown tables ${foreign.join(', ')}`);
  const missing = studyTablesOf(version).filter((t) => !tables.includes(t));
  if (missing.length > 0) throw notAStudy(path, `schema version ${version} but no ${missing.join(', ')} table${missing.length > 1 ? 's' : ''}`);
  const shape = shapeDifference(await expectedColumnShapes(version), columns, studyTablesOf(version), version);
  if (shape !== null) throw changedStudy(path, shape);
  const run = (await conn.runAndReadAll(RUNS_OUT_OF_BOUNDS_SQL)).getRowObjectsJS()[0];
  if (run !== undefined) {
    const problem = runShapeProblem({
      layersTotal: Number(run.layers_total),
      routingCount: Number(run.routing_count),
      badRoutingCount: Number(run.bad_routing_count),
    });
    throw changedStudy(path, `run ${String(run.run_id).slice(0, 64)} has ${problem ?? 'layer counts out of bounds'}`);
  }
  return version;
}

/** `err` as a StudyIoError when the file system refused the write (disk full, permissions); anything else as it is. */
function writeError(path: string, what: string, err: unknown): unknown {
  const failure = ioFailureOf(err);
  return failure === null ? err : new StudyIoError(path, what, failure);
}

const errnoOf = (err: unknown): IoFailure => ioFailure(err) ?? { code: (err as NodeJS.ErrnoException).code ?? 'error', meaning: oneLineReason(err) };

/**
 * Refuses, before DuckDB is asked to write, a study that cannot be written where it is: a read-only
 * file, or a folder in which DuckDB cannot create the file or its write-ahead log (`FILE.wal`,
 * created beside the file on the first write; DuckDB itself fails only then, halfway through a run).
 * access(2) answers as the kernel would for this user, a read-only mount included.
 */
function checkWritable(path: string): void {
  const folder = dirname(resolve(path));
  const exists = existsSync(path);
  const readingWorks = 'reading it, as report does, still works';
  if (exists) {
    try {
      accessSync(path, constants.W_OK);
    } catch (err) {
      throw new StudyIoError(path, 'cannot write to the study, the file is read-only', errnoOf(err), readingWorks);
    }
  }
  try {
    accessSync(folder, constants.W_OK | constants.X_OK);
  } catch (err) {
    if (!exists) throw new StudyIoError(path, `cannot create the study, its folder ${folder} is read-only`, errnoOf(err));
    const what = `cannot write to the study, its folder ${folder} is read-only and DuckDB must create ${basename(path)}.wal there`;
    throw new StudyIoError(path, what, errnoOf(err), readingWorks);
  }
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
    checkWritable(path);
    const db = await connectTo(path, false);
    try {
      await migrate(db.connection, 0);
    } catch (err) {
      disconnect(db);
      // A study that could not be set up is not left behind half made (a full disk, mostly).
      for (const f of [path, `${path}.wal`]) rmSync(f, { force: true });
      throw writeError(path, 'cannot create the study', err);
    }
    return { ...db, schemaVersion: SCHEMA_VERSION };
  }

  if (!statSync(path).isFile()) throw notAStudy(path, 'not a regular file');
  if (!hasDuckDbHeader(path)) throw notAStudy(path, 'not a DuckDB file');

  const probe = await connectTo(path, true);
  let version: number;
  try {
    version = await checkedVersion(path, probe.connection);
    if (!readOnly) await checkEveryBlockReads(path, probe.connection, version > 0 ? studyTablesOf(version) : []);
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
  checkWritable(path);
  const db = await connectTo(path, false);
  try {
    await migrate(db.connection, version);
  } catch (err) {
    disconnect(db);
    throw writeError(path, 'cannot migrate the study to the current schema, nothing changed', err);
  }
  return { ...db, schemaVersion: SCHEMA_VERSION };
}
