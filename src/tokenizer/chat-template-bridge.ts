/**
 * The worker thread between chat-template-sandbox.ts, which waits synchronously, and the child
 * process that renders (chat-template-process.ts, started on demand with a heap limit). It forwards
 * each request, stops the child past the time limit, tells a child that died past its heap limit
 * from one that answered, and wakes the waiting caller with the reply.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { workerData } from 'node:worker_threads';
import { CHAT_TEMPLATE_HEAP_LIMIT_MB, CHAT_TEMPLATE_TIME_LIMIT_MS, type ChatRenderRequest } from './chat-template-render.ts';
import { SIGNAL_SLOTS, type BridgeData, type BridgeReply } from './chat-template-sandbox.ts';

const { port, signal } = workerData as BridgeData;
// From the TypeScript sources (tests, FLEXIBENCH_DEV=1) the child must register tsx first; the build in dist/ is plain JS.
const entry = new URL(import.meta.url.endsWith('.ts') ? './chat-template-process-entry.js' : './chat-template-process.js', import.meta.url);

let child: ChildProcess | null = null;
let ready = false;
/** The request received and not yet sent: the child is starting. */
let queued: ChatRenderRequest | null = null;
/** The deadline of the request sent to the child, until it answers. */
let deadline: NodeJS.Timeout | null = null;

port.on('message', (req: ChatRenderRequest) => {
  queued = req;
  if (child === null) child = startChild();
  else if (ready) dispatch(child);
});

function startChild(): ChildProcess {
  const c = fork(entry, [], {
    // Only the heap limit: the parent's own flags (a test runner's loader) are not the renderer's.
    execArgv: [`--max-old-space-size=${CHAT_TEMPLATE_HEAP_LIMIT_MB}`],
    // V8's out-of-memory report would reach the user's terminal; the failure is told in one line instead.
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  Atomics.store(signal, SIGNAL_SLOTS.childPid, c.pid ?? 0);
  c.on('message', (m: 'ready' | BridgeReply) => {
    // A child stopped at the time limit may still answer: its request was already refused.
    if (child !== c) return;
    if (m === 'ready') {
      ready = true;
      dispatch(c);
    } else {
      clearDeadline();
      answer(m);
    }
  });
  c.on('exit', (code, sig) => ended(c, sig ?? `exit code ${code}`));
  c.on('error', (err) => ended(c, err.message));
  return c;
}

function dispatch(c: ChildProcess): void {
  if (queued === null) return;
  c.send(queued);
  queued = null;
  deadline = setTimeout(() => {
    deadline = null;
    forget(c);
    c.kill('SIGKILL');
    answer({ failure: `did not finish within ${CHAT_TEMPLATE_TIME_LIMIT_MS / 1000} s (a template that loops without bound)` });
  }, CHAT_TEMPLATE_TIME_LIMIT_MS);
}

/** The child is gone: the request it held fails, and the next request starts a new child. */
function ended(c: ChildProcess, how: string): void {
  if (child !== c) return;
  forget(c);
  if (deadline !== null) {
    clearDeadline();
    // V8 aborts the process when the heap limit cannot hold an allocation.
    answer({
      failure:
        how === 'SIGABRT' ? `ran past ${CHAT_TEMPLATE_HEAP_LIMIT_MB} MB of memory (a template that grows without bound)` : `stopped its renderer (${how})`,
    });
  } else if (queued !== null) {
    queued = null;
    answer({ error: `the chat template renderer stopped before it started (${how})` });
  }
}

/** Stops sending to `c`: the next request starts a new child, whatever `c` still reports. */
function forget(c: ChildProcess): void {
  if (child !== c) return;
  child = null;
  ready = false;
  Atomics.store(signal, SIGNAL_SLOTS.childPid, 0);
}

function clearDeadline(): void {
  if (deadline !== null) clearTimeout(deadline);
  deadline = null;
}

/** Posts the reply, then wakes the caller blocked in Atomics.wait. */
function answer(reply: BridgeReply): void {
  port.postMessage(reply);
  Atomics.store(signal, SIGNAL_SLOTS.replied, 1);
  Atomics.notify(signal, SIGNAL_SLOTS.replied);
}
