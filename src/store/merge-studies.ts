/**
 * `flexibench merge`: study databases (typically the shards of one study, `run --shard K/N`)
 * combined into one study, in SQL: every input is ATTACHed READ_ONLY to the output's connection.
 *
 * - Runs with the same run_id (the hash of their identity, run-identity.ts) become one run. A run new
 *   to the output takes the metadata (model dir, versions, hardware, threads, ...) of its copy that
 *   started first; a run already in the output keeps its own. Either way started_at becomes the
 *   earliest start of all copies and ended_at the latest end (NULL only while no copy has ended).
 *   The `shard` that `run --shard` records in hardware is dropped once a run holds several shards.
 * - A sample (run, doc id) found in several places is kept once when its copies are identical: the
 *   same prompt, output, reference, metrics, counts, status and token rows (timings and written_at may
 *   differ). A 'done' copy beats an 'error' one. Two 'done' copies that differ are refused.
 * - Inputs of another model (model hash), or with another config of the same suite, are refused
 *   unless `allowMixed`; two copies of one run_id whose identities differ are always refused.
 * - Everything is checked before anything is written, and written in one transaction: a refusal or
 *   failure leaves the output as it was. A new output is built in a temporary file beside it and
 *   renamed into place, so it does not exist unless the merge succeeded.
 * - Merging what the output already holds changes nothing.
 */
import { existsSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { UserError, oneLineReason } from '../errors.ts';
import { sqlString } from '../sql-literal.ts';
import { firstUnreadableTable, openStudyFile, type OpenedDatabase } from './database-file.ts';
import { describeIoFailure, ioFailureOf, type IoFailure } from './io-failure.ts';
import { SCHEMA_VERSION, STUDY_TABLES } from './schema.ts';

export interface MergeOptions {
  /** Merge inputs of different models or suite configs. */
  allowMixed?: boolean;
  log?: NodeJS.WritableStream;
}

export interface MergeStats {
  runsAdded: number;
  runsUpdated: number;
  samplesAdded: number;
  /** Error samples of the output replaced by a done copy from an input. */
  samplesReplaced: number;
  /** Sample copies already present (identical) or beaten by a done copy. */
  samplesSkipped: number;
}

const SAMPLE_COLUMNS = [
  'run_id',
  'doc_id',
  'doc_index',
  'prompt',
  'output',
  'reference',
  'metrics',
  'prompt_tokens',
  'generated_tokens',
  'prefill_ms',
  'decode_ms',
  'stop_reason',
  'status',
  'error',
  'written_at',
  'truncated_tokens',
].join(', ');
const TOKEN_COLUMNS = 'run_id, doc_id, position, token_id, text, phase, layers_used, mask, gates, bytes';
const AGREEMENT_COLUMNS = 'run_id, doc_id, reference_run_id, decisions, identical, written_at';
const RUN_COLUMNS = [
  'run_id',
  'model_hash',
  'variant',
  'suite',
  'suite_config_hash',
  'seed',
  'doc_limit',
  'threshold',
  'generation',
  'identity',
  'model_dir',
  'layers_total',
  'routing_layers',
  'suite_config',
  'git_revision',
  'package_versions',
  'hardware',
  'execution_provider',
  'threads',
  'comparator',
  // Last: the merge computes them (run_span) and appends them after the copied columns.
  'started_at',
  'ended_at',
];

/** What two copies of a sample must share to be one sample: everything but timings and written_at. */
const SAMPLE_DIGEST = `md5(to_json(struct_pack(doc_index, prompt, output, reference, metrics := metrics::VARCHAR, prompt_tokens,
  generated_tokens, stop_reason, status, error, truncated_tokens))::VARCHAR)`;
const TOKEN_DIGEST = `md5(string_agg(to_json(struct_pack(position, token_id, text, phase, layers_used, mask, gates, bytes := hex(bytes)))::VARCHAR,
  chr(10) ORDER BY position))`;

/**
 * A run's hardware (r) as merged (s, its run_span row): `run --shard` records the machine's shard
 * there, which no longer holds once the run combines several shards, so it is dropped then.
 */
const MERGED_HARDWARE = `CASE WHEN s.several_shards THEN json_merge_patch(r.hardware, '{"shard": null}') ELSE r.hardware END`;
/** Whether a run of the output (r) changes in the merge (s, its run_span row). */
const RUN_CHANGED = `r.started_at <> s.started_at OR r.ended_at IS DISTINCT FROM s.ended_at OR r.hardware IS DISTINCT FROM ${MERGED_HARDWARE}`;

/** The output is source -1; inputs are 0, 1, ... */
const OUT = -1;

function catalogOf(source: number): string {
  // The output is the connection's own database; `main` is its schema.
  return source === OUT ? 'main' : `merge_input_${source}`;
}

async function rows(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await conn.runAndReadAll(sql)).getRowObjectsJS();
}

