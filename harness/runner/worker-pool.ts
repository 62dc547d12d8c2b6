/**
 * A pool of generation workers fed through p-queue: at most `batch` jobs per worker at a time (the
 * worker decodes them together), jobs taken in the order added. A worker that dies stops the pool with a clear reason: jobs not yet
 * started fail at once, jobs in flight on healthy workers finish, so the run ends instead of hanging.
 */
import { Worker } from 'node:worker_threads';
import PQueue from 'p-queue';
import type { Generation } from '../../src/model/generate.ts';
import type { GenerationJob, WorkerInit, WorkerReply } from './protocol.ts';

export interface JobResult {
  generation: Generation;
  /** Time inside session.run for this job. */
  runMs: number;
}

interface Slot {
  worker: Worker;
  /** Jobs sent and not yet answered: at most the pool's batch. */
  inFlight: number;
  pending: Map<number, { resolve: (r: JobResult) => void; reject: (e: Error) => void }>;
}

export class WorkerPool {
  private readonly queue: PQueue;
  private failure: Error | null = null;
  private closing = false;
  private nextId = 0;

  private constructor(
    private readonly slots: Slot[],
    private readonly batch: number,
  ) {
    this.queue = new PQueue({ concurrency: slots.length * batch });
  }

  get size(): number {
    return this.slots.length;
  }

  static async start(size: number, init: WorkerInit): Promise<WorkerPool> {
    const slots: Slot[] = [];
    const ready: Promise<void>[] = [];
    for (let i = 0; i < size; i++) {
      // From the TypeScript sources (tests, FLEXIBENCH_DEV=1) a worker must register tsx first; the build in dist/ is plain JS.
      const worker = new Worker(new URL(import.meta.url.endsWith('.ts') ? './worker-entry.js' : './worker.js', import.meta.url), { workerData: init });
      const slot: Slot = { worker, inFlight: 0, pending: new Map() };
      slots.push(slot);
      ready.push(
        new Promise((resolve, reject) => {
          worker.once('message', (m: WorkerReply) =>
            m.type === 'ready' ? resolve() : reject(new Error(m.type === 'error' ? m.message : 'worker failed to start')),
          );
          worker.once('error', reject);
        }),
      );
    }
    const pool = new WorkerPool(slots, init.batch);
    try {
      await Promise.all(ready);
    } catch (err) {
      await pool.close();
      throw new Error(`a generation worker failed to start: ${(err as Error).message}`);
    }
    slots.forEach((slot, i) => pool.watch(slot, i));
    return pool;
  }

  private watch(slot: Slot, index: number): void {
    // A worker whose session failed says why (id null) before it exits: the crash names that reason.
    let lastWords: string | null = null;
    slot.worker.on('message', (m: WorkerReply) => {
      if (m.type === 'error' && m.id === null) lastWords = m.message;
      if (m.type === 'ready' || m.id === null) return;
      const p = slot.pending.get(m.id);
      if (!p) return;
      slot.pending.delete(m.id);
      if (m.type === 'result') p.resolve({ generation: m.generation, runMs: m.runMs });
      else p.reject(new Error(m.message));
    });
    const die = (why: string): void => {
      if (this.closing) return;
      this.stop(new Error(`generation worker ${index} crashed (${why})`));
      for (const p of slot.pending.values()) p.reject(this.failure!);
      slot.pending.clear();
    };
    slot.worker.on('error', (err) => die(err.message));
    slot.worker.on('exit', (code) => {
      if (code !== 0 || slot.pending.size > 0) die(lastWords ?? `exit code ${code}`);
    });
  }

  /** Runs one generation on the worker with the fewest jobs in flight (each takes up to the batch). */
  run(job: Omit<GenerationJob, 'id'>): Promise<JobResult> {
    return this.queue.add(async () => {
      if (this.failure) throw this.failure;
      const slot = this.slots.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
      slot.inFlight++;
      try {
        const id = this.nextId++;
        return await new Promise<JobResult>((resolve, reject) => {
          slot.pending.set(id, { resolve, reject });
          slot.worker.postMessage({ ...job, id } satisfies GenerationJob);
        });
      } finally {
        slot.inFlight--;
      }
    });
  }

  /** Makes every job not yet started fail with `reason`; jobs in flight finish. */
  stop(reason: Error): void {
    this.failure ??= reason;
  }

  get failed(): Error | null {
    return this.failure;
  }

  /** Resolves when no job is queued or running. */
  idle(): Promise<void> {
    return this.queue.onIdle();
  }

  async close(): Promise<void> {
    this.closing = true;
    this.queue.clear();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
