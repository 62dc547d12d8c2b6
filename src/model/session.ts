/**
 * One ONNX Runtime session over a decoder graph, and the decode steps it runs: feed one sequence's
 * tokens with its KV cache (step: a prompt, or one token), or one token of each of several
 * sequences with their caches (stepBatch); get logits, the new cache and (FlexiDepth) the router gates.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { UserError, oneLineReason } from '../errors.ts';
import type { Checkpoint } from './checkpoint.ts';
import type { ModelConfig } from './config.ts';
import { BatchCache } from './batch-cache.ts';
import { copyHeadSlots, grownCapacity, kvBuffer, kvData, type KvCache, type KvData, type KvType } from './kv-cache.ts';
import { buildOrReuseGraph } from './graph-cache.ts';
import { hasRouters, kvCacheType, requireVariant, type GraphSpec } from './graph-builder.ts';
import { OnnxGraph } from './onnx-graph.ts';
import { RotaryTables } from './rotary-tables.ts';
import { DEFAULT_THRESHOLD } from './variants.ts';

// ORT's own log lines go straight to stderr, around our one-line reasons (a missing CUDA library
// logs an error before the exception that says the same). Everything that fails reaches us as an
// exception, so only fatal lines are let through. This must be set before the first session of the
// process: ORT reads it once, when it creates its environment.
ort.env.logLevel = 'fatal';
const SESSION_LOG_SEVERITY = 4;

/**
 * Prompts up to PREFILL_ONE_PASS tokens run in one pass; longer ones in chunks of PREFILL_CHUNK
 * (DecoderSession.prefill): past a few hundred tokens one pass's attention costs more than the
 * chunks' repeated reads (docs/performance-history.md, "2026-11-29: long prompts in chunks (issues 14 and 15)").
 */
export const PREFILL_ONE_PASS = 512;
export const PREFILL_CHUNK = 128;

/** The graph's logit_rows input [B, K]: `rows` lists K positions per sequence, row after row. */
function logitRows(rows: number[], B: number): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(rows, BigInt), [B, rows.length / B]);
}

export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionOptions extends GraphSpec {
  executionProvider?: ExecutionProvider;
  intraOpThreads?: number;
  cacheDir?: string;
  /** Write an ORT profile (JSON) with this path prefix; read it with `endProfiling()`. */
  profilePrefix?: string;
}

export interface StepResult {
  /** [K, V] row-major logits of the rows asked for (step's `logits`): all S fed tokens, the last, or none. */
  logits: Float32Array;
  /** [R, S] router gates (FlexiDepth, random), routed layers in layer order; empty for `full` and `static`. */
  gates: Float32Array;
  /** With `hiddenStates`: per layer i the input of layer i as [S, d], and last the final layer's output; else empty. */
  hidden: Float32Array[];
  cache: KvCache;
}

function cudaUnavailable(why: string): UserError {
  return new UserError(
    `--ep cuda: the CUDA execution provider is not available (${why}); use --ep cpu, or install onnxruntime-node with CUDA (ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci, on a networked machine with CUDA 12 and cuDNN)`,
  );
}

const providerChecks = new Map<ExecutionProvider, Promise<void>>();

/**
 * Throws the one-line UserError when `ep` cannot run here. ONNX Runtime does not fall back by
 * itself and says nothing until a session is made, so this opens one on a one-node graph.
 * Checked once per process.
 */
export function requireExecutionProvider(ep: ExecutionProvider): Promise<void> {
  if (ep === 'cpu') return Promise.resolve();
  let check = providerChecks.get(ep);
  if (check === undefined) {
    const g = new OnnxGraph();
    g.input('x', 'float', [1]);
    g.node('/probe', 'Identity', ['x'], {}, 1, '', ['y']);
    g.output('y', 'float', [1]);
    check = ort.InferenceSession.create(g.encode(), { executionProviders: [ep], logSeverityLevel: SESSION_LOG_SEVERITY }).then(
      (session) => session.release(),
      (err: unknown) => {
        throw cudaUnavailable(oneLineReason(err));
      },
    );
    providerChecks.set(ep, check);
  }
  return check;
}

