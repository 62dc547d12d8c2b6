/**
 * One study database (docs/design.md "Store"): runs, their samples, and every position's layer
 * allocation. A finished sample and all its token rows are written in one transaction, so a run
 * killed at any moment (SIGKILL included) leaves whole samples or nothing of them, and a rerun
 * resumes from `completedDocIds`.
 *
 * Calls are serialized internally: a DuckDB connection has one transaction at a time, and the
 * runner finishes samples concurrently.
 */
import type { DuckDBConnection, DuckDBInstance, DuckDBPreparedStatement, DuckDBValue } from '@duckdb/node-api';
import { UserError, oneLineReason } from '../errors.ts';
import { openStudyFile } from './database-file.ts';
import { stableJson } from '../canonical-json.ts';
import type { RunComparator } from './run-comparator.ts';
import { runIdOf, type RunIdentity } from './run-identity.ts';
import { appendTokenRows, checkTokenSequence, type TokenRecord } from './token-rows.ts';

export type { RunIdentity } from './run-identity.ts';
export type { TokenRecord } from './token-rows.ts';

/** Where a study goes when the user names none: `run` writes there and `report` reads from there. */
export const DEFAULT_DB = 'results/flexibench.duckdb';

export interface RunMetadata {
  modelDir: string;
  layersTotal: number;
  routingLayers: number[];
  suiteConfig: unknown;
  gitRevision: string | null;
  packageVersions: Record<string, string>;
  hardware: Record<string, unknown>;
  executionProvider: string;
  threads: Record<string, number>;
  startedAt: string;
  /** Comparator runs (`static`, `random`): what they were matched to and how they route. */
  comparator?: RunComparator;
}

export interface SampleRecord {
  docId: string;
  docIndex: number;
  prompt: string;
  output: string;
  reference: string;
  metrics: Record<string, number | string>;
  promptTokens: number;
  /** Tokens cut from the prompt's start to fit the max length. */
  truncatedTokens: number;
  generatedTokens: number;
  prefillMs: number;
  decodeMs: number;
  stopReason: string;
  status: 'done' | 'error';
  error: string | null;
}

const SAMPLE_COLUMNS =
  'run_id, doc_id, doc_index, prompt, output, reference, metrics, prompt_tokens, generated_tokens, prefill_ms, decode_ms, stop_reason, status, error, truncated_tokens, written_at';
const SAMPLE_VALUES = '$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, now()';

function checkSample(sample: SampleRecord): void {
  for (const key of ['docIndex', 'promptTokens', 'truncatedTokens', 'generatedTokens'] as const) {
    if (!Number.isInteger(sample[key])) throw new Error(`writeSample ${sample.docId}: ${key} must be an integer, got ${sample[key]}`);
  }
  for (const key of ['prefillMs', 'decodeMs'] as const) {
    if (!Number.isFinite(sample[key])) throw new Error(`writeSample ${sample.docId}: ${key} must be a finite number, got ${sample[key]}`);
  }
}

/** DuckDB's messages for a file it cannot read back (truncated, overwritten, failed checksums). */
const DAMAGED = /^(IO Error: Could not read|Serialization Error|Corruption|.*checksum)/i;

/** A one-line UserError naming the file when `err` says the file is damaged; null for anything else (a bug keeps its stack). */
function damagedFileError(path: string, err: unknown): UserError | null {
  const message = oneLineReason(err);
  return DAMAGED.test(message) ? new UserError(`${path}: cannot read the study, the file is damaged (${message})`) : null;
}

export class StudyDb {
  /** Writes and reads queue here, one at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  private readonly knownRuns = new Set<string>();
  private closed = false;

  private constructor(
    readonly path: string,
    readonly schemaVersion: number,
    readonly readOnly: boolean,
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    private readonly insertSample: DuckDBPreparedStatement | null,
  ) {}

  /**
   * Opens (creating the file and its folder if needed) and migrates a study database. `readOnly`
   * (for reports) refuses a missing file instead and never writes. Refuses, with a one-line
   * UserError naming the path, anything that is not a flexibench study or is from a newer version.
   */
  static async open(path: string, opts: { readOnly?: boolean } = {}): Promise<StudyDb> {
    const readOnly = opts.readOnly === true;
    const { instance, connection, schemaVersion } = await openStudyFile(path, { readOnly });
    try {
      // Prepared once: preparing costs about as much as executing this insert.
      const insertSample = readOnly ? null : await connection.prepare(`INSERT INTO samples (${SAMPLE_COLUMNS}) VALUES (${SAMPLE_VALUES})`);
      return new StudyDb(path, schemaVersion, readOnly, instance, connection, insertSample);
    } catch (err) {
      connection.closeSync();
      instance.closeSync();
      throw err;
    }
  }

