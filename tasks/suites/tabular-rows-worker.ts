/**
 * The worker thread that reads a CSV or Parquet file with DuckDB for ./tabular-rows.ts, which
 * waits synchronously: it posts one reply, then wakes the caller.
 *
 * CSV is read as written, never guessed at: a header row, `,` between fields, `"` quoting (`""` for
 * a quote inside), every cell text. Without these settings DuckDB's sniffer may take the first
 * lines for a preamble to skip, `#` lines for comments or a malformed file for another dialect,
 * and read fewer rows than the file has. Malformed rows are collected (store_rejects) rather than
 * failing the read, so that the refusal can name the first one's line.
 */
import { workerData } from 'node:worker_threads';
import type { TabularReply, TabularRequest } from './tabular-rows.ts';

const { port, signal, file, format } = workerData as TabularRequest;

const CSV_QUERY = `SELECT * FROM read_csv($1, header = true, all_varchar = true, delim = ',', quote = '"', escape = '"',
  skip = 0, comment = '', strict_mode = true, null_padding = false, store_rejects = true)`;
const PARQUET_QUERY = 'SELECT * FROM read_parquet($1)';

async function read(): Promise<TabularReply> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  // Nothing is fetched: a read needs no extension beyond those built in.
  const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false' });
  try {
    const connection = await instance.connect();
    try {
      let reader;
      try {
        reader = await connection.runAndReadAll(format === 'csv' ? CSV_QUERY : PARQUET_QUERY, [file]);
      } catch (err) {
        return { failure: (err as Error).message };
      }
      if (format === 'csv') {
        const rejects = await connection.runAndReadAll('SELECT line, error_type, error_message FROM reject_errors ORDER BY line LIMIT 1');
        const first = rejects.getRowObjectsJson()[0];
        if (first !== undefined) {
          const reason = `${String(first['error_type']).toLowerCase()} (${String(first['error_message'])})`;
          return { rejected: { line: Number(first['line']), reason } };
        }
      }
      const rows = reader.getRowObjectsJson();
      // Every CSV cell is text; DuckDB reads an empty one as NULL.
      if (format === 'csv') for (const row of rows) for (const key of Object.keys(row)) row[key] ??= '';
      return { columns: reader.columnNames(), rows };
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

function answer(reply: TabularReply | { error: string }): void {
  port.postMessage(reply);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}

read().then(answer, (err: unknown) => answer({ error: err instanceof Error ? err.message.split('\n')[0]! : String(err) }));
