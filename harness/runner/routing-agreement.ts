/**
 * How FlexiDepth at a lossy weight precision routes what fp32 generated: for every done sample of a
 * flexidepth run at fp16, int8 or int4 whose fp32 counterpart (same suite and threshold) is done
 * too, fp32's stored tokens are fed through both graphs in one prefill each, and the routed
 * decisions at the producing positions of fp32's generated tokens are compared (schema.ts,
 * routing_agreement). Feeding fp32's tokens to both means text that diverged early does not count
 * its divergence twice, and both sides are computed the same way (a prefill), so fp32 against
 * itself agrees exactly.
 *
 * Runs on the main thread after the study's samples are stored, one session at a time: the fp32
 * gates of every pending document first, then each precision's.
 */
import type { Checkpoint } from '../../src/model/checkpoint.ts';
import { buildOrReuseGraph } from '../../src/model/graph-cache.ts';
import { DecoderSession, type ExecutionProvider } from '../../src/model/session.ts';
import { storedSampleTokens, type StoredSampleTokens } from '../../src/store/sample-token-reads.ts';
import type { StudyDb } from '../../src/store/study-db.ts';
import { precisionTag } from './protocol.ts';
import type { RunPlan } from './register-runs.ts';
import { counted } from '../../src/plural.ts';

export interface AgreementCounts {
  decisions: number;
  identical: number;
}

/**
 * Decisions of the R routed layers at positions [from, from + n) of two gate arrays [R, S]
 * (layer-major, as prefill returns them): how many, and how many agree, each decision being gate > threshold.
 */
export function agreementCounts(
  reference: Float32Array,
  gates: Float32Array,
  shape: { R: number; S: number },
  from: number,
  n: number,
  threshold: number,
): AgreementCounts {
  let identical = 0;
  for (let r = 0; r < shape.R; r++) {
    for (let s = from; s < from + n; s++) {
      if (reference[r * shape.S + s]! > threshold === gates[r * shape.S + s]! > threshold) identical++;
    }
  }
  return { decisions: shape.R * n, identical };
}

/** The tokens fed to route a stored sample's generated tokens: every position up to the one that produced the last. */
export function producingInput(tokens: StoredSampleTokens): { ids: number[]; from: number; n: number } {
  const generated = tokens.ids.length - tokens.promptTokens;
  return { ids: tokens.ids.slice(0, tokens.ids.length - 1), from: tokens.promptTokens - 1, n: generated };
}

/** A lossy-precision flexidepth run with the fp32 run it is compared with. */
interface Pair {
  run: RunPlan;
  reference: RunPlan;
}

/** Each non-fp32 flexidepth run of the study with its fp32 counterpart (same suite and threshold), when the study has one. */
export function agreementPairs(runs: readonly RunPlan[]): Pair[] {
  const flexidepth = runs.filter((r) => r.variant === 'flexidepth');
  const isFp32 = (r: RunPlan): boolean => (r.graph.precision ?? 'fp32') === 'fp32';
  return flexidepth
    .filter((r) => !isFp32(r))
    .flatMap((run) => {
      const reference = flexidepth.find((r) => isFp32(r) && r.suite === run.suite && r.threshold === run.threshold);
      return reference === undefined ? [] : [{ run, reference }];
    });
}

export interface AgreementOptions {
  executionProvider: ExecutionProvider;
  intraOpThreads: number;
  log: NodeJS.WritableStream;
}

/** Measures and stores the agreement of every pair's documents that lack it; returns how many were stored. */
export async function measureRoutingAgreement(db: StudyDb, ckpt: Checkpoint, runs: readonly RunPlan[], opts: AgreementOptions): Promise<number> {
  // Every precision pairs with the same fp32 run: its done documents and tokens are read once.
  const referenceDone = new Map<string, Set<string>>();
  const wanted: { pair: Pair; docIds: string[] }[] = [];
  for (const pair of agreementPairs(runs)) {
    const ref = pair.reference.runId;
    if (!referenceDone.has(ref)) referenceDone.set(ref, await db.completedDocIds(ref));
    const [mine, stored] = [await db.completedDocIds(pair.run.runId), await db.agreementDocIds(pair.run.runId)];
    const docIds = [...mine].filter((d) => referenceDone.get(ref)!.has(d) && !stored.has(d));
    if (docIds.length > 0) wanted.push({ pair, docIds });
  }
  const referenceTokens = new Map<string, Map<string, StoredSampleTokens>>();
  for (const ref of new Set(wanted.map((w) => w.pair.reference.runId))) {
    const docIds = [...new Set(wanted.filter((w) => w.pair.reference.runId === ref).flatMap((w) => w.docIds))];
    referenceTokens.set(ref, await db.read((conn) => storedSampleTokens(conn, ref, docIds)));
  }
  const pending = wanted.map(({ pair, docIds }) => {
    const tokens = referenceTokens.get(pair.reference.runId)!;
    return { pair, docs: new Map(docIds.flatMap((d) => (tokens.has(d) ? [[d, tokens.get(d)!] as const] : []))) };
  });
  const total = pending.reduce((n, p) => n + p.docs.size, 0);
  if (total === 0) return 0;
  opts.log.write(`run: routing agreement with fp32: ${counted(total, 'sample')}, fp32's tokens fed back through each precision's graph\n`);
  const R = ckpt.config.routingLayers.length;
  // fp32's gates, per reference run and document: each is computed once, whatever the number of precisions.
  const referenceGates = new Map<string, Float32Array>();
  const key = (runId: string, docId: string): string => `${runId}\u0000${docId}`;
  await withSession(ckpt, pending[0]!.pair.reference, opts, async (session) => {
    for (const { pair, docs } of pending) {
      for (const [docId, tokens] of docs) {
        const k = key(pair.reference.runId, docId);
        const input = producingInput(tokens);
        if (!referenceGates.has(k) && input.n > 0) referenceGates.set(k, (await session.prefill(input.ids, pair.reference.threshold)).gates);
      }
    }
  });
  let stored = 0;
  const graphs = [...new Set(pending.map((p) => precisionTag(p.pair.run.graph)))];
  for (const tag of graphs) {
    const ofGraph = pending.filter((p) => precisionTag(p.pair.run.graph) === tag);
    await withSession(ckpt, ofGraph[0]!.pair.run, opts, async (session) => {
      for (const { pair, docs } of ofGraph) {
        for (const [docId, tokens] of docs) {
          const input = producingInput(tokens);
          let counts: AgreementCounts = { decisions: 0, identical: 0 };
          if (input.n > 0) {
            const gates = (await session.prefill(input.ids, pair.run.threshold)).gates;
            counts = agreementCounts(
              referenceGates.get(key(pair.reference.runId, docId))!,
              gates,
              { R, S: input.ids.length },
              input.from,
              input.n,
              pair.run.threshold,
            );
          }
          await db.writeAgreement(pair.run.runId, docId, pair.reference.runId, counts);
          stored++;
        }
      }
    });
  }
  return stored;
}

async function withSession(ckpt: Checkpoint, run: RunPlan, opts: AgreementOptions, use: (s: DecoderSession) => Promise<void>): Promise<void> {
  // The study built the graph already: buildOrReuseGraph finds it.
  const path = buildOrReuseGraph(ckpt, run.graph);
  const session = await DecoderSession.open(path, ckpt.config, {
    ...run.graph,
    executionProvider: opts.executionProvider,
    intraOpThreads: opts.intraOpThreads,
  });
  try {
    await use(session);
  } finally {
    await session.release();
  }
}