  runId(identity: RunIdentity): string {
    return runIdOf(identity);
  }

  /** Registers a run, or finds it again (`resumed`) with the number of samples already done. */
  async ensureRun(identity: RunIdentity, meta: RunMetadata): Promise<{ runId: string; resumed: boolean; done: number }> {
    this.writable();
    return this.exclusive(async () => {
      const runId = runIdOf(identity);
      const existing = (await this.conn.runAndReadAll('SELECT count(*)::INTEGER AS n FROM runs WHERE run_id = $1', [runId])).getRowObjectsJS()[0];
      if (Number(existing?.n) > 0) {
        // A resumed run is in progress again until finishRun.
        await this.conn.run('UPDATE runs SET ended_at = NULL WHERE run_id = $1', [runId]);
        const done = (
          await this.conn.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM samples WHERE run_id = $1 AND status = 'done'`, [runId])
        ).getRowObjectsJS()[0];
        this.knownRuns.add(runId);
        return { runId, resumed: true, done: Number(done?.n) };
      }
      await this.conn.run(
        `INSERT INTO runs (run_id, model_hash, variant, suite, suite_config_hash, seed, doc_limit, threshold, generation, identity,
                           model_dir, layers_total, routing_layers, suite_config, git_revision, package_versions, hardware,
                           execution_provider, threads, started_at, ended_at, comparator)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::INTEGER[], $14, $15, $16, $17, $18, $19, $20::TIMESTAMPTZ, NULL, $21)`,
        [
          runId,
          identity.modelHash,
          identity.variant,
          identity.suite,
          identity.suiteConfigHash,
          identity.seed,
          identity.limit,
          identity.threshold,
          stableJson(identity.generation),
          stableJson(identity),
          meta.modelDir,
          meta.layersTotal,
          // As text: an empty list value has no item type to bind with.
          JSON.stringify(meta.routingLayers),
          stableJson(meta.suiteConfig ?? null),
          meta.gitRevision,
          stableJson(meta.packageVersions),
          stableJson(meta.hardware),
          meta.executionProvider,
          stableJson(meta.threads),
          meta.startedAt,
          meta.comparator === undefined ? null : stableJson(meta.comparator),
        ],
      );
      this.knownRuns.add(runId);
      return { runId, resumed: false, done: 0 };
    });
  }

  /** Documents of the run whose sample is done (an 'error' sample is retried on resume). */
  async completedDocIds(runId: string): Promise<Set<string>> {
    return this.exclusive(async () => {
      const reader = await this.conn.runAndReadAll(`SELECT doc_id FROM samples WHERE run_id = $1 AND status = 'done'`, [runId]);
      return new Set(reader.getRowObjectsJS().map((r) => String(r.doc_id)));
    });
  }

  /**
   * Writes a finished sample and its per-position tokens in one transaction. A second write of a
   * 'done' document is ignored (the first stays); a write over an 'error' row replaces it and its
   * tokens. Any failure rolls everything of this call back.
   */
  async writeSample(runId: string, sample: SampleRecord, tokens: TokenRecord[]): Promise<void> {
    checkSample(sample);
    checkTokenSequence(sample.docId, tokens);
    const insert = this.writable();
    return this.exclusive(async () => {
      await this.requireRun(runId);
      const values: DuckDBValue[] = [
        runId,
        sample.docId,
        sample.docIndex,
        sample.prompt,
        sample.output,
        sample.reference,
        JSON.stringify(sample.metrics),
        sample.promptTokens,
        sample.generatedTokens,
        sample.prefillMs,
        sample.decodeMs,
        sample.stopReason,
        sample.status,
        sample.error,
        sample.truncatedTokens,
      ];
      if (await this.insertIfNew(insert, values, runId, sample.docId, tokens)) return;
      // The document already has a row (the insert's unique-key error aborted that transaction).
      const key = [runId, sample.docId];
      const existing = (await this.conn.runAndReadAll('SELECT status FROM samples WHERE run_id = $1 AND doc_id = $2', key)).getRowObjectsJS()[0];
      // No row after all: the insert failed for another reason, which this attempt reports.
      if (existing === undefined) return this.insertInTransaction(insert, values, runId, sample.docId, tokens);
      if (existing.status === 'done') return;
      await this.insertInTransaction(insert, values, runId, sample.docId, tokens, async () => {
        await this.conn.run('DELETE FROM tokens WHERE run_id = $1 AND doc_id = $2', key);
        await this.conn.run('DELETE FROM samples WHERE run_id = $1 AND doc_id = $2', key);
      });
    });
  }

  /**
   * The sample row and its tokens in one transaction; false, with nothing written, when the sample
   * row cannot be inserted, which is how a document that already has a row shows: checking first
   * would cost a query on every write, and ON CONFLICT DO NOTHING costs more than the insert.
   */
  private async insertIfNew(insert: DuckDBPreparedStatement, values: DuckDBValue[], runId: string, docId: string, tokens: TokenRecord[]): Promise<boolean> {
    await this.conn.run('BEGIN TRANSACTION');
    try {
      insert.bind(values);
      try {
        await insert.run();
      } catch {
        await this.conn.run('ROLLBACK');
        return false;
      }
      await this.appendTokens(runId, docId, tokens);
      await this.conn.run('COMMIT');
      return true;
    } catch (err) {
      await this.conn.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** In one transaction: `clear` (an earlier error row), then the sample row and its tokens; any failure is thrown. */
  private async insertInTransaction(
    insert: DuckDBPreparedStatement,
    values: DuckDBValue[],
    runId: string,
    docId: string,
    tokens: TokenRecord[],
    clear: () => Promise<void> = async () => undefined,
  ): Promise<void> {
    await this.conn.run('BEGIN TRANSACTION');
    try {
      await clear();
      insert.bind(values);
      await insert.run();
      await this.appendTokens(runId, docId, tokens);
      await this.conn.run('COMMIT');
    } catch (err) {
      await this.conn.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  private async appendTokens(runId: string, docId: string, tokens: TokenRecord[]): Promise<void> {
    if (tokens.length === 0) return;
    const appender = await this.conn.createAppender('tokens');
    try {
      appendTokenRows(appender, runId, docId, tokens);
      appender.flushSync();
    } catch (err) {
      // Closing flushes: drop what a failed call left buffered (the rollback would undo it anyway).
      appender.clear();
      throw err;
    } finally {
      appender.closeSync();
    }
  }

  /** Documents of the run whose routing agreement with its fp32 counterpart is stored. */
  async agreementDocIds(runId: string): Promise<Set<string>> {
    return this.exclusive(async () => {
      const reader = await this.conn.runAndReadAll('SELECT doc_id FROM routing_agreement WHERE run_id = $1', [runId]);
      return new Set(reader.getRowObjectsJS().map((r) => String(r.doc_id)));
    });
  }

  /** Stores how a sample of `runId` routed fp32's tokens against `referenceRunId` (schema.ts); a second write of a document is ignored. */
  async writeAgreement(runId: string, docId: string, referenceRunId: string, counts: { decisions: number; identical: number }): Promise<void> {
    this.writable();
    if (!Number.isInteger(counts.decisions) || !Number.isInteger(counts.identical) || counts.identical < 0 || counts.identical > counts.decisions)
      throw new Error(`writeAgreement ${docId}: ${counts.identical} identical of ${counts.decisions} decisions`);
    return this.exclusive(async () => {
      await this.requireRun(runId);
      await this.requireRun(referenceRunId);
      await this.conn.run(
        `INSERT INTO routing_agreement (run_id, doc_id, reference_run_id, decisions, identical, written_at)
         VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT DO NOTHING`,
        [runId, docId, referenceRunId, counts.decisions, counts.identical],
      );
    });
  }

  async finishRun(runId: string): Promise<void> {
    this.writable();
    return this.exclusive(async () => {
      await this.requireRun(runId);
      await this.conn.run('UPDATE runs SET ended_at = $2::TIMESTAMPTZ WHERE run_id = $1', [runId, new Date().toISOString()]);
    });
  }

  /**
   * Runs a read of the store's own read modules (src/store/*-reads.ts) on this database's
   * connection, queued like every other call.
   */
  async read<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      try {
        return await fn(this.conn);
      } catch (err) {
        throw damagedFileError(this.path, err) ?? err;
      }
    });
  }

  /** Waits for queued calls, then releases the file (and its lock). Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    this.insertSample?.destroySync();
    this.conn.closeSync();
    this.instance.closeSync();
  }

  private writable(): DuckDBPreparedStatement {
    if (this.insertSample === null) throw new Error(`${this.path}: opened read-only`);
    return this.insertSample;
  }

  private async requireRun(runId: string): Promise<void> {
    if (this.knownRuns.has(runId)) return;
    const row = (await this.conn.runAndReadAll('SELECT count(*)::INTEGER AS n FROM runs WHERE run_id = $1', [runId])).getRowObjectsJS()[0];
    if (Number(row?.n) === 0) throw new Error(`${this.path}: no run ${runId} (call ensureRun first)`);
    this.knownRuns.add(runId);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`${this.path}: study database is closed`));
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
