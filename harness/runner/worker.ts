/**
 * A generation worker: one ONNX Runtime session per graph (variant) on its own thread (session.run blocks
 * the thread that calls it, so parallelism needs threads). Receives jobs, returns generations.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { generate } from '../../src/model/generate.ts';
import { DecoderSession } from '../../src/model/session.ts';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import type { GenerationJob, WorkerInit, WorkerReply } from './protocol.ts';

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

port.on('message', (job: GenerationJob) => {
  if (++jobsTaken > exitAfter) process.exit(3);
  void (async () => {
    try {
      const session = sessions.get(job.graph);
      if (session === undefined) throw new Error(`worker has no ${job.graph} session`);
      const before = session.runMs;
      const generation = await generate(session, job.promptIds, {
        maxNewTokens: job.maxNewTokens,
        eosIds: job.eosIds,
        stopStrings: job.stopStrings,
        decode: (ids) => tokenizer.continuationText(job.promptIds, ids),
        routing: job.routing,
        ...(job.sampling ? { sampling: job.sampling } : {}),
      });
      reply({ type: 'result', id: job.id, generation, runMs: session.runMs - before });
    } catch (err) {
      reply({ type: 'error', id: job.id, message: (err as Error).message });
    }
  })();
});
reply({ type: 'ready' });
