/**
 * Chat templates rendered under a bound on time and memory. A template is code from the model
 * folder, and Jinja can loop for ever or build values without limit. A synchronous render cannot be
 * interrupted from its own thread, and a worker thread's heap limit does not hold against one large
 * allocation (V8 then aborts the whole process), so templates render in a child process with a heap
 * limit (chat-template-process.ts). The caller still waits synchronously: a worker thread
 * (chat-template-bridge.ts) talks to the child and stops it past the time limit, and the caller
 * blocks on a shared signal (Atomics.wait) until the worker posts the reply, read with
 * receiveMessageOnPort. Both are started on the first render and reused; neither keeps the process
 * alive.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { UserError } from '../errors.ts';
import { CHAT_TEMPLATE_TIME_LIMIT_MS, type ChatRenderReply, type ChatRenderRequest } from './chat-template-render.ts';

/** Slots of the signal shared with the bridge. */
export const SIGNAL_SLOTS = {
  /** 0 while a request is pending; the bridge sets 1 once it has posted the reply. */
  replied: 0,
  /** The rendering child's pid (0 before it starts), so that the caller can stop it if the bridge cannot. */
  childPid: 1,
} as const;

export interface BridgeData {
  port: MessagePort;
  signal: Int32Array;
}

/** A reply, or a failure of the machinery itself (a bug, not the template's fault). */
export type BridgeReply = ChatRenderReply | { error: string };

/**
 * Time to start the worker and the child: from the TypeScript sources each first registers tsx,
 * slow on a busy machine. The wait for a reply allows this on top of the render's own limit, which
 * the bridge enforces: it is reached only if the bridge itself is stuck.
 */
const STARTUP_LIMIT_MS = 20_000;

interface Bridge {
  worker: Worker;
  port: MessagePort;
  signal: Int32Array;
}

let current: Bridge | null = null;

/** `req` rendered in the child process: its reply, or the limit it ran past. */
export function renderBounded(req: ChatRenderRequest): ChatRenderReply {
  const b = current ?? startBridge();
  Atomics.store(b.signal, SIGNAL_SLOTS.replied, 0);
  b.port.postMessage(req);
  if (Atomics.wait(b.signal, SIGNAL_SLOTS.replied, 0, STARTUP_LIMIT_MS + CHAT_TEMPLATE_TIME_LIMIT_MS) === 'timed-out') {
    stop(b);
    throw new UserError(`cannot render the chat template: its renderer did not answer within ${(STARTUP_LIMIT_MS + CHAT_TEMPLATE_TIME_LIMIT_MS) / 1000} s`);
  }
  const reply = receiveMessageOnPort(b.port)?.message as BridgeReply | undefined;
  if (reply === undefined) throw new UserError('cannot render the chat template: its renderer signalled without replying');
  if ('error' in reply) {
    stop(b);
    // The machinery failed (no process could be started, say): the environment's fault, told in one line.
    throw new UserError(`cannot render the chat template: ${reply.error}`);
  }
  return reply;
}

function startBridge(): Bridge {
  const { port1, port2 } = new MessageChannel();
  const signal = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  // From the TypeScript sources (tests, FLEXIBENCH_DEV=1) a worker must register tsx first; the build in dist/ is plain JS.
  const entry = new URL(import.meta.url.endsWith('.ts') ? './chat-template-bridge-entry.js' : './chat-template-bridge.js', import.meta.url);
  const data: BridgeData = { port: port2, signal };
  const worker = new Worker(entry, { workerData: data, transferList: [port2] });
  // An idle bridge must not keep the process alive; its child ends with the process (its IPC channel closes).
  worker.unref();
  current = { worker, port: port1, signal };
  return current;
}

/** Stops the bridge and its child; the next render starts new ones. */
function stop(b: Bridge): void {
  if (current === b) current = null;
  const pid = Atomics.load(b.signal, SIGNAL_SLOTS.childPid);
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  b.port.close();
  void b.worker.terminate();
}