/** Inputs named twice are merged once; an input that is the output is refused. */
function distinctInputs(out: string, inputs: readonly string[]): string[] {
  if (inputs.length === 0) throw new UserError('merge: no input databases given');
  const seen = new Set<string>();
  const kept: string[] = [];
  const outReal = existsSync(out) ? realpathSync(out) : resolve(out);
  for (const path of inputs) {
    if (!existsSync(path)) throw new UserError(`${path}: no such study database`);
    const real = realpathSync(path);
    if (real === outReal) throw new UserError(`merge: ${path} is the --out database itself`);
    if (seen.has(real)) continue;
    seen.add(real);
    kept.push(path);
  }
  return kept;
}

/** Each input passes the study-open checks (header, tables, schema version) read-only, then is released. */
async function checkInput(path: string): Promise<void> {
  const db = await openStudyFile(path, { readOnly: true });
  db.connection.closeSync();
  db.instance.closeSync();
  // Merging reads the inputs' tables as they are, in the current schema.
  if (db.schemaVersion < SCHEMA_VERSION) {
    throw new UserError(
      `${path}: study database at schema version ${db.schemaVersion} needs migrating to ${SCHEMA_VERSION} before a merge; open it once with flexibench run`,
    );
  }
}

async function attachInputs(conn: DuckDBConnection, inputs: readonly string[]): Promise<void> {
  for (const [i, path] of inputs.entries()) {
    try {
      await conn.run(`ATTACH ${sqlString(resolve(path))} AS ${catalogOf(i)} (READ_ONLY)`);
    } catch (err) {
      throw new UserError(`${path}: cannot open it to merge (${oneLineReason(err)})`);
    }
    // A damaged input is refused before any write.
    const bad = await firstUnreadableTable(conn, [...STUDY_TABLES], catalogOf(i));
    if (bad !== null) {
      throw new UserError(`${path}: the study is damaged, table ${bad.table} does not read back (${bad.reason}); nothing was merged`);
    }
  }
}

/** Temp tables of every copy of every run and sample, in the output (-1) and each input. */
async function gatherCopies(conn: DuckDBConnection, sources: number): Promise<void> {
  const all = [OUT, ...Array.from({ length: sources }, (_, i) => i)];
  const union = (select: (source: number, catalog: string) => string): string => all.map((s) => select(s, catalogOf(s))).join('\nUNION ALL\n');
  await conn.run(
    `CREATE TEMP TABLE run_copies AS ${union((s, c) => `SELECT ${s} AS source, run_id, model_hash, suite, suite_config_hash, identity::VARCHAR AS identity, hardware->>'shard' AS shard, started_at, ended_at FROM ${c}.runs`)}`,
  );
  await conn.run(
    `CREATE TEMP TABLE sample_copies AS ${union(
      (s, c) => `SELECT ${s} AS source, s.run_id, s.doc_id, s.status, ${SAMPLE_DIGEST.replaceAll('\n', ' ')} || ':' || coalesce(t.digest, '') AS digest,
        ${SAMPLE_DIGEST.replaceAll('\n', ' ')} AS sample_digest
      FROM ${c}.samples s LEFT JOIN (SELECT run_id, doc_id, ${TOKEN_DIGEST} AS digest FROM ${c}.tokens GROUP BY run_id, doc_id) t USING (run_id, doc_id)`,
    )}`,
  );
}

