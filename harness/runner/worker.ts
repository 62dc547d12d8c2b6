/**
 * A generation worker: one ONNX Runtime session per graph (variant) on its own thread (session.run blocks
 * the thread that calls it, so parallelism needs threads). Receives jobs, decodes up to `batch` of
 * them together (continuous batching), returns each generation as it finishes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { generateBatch, type BatchRequest, type Generation, type GenerateOptions } from '../../src/model/generate.ts';
import { DecoderSession } from '../../src/model/session.ts';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import { batchKey, type GenerationJob, type WorkerInit, type WorkerReply } from './protocol.ts';

const init = workerData as WorkerInit;
const port = parentPort!;
const reply = (m: WorkerReply): void => port.postMessage(m);

const tokenizer = TextTokenizer.load(init.modelDir);
const sessions = new Map<string, DecoderSession>();
for (const [name, graph] of Object.entries(init.graphs)) {
  sessions.set(
    name,
    await DecoderSession.open(graph.path, init.config, { ...graph.spec, executionProvider: init.executionProvider, intraOpThreads: init.intraOpThreads }),
  );
}

// Fault injection for tests: the worker dies (as a native crash would) after this many jobs.
const exitAfter = Number(process.env['FLEXIBENCH_WORKER_EXIT_AFTER'] ?? Infinity);
let jobsTaken = 0;

/**
 * Jobs wait per graph and threshold (one batched step runs one graph at one threshold), in arrival
 * order; one batch runs at a time, refilled from its own queue (generateBatch) until that is empty.
 */
const waiting = new Map<string, GenerationJob[]>();
let draining = false;

function request(job: GenerationJob): BatchRequest<GenerationJob> {
  const opts: GenerateOptions = {
    maxNewTokens: job.maxNewTokens,
    eosIds: job.eosIds,
    stopStrings: job.stopStrings,
    decode: (context, ids) => tokenizer.continuationText(context, ids),
    routing: job.routing,
    ...(job.sampling ? { sampling: job.sampling } : {}),
  };
  return { tag: job, promptIds: job.promptIds, opts };
}

function finished(job: GenerationJob, result: Generation | Error): void {
  if (result instanceof Error) reply({ type: 'error', id: job.id, message: result.message });
  // Time inside session.run: the prefill, and this sequence's share of the batched steps.
  else reply({ type: 'result', id: job.id, generation: result, runMs: result.timing.prefillMs + result.timing.decodeMs });
}

async function drain(): Promise<void> {
  draining = true;
  try {
    for (let key = waiting.keys().next().value; key !== undefined; key = waiting.keys().next().value) {
      const queue = waiting.get(key)!;
      const session = sessions.get(queue[0]!.graph);
      if (session === undefined) {
        for (const job of queue.splice(0)) reply({ type: 'error', id: job.id, message: `worker has no ${job.graph} session` });
      } else {
        await generateBatch(session, () => (queue.length > 0 ? request(queue.shift()!) : undefined), init.batch, finished);
      }
      if (queue.length === 0) waiting.delete(key);
    }
  } catch (err) {
    // A failure of the session itself (not of one request): the pool treats the worker as crashed.
    reply({ type: 'error', id: null, message: (err as Error).message });
    process.exit(4);
  } finally {
    draining = false;
  }
}

port.on('message', (job: GenerationJob) => {
  if (++jobsTaken > exitAfter) process.exit(3);
  const key = batchKey(job.graph, job.routing);
  const queue = waiting.get(key);
  if (queue === undefined) waiting.set(key, [job]);
  else queue.push(job);
  if (!draining) void drain();
});
reply({ type: 'ready' });