export class DecoderSession {
  /** The layers whose router gates the graph outputs (FlexiDepth, random), in layer order. */
  readonly routedLayers: number[];
  /** The layers that have a KV cache (all but the ones `static` removed). */
  private readonly cacheLayers: number[];
  /** Each past.{i}.key/value's block in the graph's `present` output: cached layers in order, K then V. */
  private readonly presentBlocks: Map<string, number>;
  private readonly hiddenOutputs: string[];
  /** Milliseconds spent inside session.run, summed: what the rest of the harness is measured against. */
  runMs = 0;
  private readonly rotary: RotaryTables;
  /** The KV cache's element type: float16 (bit patterns in Uint16Arrays) for an fp16 graph. */
  private readonly kvType: KvType;

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly config: ModelConfig,
    readonly spec: GraphSpec,
    readonly executionProvider: ExecutionProvider,
    private readonly profilePrefix: string | undefined,
  ) {
    this.routedLayers = hasRouters(spec.variant) ? config.routingLayers : [];
    const inputs = new Set(session.inputNames);
    this.cacheLayers = Array.from({ length: config.numLayers }, (_, i) => i).filter((i) => inputs.has(`past.${i}.key`));
    this.presentBlocks = new Map(this.cacheLayers.flatMap((i, k) => [[`past.${i}.key`, 2 * k] as const, [`past.${i}.value`, 2 * k + 1] as const]));
    this.hiddenOutputs = session.outputNames.filter((n) => n.startsWith('hidden.')).sort((a, b) => Number(a.slice(7)) - Number(b.slice(7)));
    this.rotary = new RotaryTables(config);
    this.kvType = kvCacheType(spec.precision);
  }

  get variant(): GraphSpec['variant'] {
    return this.spec.variant;
  }

  /** Builds (or finds in the cache) the checkpoint's graph for this variant and opens a session on it. */
  static async create(ckpt: Checkpoint, opts: SessionOptions): Promise<DecoderSession> {
    requireVariant(ckpt, opts.variant);
    // Before building the graph: for a large model that takes minutes, only to fail on the provider.
    await requireExecutionProvider(opts.executionProvider ?? 'cpu');
    return DecoderSession.open(buildOrReuseGraph(ckpt, opts, opts.cacheDir), ckpt.config, opts);
  }

  /** Opens a session on an already built graph (worker threads do this, without reading weights). */
  static async open(path: string, config: ModelConfig, opts: SessionOptions): Promise<DecoderSession> {
    const ep = opts.executionProvider ?? 'cpu';
    // So that a failure below is about this graph, not a provider missing on the machine.
    await requireExecutionProvider(ep);
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [ep],
      graphOptimizationLevel: 'all',
      logSeverityLevel: SESSION_LOG_SEVERITY,
      ...(opts.intraOpThreads !== undefined ? { intraOpNumThreads: opts.intraOpThreads } : {}),
      ...(opts.profilePrefix !== undefined ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix } : {}),
    };
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(path, sessionOptions);
    } catch (err) {
      const msg = oneLineReason(err);
      throw new Error(`cannot create an ONNX Runtime session for ${path}: ${msg}`);
    }
    const { variant, removedLayers, hiddenStates, precision, blockSize } = opts;
    return new DecoderSession(
      session,
      config,
      {
        variant,
        ...(removedLayers ? { removedLayers } : {}),
        ...(hiddenStates ? { hiddenStates } : {}),
        ...(precision ? { precision } : {}),
        ...(blockSize !== undefined ? { blockSize } : {}),
      },
      ep,
      opts.profilePrefix,
    );
  }

  emptyCache(): KvCache {
    return this.allocateCache(0, 0);
  }

  private noCacheTensors: Record<string, ort.Tensor> | undefined;
  private get noCache(): Record<string, ort.Tensor> {
    return (this.noCacheTensors ??= this.allocateCache(0, 0).tensors);
  }

  /** Buffers of `capacity` slots holding the first `length` slots of `from` (none when absent). */
  private allocateCache(capacity: number, length: number, from?: KvCache): KvCache {
    const { numKvHeads, headDim } = this.config;
    const tensors: Record<string, ort.Tensor> = {};
    for (const i of this.cacheLayers) {
      for (const kind of ['key', 'value']) {
        const name = `past.${i}.${kind}`;
        const data = kvBuffer(this.kvType, numKvHeads * capacity * headDim);
        if (from !== undefined && length > 0) copyHeadSlots(kvData(from.tensors[name]!), from.capacity, data, capacity, length, 0, numKvHeads, headDim);
        tensors[name] = new ort.Tensor(this.kvType, data, [1, 1, numKvHeads, capacity, headDim]);
      }
    }
    return { length, tensors, capacity, buffers: { filled: length } };
  }

  /**
   * Runs `ids` at positions cache.length.. and returns logits (of every token, the last, or none),
   * gates and the extended cache. `routeFull` ([R*S], layer-major) is the `random` graph's
   * decisions: whether routed layer r runs its full path for token s.
   */
  async step(
    ids: number[],
    cache: KvCache,
    threshold = DEFAULT_THRESHOLD,
    routeFull?: readonly boolean[],
    logits: 'all' | 'last' | 'none' = 'all',
  ): Promise<StepResult> {
    const S = ids.length;
    const P = cache.length;
    const T = P + S;
    if (T > cache.capacity || cache.buffers.filled !== P) {
      cache = this.allocateCache(T > cache.capacity ? grownCapacity(T, this.config.maxPositionEmbeddings) : cache.capacity, P, cache);
    }
    // With nothing cached (a prompt), the graph gets empty buffers: attention then spends nothing on
    // the buffers' empty slots. Of the C slots it reads, the first P are this sequence's.
    const C = P === 0 ? 0 : cache.capacity;
    const mask = new BigInt64Array(C + S).fill(1n);
    mask.fill(0n, P, C);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, S]),
      position_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: S }, (_, s) => BigInt(P + s)),
        [1, S],
      ),
      attention_mask: new ort.Tensor('int64', mask, [1, C + S]),
      logit_rows: logitRows(logits === 'all' ? Array.from({ length: S }, (_, s) => s) : logits === 'last' ? [S - 1] : [], 1),
      ...(P === 0 ? this.noCache : cache.tensors),
      ...this.routingFeeds(threshold, routeFull, 1, S),
      ...this.rotary.feeds(T),
    };
    const t0 = performance.now();
    const out = await this.session.run(feeds);
    // The new rows [1,kvH,S,hd] go to slots P..T-1 of each head's part of the buffer.
    const { numKvHeads, headDim } = this.config;
    const capacity = cache.capacity;
    for (const name of Object.keys(cache.tensors)) {
      const rows = this.present(out, name);
      const buf = kvData(cache.tensors[name]!);
      copyHeadSlots(rows, S, buf, capacity, S, P, numKvHeads, headDim);
    }
    this.runMs += performance.now() - t0;
    cache.buffers.filled = T;
    return {
      logits: out['logits']!.data as Float32Array,
      gates: this.routedLayers.length > 0 ? (out['gates']!.data as Float32Array) : new Float32Array(0),
      hidden: this.hiddenOutputs.map((name) => out[name]!.data as Float32Array),
      cache: { length: T, tensors: cache.tensors, capacity, buffers: cache.buffers },
    };
  }

  /**
   * A prompt: runs `ids` from an empty cache and returns the last token's logits [V], the gates
   * [R, S] of every token and the cache. Prompts longer than PREFILL_ONE_PASS run in chunks of
   * PREFILL_CHUNK tokens, each against the cache the chunks before it filled: a chunk's attention
   * reads only the keys before it, where one pass computes (and masks) every query against every
   * key. `routeFull` ([R*S]) as in step.
   */
  async prefill(
    ids: number[],
    threshold = DEFAULT_THRESHOLD,
    routeFull?: readonly boolean[],
  ): Promise<{ logits: Float32Array; gates: Float32Array; cache: KvCache }> {
    const S = ids.length;
    const chunk = S > PREFILL_ONE_PASS ? PREFILL_CHUNK : S;
    const R = this.routedLayers.length;
    const gates = new Float32Array(R * S);
    let cache = this.emptyCache();
    let logits: Float32Array = new Float32Array(0);
    for (let at = 0; at < S; at += chunk) {
      const n = Math.min(chunk, S - at);
      // Buffers of exactly the slots filled so far plus this chunk: a chunk's attention reads (and
      // masks) every slot, and the spare slots a step would add cost a long prompt measurably
      // (docs/performance-history.md, "2026-11-29: a long prompt's chunks read no spare cache slots (issues 14 and 15)").
      // Every chunk outgrows the buffers either way.
      if (at > 0) cache = this.allocateCache(at + n, at, cache);
      const part = routeFull && Array.from({ length: R * n }, (_, i) => routeFull[Math.floor(i / n) * S + at + (i % n)]!);
      const out = await this.step(ids.slice(at, at + n), cache, threshold, part, at + n === S ? 'last' : 'none');
      for (let r = 0; r < R; r++) gates.set(out.gates.subarray(r * n, (r + 1) * n), r * S + at);
      ({ cache, logits } = out);
    }
    return { logits, gates, cache };
  }

  /** A cache for up to `rows` sequences decoded together by stepBatch. */
  batchCache(rows: number): BatchCache {
    return new BatchCache(this.config, Object.keys(this.noCache), rows, this.kvType);
  }

  /**
   * One decode step of every sequence in `batch`: ids[b] is row b's next token, run at position
   * batch.lengths[b]. Returns logits [B, V] and gates [R, B] (layer-major); the new K/V rows are
   * appended to the batch. `routeFull` ([R*B]) as in step.
   */
  async stepBatch(
    ids: readonly number[],
    batch: BatchCache,
    threshold = DEFAULT_THRESHOLD,
    routeFull?: readonly boolean[],
  ): Promise<{ logits: Float32Array; gates: Float32Array }> {
    const B = ids.length;
    if (B !== batch.size) throw new Error(`stepBatch: ${B} tokens for a batch of ${batch.size} sequences`);
    batch.fit(Math.max(...batch.lengths) + 1);
    const C = batch.capacity;
    const mask = new BigInt64Array(B * (C + 1));
    batch.lengths.forEach((length, b) => {
      mask.fill(1n, b * (C + 1), b * (C + 1) + length);
      mask[b * (C + 1) + C] = 1n;
    });
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [B, 1]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(batch.lengths, BigInt), [B, 1]),
      attention_mask: new ort.Tensor('int64', mask, [B, C + 1]),
      logit_rows: logitRows(Array<number>(B).fill(0), B),
      ...batch.feeds(),
      ...this.routingFeeds(threshold, routeFull, B, 1),
      ...this.rotary.feeds(Math.max(...batch.lengths) + 1),
    };
    const t0 = performance.now();
    const out = await this.session.run(feeds);
    batch.append((name) => this.present(out, name));
    this.runMs += performance.now() - t0;
    return { logits: out['logits']!.data as Float32Array, gates: this.routedLayers.length > 0 ? (out['gates']!.data as Float32Array) : new Float32Array(0) };
  }

  /**
   * The prompts of several sequences in one pass, right-padded to the longest (padding is masked
   * out, so each prompt's numbers are its own), each then added to `batch` as a row. Returns the
   * logits [B, V] of each prompt's last token and gates [R, B, S] with S the longest prompt.
   * `routeFull` ([R*B*S]) as in step.
   */
  async prefillBatch(
    prompts: readonly (readonly number[])[],
    batch: BatchCache,
    threshold = DEFAULT_THRESHOLD,
    routeFull?: readonly boolean[],
  ): Promise<{ logits: Float32Array; gates: Float32Array; S: number }> {
    const B = prompts.length;
    const S = Math.max(...prompts.map((p) => p.length));
    const ids = new BigInt64Array(B * S);
    const mask = new BigInt64Array(B * S);
    prompts.forEach((prompt, b) => {
      prompt.forEach((id, s) => (ids[b * S + s] = BigInt(id)));
      mask.fill(1n, b * S, b * S + prompt.length);
    });
    const { numKvHeads: kvH, headDim: hd } = this.config;
    const empty: Record<string, ort.Tensor> = {};
    for (const name of Object.keys(this.noCache)) empty[name] = new ort.Tensor(this.kvType, kvBuffer(this.kvType, 0), [B, 1, kvH, 0, hd]);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [B, S]),
      position_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: B * S }, (_, i) => BigInt(i % S)),
        [B, S],
      ),
      attention_mask: new ort.Tensor('int64', mask, [B, S]),
      logit_rows: logitRows(
        prompts.map((p) => p.length - 1),
        B,
      ),
      ...empty,
      ...this.routingFeeds(threshold, routeFull, B, S),
      ...this.rotary.feeds(S),
    };
    const t0 = performance.now();
    const out = await this.session.run(feeds);
    const rows = kvH * S * hd;
    prompts.forEach((prompt, b) => batch.addRows(prompt.length, S, (name) => this.present(out, name).subarray(b * rows, (b + 1) * rows)));
    this.runMs += performance.now() - t0;
    return { logits: out['logits']!.data as Float32Array, gates: this.routedLayers.length > 0 ? (out['gates']!.data as Float32Array) : new Float32Array(0), S };
  }

  /** The new rows [B, kvH, S, hd] for cache buffer `name` (past.{i}.*): its block of the graph's one `present` output. */
  private present(out: ort.InferenceSession.ReturnType, name: string): KvData {
    const all = kvData(out['present']!);
    const size = all.length / this.presentBlocks.size;
    const block = this.presentBlocks.get(name)!;
    return all.subarray(block * size, (block + 1) * size);
  }

  /** The threshold (flexidepth) or the drawn decisions [R, B, S] (random) a step feeds. */
  private routingFeeds(threshold: number, routeFull: readonly boolean[] | undefined, B: number, S: number): Record<string, ort.Tensor> {
    if (this.variant === 'flexidepth') return { threshold: new ort.Tensor('float32', Float32Array.of(threshold), []) };
    if (this.variant !== 'random') return {};
    const R = this.routedLayers.length;
    if (routeFull?.length !== R * B * S) throw new Error(`step: the random variant needs ${R * B * S} routing decisions, got ${routeFull?.length ?? 'none'}`);
    return { route_full: new ort.Tensor('bool', Uint8Array.from(routeFull, Number), [R, B, S]) };
  }

  /** Stops profiling and returns the profile file's path (ORT names it `{prefix}_{timestamp}.json`). */
  endProfiling(): string {
    if (this.profilePrefix === undefined) throw new Error('endProfiling: the session was created without profilePrefix');
    this.session.endProfiling();
    const dir = dirname(this.profilePrefix);
    const stem = `${basename(this.profilePrefix)}_`;
    const files = readdirSync(dir)
      .filter((f) => f.startsWith(stem) && f.endsWith('.json'))
      .map((f) => join(dir, f));
    if (files.length === 0) throw new Error(`endProfiling: no profile written under ${this.profilePrefix}`);
    return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]!;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