/** Throws the first conflict, as one line naming it and the files that hold it. */
async function refuseConflicts(conn: DuckDBConnection, nameOf: (source: number) => string, allowMixed: boolean): Promise<void> {
  const files = (sources: unknown): string => [...new Set((sources as number[]).map(nameOf))].join(' and ');
  const sameId = await rows(
    conn,
    `SELECT run_id, list(DISTINCT source ORDER BY source) AS sources FROM run_copies GROUP BY run_id HAVING count(DISTINCT identity) > 1 ORDER BY run_id LIMIT 1`,
  );
  if (sameId[0] !== undefined)
    throw new UserError(`merge: run ${String(sameId[0].run_id)} has different identities in ${files(sameId[0].sources)}; nothing was merged`);
  if (!allowMixed) {
    const models = await rows(conn, `SELECT model_hash, min(source) AS source FROM run_copies GROUP BY model_hash ORDER BY min(source), model_hash LIMIT 2`);
    if (models.length > 1) {
      const [a, b] = models as [Record<string, unknown>, Record<string, unknown>];
      throw new UserError(
        `merge: ${nameOf(Number(a.source))} and ${nameOf(Number(b.source))} hold runs of different models ` +
          `(model hash ${String(a.model_hash).slice(0, 12)} vs ${String(b.model_hash).slice(0, 12)}); nothing was merged (--allow-mixed merges them anyway)`,
      );
    }
    const configs = await rows(
      conn,
      `SELECT suite, suite_config_hash, min(source) AS source FROM run_copies
       WHERE suite IN (SELECT suite FROM run_copies GROUP BY suite HAVING count(DISTINCT suite_config_hash) > 1)
       GROUP BY suite, suite_config_hash ORDER BY suite, min(source), suite_config_hash LIMIT 2`,
    );
    if (configs.length > 1) {
      const [a, b] = configs as [Record<string, unknown>, Record<string, unknown>];
      throw new UserError(
        `merge: ${nameOf(Number(a.source))} and ${nameOf(Number(b.source))} hold suite ${String(a.suite)} with different configs ` +
          `(config hash ${String(a.suite_config_hash).slice(0, 12)} vs ${String(b.suite_config_hash).slice(0, 12)}); nothing was merged (--allow-mixed merges them anyway)`,
      );
    }
  }
  const differing = await rows(
    conn,
    `SELECT c.run_id, c.doc_id, r.suite, r.variant, list(DISTINCT c.source ORDER BY c.source) AS sources,
            count(DISTINCT c.sample_digest) > 1 AS sample_differs
     FROM sample_copies c JOIN (SELECT DISTINCT run_id, suite, json_extract_string(identity, '$.variant') AS variant FROM run_copies) r USING (run_id)
     WHERE c.status = 'done' GROUP BY c.run_id, c.doc_id, r.suite, r.variant HAVING count(DISTINCT c.digest) > 1
     ORDER BY c.run_id, c.doc_id LIMIT 1`,
  );
  const d = differing[0];
  if (d !== undefined) {
    throw new UserError(
      `merge: sample ${String(d.doc_id)} of run ${String(d.run_id)} (${String(d.suite)} ${String(d.variant)}) differs between ${files(d.sources)} ` +
        `(${d.sample_differs === true ? 'its output, metrics or prompt' : 'its token rows'}); nothing was merged`,
    );
  }
}

