/**
 * The rows of a CSV or Parquet file of items, read by DuckDB. Task specs load synchronously (the
 * runner, `tasks`, `items` and `score` all plan without awaiting), and DuckDB's API is asynchronous
 * only, so the read runs in a worker thread (./tabular-rows-worker.ts) while the caller blocks on a
 * shared signal (Atomics.wait) and takes the reply with receiveMessageOnPort, as the chat template
 * sandbox does (src/tokenizer/chat-template-sandbox.ts).
 *
 * DuckDB reads a private copy of the bytes the caller already hashed: the rows are those of the
 * content the suite's identity names, even if the file changes meanwhile, and a file name with glob
 * characters (`data[1].csv`) or a URL-like path cannot make DuckDB read anything else.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { UserError } from '../../src/errors.ts';

export type TabularFormat = 'csv' | 'parquet';

export interface TabularRequest {
  port: MessagePort;
  /** Slot 0: 0 until the worker has posted its reply, then 1. */
  signal: Int32Array;
  file: string;
  format: TabularFormat;
}

/** What the worker answers: the rows, a CSV line DuckDB would not take, or why DuckDB failed. */
export type TabularReply = { columns: string[]; rows: Record<string, unknown>[] } | { rejected: { line: number; reason: string } } | { failure: string };

/**
 * Time to start the worker (from the TypeScript sources it registers tsx first) and read a file
 * as large as a dataset file may be, on a busy machine; past it the read is refused, not awaited for ever.
 */
const READ_LIMIT_MS = 300_000;

/**
 * DuckDB's message for a file it could not read, as one line: its first lines without the hints
 * and the echoed query, the private copy's path replaced by `shown`.
 */
function condense(message: string, copy: string, shown: string): string {
  const lines: string[] = [];
  for (const line of message.split('\n')) {
    if (line.trim() === '' || /^(The search space used was|Possible fixes|LINE \d+:)/.test(line)) break;
    lines.push(line.trim());
  }
  return lines.join(' ').split(copy).join(shown);
}

/** The rows of `bytes` (a whole CSV or Parquet file), or why they cannot be read; `shown` names the file in DuckDB's messages. */
export function readTabular(bytes: Uint8Array, format: TabularFormat, shown: string): TabularReply {
  const dir = mkdtempSync(path.join(tmpdir(), 'flexibench-items-'));
  try {
    const copy = path.join(dir, `items.${format}`);
    writeFileSync(copy, bytes);
    const reply = readInWorker(copy, format, shown);
    return 'failure' in reply ? { failure: condense(reply.failure, copy, shown) } : reply;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readInWorker(file: string, format: TabularFormat, shown: string): TabularReply {
  const { port1, port2 } = new MessageChannel();
  const signal = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  // From the TypeScript sources (tests, FLEXIBENCH_DEV=1) a worker must register tsx first; the build in dist/ is plain JS.
  const entry = new URL(import.meta.url.endsWith('.ts') ? './tabular-rows-worker-entry.js' : './tabular-rows-worker.js', import.meta.url);
  const request: TabularRequest = { port: port2, signal, file, format };
  const worker = new Worker(entry, { workerData: request, transferList: [port2] });
  try {
    if (Atomics.wait(signal, 0, 0, READ_LIMIT_MS) === 'timed-out') {
      throw new UserError(`${shown}: DuckDB did not finish reading it within ${READ_LIMIT_MS / 1000} s`);
    }
    const reply = receiveMessageOnPort(port1)?.message as TabularReply | { error: string } | undefined;
    if (reply === undefined) throw new UserError(`${shown}: its reader signalled without replying`);
    // The machinery failed (DuckDB could not be loaded, say): the environment's fault, told in one line.
    if ('error' in reply) throw new UserError(`${shown}: cannot read it with DuckDB (${reply.error})`);
    return reply;
  } finally {
    port1.close();
    void worker.terminate();
  }
}