/** In one transaction: the runs, then each chosen sample with its tokens. */
async function writeMerge(conn: DuckDBConnection, sources: number): Promise<MergeStats> {
  // Per (run, doc): a done copy first, then the output's own, then inputs in order.
  await conn.run(`CREATE TEMP TABLE chosen AS
    SELECT run_id, doc_id, source FROM (
      SELECT run_id, doc_id, source, row_number() OVER (PARTITION BY run_id, doc_id ORDER BY status = 'done' DESC, source) AS k FROM sample_copies)
    WHERE k = 1`);
  // Runs: the earliest start and the latest end of all copies; metadata of the first-started copy.
  await conn.run(`CREATE TEMP TABLE run_span AS
    SELECT run_id, min(started_at) AS started_at, max(ended_at) AS ended_at, arg_min(source, (started_at, source)) AS first_source,
           bool_or(source = ${OUT}) AS in_out, count(DISTINCT shard) > 1 AS several_shards
    FROM run_copies GROUP BY run_id`);
  const [counts] = await rows(
    conn,
    `SELECT
       (SELECT count(*) FROM run_span WHERE NOT in_out)::INTEGER AS runs_added,
       (SELECT count(*) FROM run_span s JOIN main.runs r USING (run_id) WHERE ${RUN_CHANGED})::INTEGER AS runs_updated,
       (SELECT count(*) FROM chosen c WHERE c.source <> ${OUT})::INTEGER AS samples_new,
       (SELECT count(*) FROM chosen c JOIN main.samples s USING (run_id, doc_id) WHERE c.source <> ${OUT})::INTEGER AS samples_replaced,
       (SELECT count(*) FROM sample_copies WHERE source <> ${OUT})::INTEGER AS copies`,
  );
  const n = (key: string): number => Number(counts?.[key] ?? 0);
  const stats: MergeStats = {
    runsAdded: n('runs_added'),
    runsUpdated: n('runs_updated'),
    samplesAdded: n('samples_new') - n('samples_replaced'),
    samplesReplaced: n('samples_replaced'),
    samplesSkipped: n('copies') - n('samples_new'),
  };
  await conn.run('BEGIN TRANSACTION');
  try {
    await conn.run(`UPDATE main.runs r SET started_at = s.started_at, ended_at = s.ended_at, hardware = ${MERGED_HARDWARE}
                    FROM run_span s WHERE r.run_id = s.run_id AND (${RUN_CHANGED})`);
    const runCopyColumns = RUN_COLUMNS.filter((c) => c !== 'started_at' && c !== 'ended_at')
      .map((c) => (c === 'hardware' ? `${MERGED_HARDWARE} AS hardware` : `r.${c}`))
      .join(', ');
    for (let i = 0; i < sources; i++) {
      await conn.run(`INSERT INTO main.runs (${RUN_COLUMNS.join(', ')})
        SELECT ${runCopyColumns}, s.started_at, s.ended_at FROM ${catalogOf(i)}.runs r JOIN run_span s USING (run_id)
        WHERE NOT s.in_out AND s.first_source = ${i}`);
    }
    // An output's 'error' sample that an input has done: its row and tokens go first.
    for (const table of ['tokens', 'samples']) {
      await conn.run(`DELETE FROM main.${table} x USING chosen c WHERE x.run_id = c.run_id AND x.doc_id = c.doc_id AND c.source <> ${OUT}`);
    }
    for (let i = 0; i < sources; i++) {
      const c = catalogOf(i);
      await conn.run(`INSERT INTO main.samples (${SAMPLE_COLUMNS})
        SELECT ${SAMPLE_COLUMNS} FROM ${c}.samples JOIN chosen USING (run_id, doc_id) WHERE chosen.source = ${i}`);
      await conn.run(`INSERT INTO main.tokens (${TOKEN_COLUMNS})
        SELECT ${TOKEN_COLUMNS} FROM ${c}.tokens JOIN chosen USING (run_id, doc_id) WHERE chosen.source = ${i}
        ORDER BY run_id, doc_id, position`);
      // Agreement rows are recomputable counts: a document's first copy is kept.
      await conn.run(`INSERT INTO main.routing_agreement (${AGREEMENT_COLUMNS})
        SELECT ${AGREEMENT_COLUMNS} FROM ${c}.routing_agreement a
        WHERE NOT EXISTS (SELECT 1 FROM main.routing_agreement m WHERE m.run_id = a.run_id AND m.doc_id = a.doc_id)`);
    }
    await conn.run('COMMIT');
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return stats;
}

function close(db: OpenedDatabase): void {
  db.connection.closeSync();
  db.instance.closeSync();
}

/** A write of the merge that the file system refused (disk full, size limit, permissions), named by the output the user gave. */
function writeFailed(out: string, failure: IoFailure, created: boolean): UserError {
  const denied = created && ['EACCES', 'EPERM', 'EROFS'].includes(failure.code);
  const what = denied ? `cannot create ${out}, its folder ${dirname(resolve(out))} is read-only` : `cannot write ${out}`;
  return new UserError(`merge: ${what} (${describeIoFailure(failure)}); nothing was merged${created && !denied ? `, ${out} was not created` : ''}`);
}

/**
 * An I/O failure while the attached studies are read and the output written. DuckDB's IO Error
 * names the file it was reading or writing: an input named there is blamed for it; an EIO (a read
 * of an input as likely as a write of the output) is worded without blaming either; anything else
 * (disk full, size limit, permissions) can only be the output's write.
 */
function mergeFailed(err: unknown, failure: IoFailure, inputs: readonly string[], opts: { out: string; created: boolean }): UserError {
  const reason = oneLineReason(err);
  const input = inputs.find((path) => reason.includes(`"${resolve(path)}"`));
  if (input !== undefined) return new UserError(`${input}: cannot read it to merge (${describeIoFailure(failure)}); nothing was merged`);
  if (failure.code === 'EIO') {
    const notCreated = opts.created ? `, ${opts.out} was not created` : '';
    return new UserError(`merge: an I/O error (${describeIoFailure(failure)}) while merging into ${opts.out}; nothing was merged${notCreated}`);
  }
  return writeFailed(opts.out, failure, opts.created);
}

/**
 * Merges into the study at `dbPath`; `out` is what the user named (dbPath is a temporary file when
 * `created`). A new file is checkpointed before it is closed: a checkpoint that fails at close
 * (disk full) is silent and leaves the data in the write-ahead log, which the rename would drop.
 */
async function mergeInto(
  dbPath: string,
  inputs: readonly string[],
  nameOf: (source: number) => string,
  opts: { allowMixed: boolean; out: string; created: boolean },
): Promise<MergeStats> {
  const db = await openStudyFile(dbPath);
  try {
    const conn = db.connection;
    await attachInputs(conn, inputs);
    try {
      await gatherCopies(conn, inputs.length);
      await refuseConflicts(conn, nameOf, opts.allowMixed);
      const stats = await writeMerge(conn, inputs.length);
      if (opts.created) await conn.run('CHECKPOINT');
      return stats;
    } catch (err) {
      const failure = ioFailureOf(err);
      throw failure === null ? err : mergeFailed(err, failure, inputs, opts);
    }
  } finally {
    close(db);
  }
}

/**
 * Merges `inputs` into the study at `out` (created when missing). Every refusal is a one-line
 * UserError naming the conflict; nothing is written then.
 */
export async function mergeStudies(out: string, inputs: readonly string[], opts: MergeOptions = {}): Promise<MergeStats> {
  const kept = distinctInputs(out, inputs);
  for (const path of kept) await checkInput(path);
  const nameOf = (source: number): string => (source === OUT ? `${out} (--out)` : (kept[source] ?? '?'));
  const allowMixed = opts.allowMixed === true;
  if (existsSync(out)) return mergeInto(out, kept, nameOf, { allowMixed, out, created: false });
  const temp = join(dirname(resolve(out)), `.${basename(out)}.merging-${process.pid}`);
  const cleanUp = (): void => {
    for (const f of [temp, `${temp}.wal`]) rmSync(f, { force: true });
  };
  cleanUp();
  try {
    const stats = await mergeInto(temp, kept, (s) => (s === OUT ? out : nameOf(s)), { allowMixed, out, created: true });
    if (existsSync(`${temp}.wal`)) throw new Error(`merge: ${temp}.wal is left after closing the merged study`);
    renameSync(temp, out);
    return stats;
  } catch (err) {
    // The temporary file is an implementation detail: a failure to create or write it is the output's.
    const failure = ioFailureOf(err);
    throw failure === null ? err : writeFailed(out, failure, true);
  } finally {
    cleanUp();
  }
}
