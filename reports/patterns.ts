/**
 * A study's layer patterns, read once (src/store/pattern-reads.ts) and shaped for the report:
 * per-layer usage (the paper's "bowl"), the distribution of layers used, token depth maps (the
 * paper's Figure 1), and where depth goes inside an answer. Every depth is the producing-position
 * depth of the token it is attached to (docs/method.md).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Clusters } from '../src/scoring/bootstrap.ts';
import {
  readDepthCounts,
  readDepthDocs,
  readDepthTokens,
  readLayerUsage,
  type DepthCountRow,
  type DepthDocRow,
  type DepthTokenRow,
  type LayerUsageRow,
} from '../src/store/pattern-reads.ts';

/** Documents per FlexiDepth run shown as depth maps. */
export const DEPTH_MAP_DOCS = 2;
/** Suites whose answers are split into parts (operands and answer digits; copied text and the rest). */
export const ARITHMETIC_SUITES = ['addition', 'product'] as const;
export const COPY_SUITES = ['copy'] as const;

export interface DepthDoc {
  doc: DepthDocRow;
  tokens: DepthTokenRow[];
}

export interface StudyPatterns {
  /** Per FlexiDepth run, every sample's use of the routed layers (the clusters of the per-layer bootstraps). */
  layerUse: Map<string, SampleLayerUse[]>;
  depthCounts: DepthCountRow[];
  /** The first DEPTH_MAP_DOCS documents of every FlexiDepth run. */
  depthMaps: DepthDoc[];
  /** Every document of the FlexiDepth runs of the arithmetic and copy suites. */
  answerDocs: DepthDoc[];
}

function joinDocs(docs: DepthDocRow[], tokens: DepthTokenRow[]): DepthDoc[] {
  const byDoc = new Map<string, DepthTokenRow[]>();
  for (const t of tokens) {
    const key = `${t.run_id}\u0000${t.doc_id}`;
    const list = byDoc.get(key);
    if (list === undefined) byDoc.set(key, [t]);
    else list.push(t);
  }
  return docs.map((doc) => ({ doc, tokens: byDoc.get(`${doc.run_id}\u0000${doc.doc_id}`) ?? [] }));
}

export async function readPatterns(conn: DuckDBConnection, suites: readonly string[]): Promise<StudyPatterns> {
  const maps = { suites, docsPerRun: DEPTH_MAP_DOCS };
  const answers = { suites: [...ARITHMETIC_SUITES, ...COPY_SUITES], docsPerRun: null };
  return {
    layerUse: layerUseBySample(await readLayerUsage(conn)),
    depthCounts: await readDepthCounts(conn),
    depthMaps: joinDocs(await readDepthDocs(conn, maps), await readDepthTokens(conn, maps)),
    answerDocs: joinDocs(await readDepthDocs(conn, answers), await readDepthTokens(conn, answers)),
  };
}

/** One sample's generated tokens and, per routed layer in routing order, how many of them ran it. */
export interface SampleLayerUse {
  tokens: number;
  ran: number[];
}

/** The stored rows grouped per run, then per sample. */
function layerUseBySample(rows: readonly LayerUsageRow[]): Map<string, SampleLayerUse[]> {
  const out = new Map<string, Map<string, SampleLayerUse>>();
  for (const r of rows) {
    let docs = out.get(r.run_id);
    if (docs === undefined) out.set(r.run_id, (docs = new Map()));
    let use = docs.get(r.doc_id);
    if (use === undefined) docs.set(r.doc_id, (use = { tokens: r.tokens, ran: [] }));
    use.ran[r.routed_index] = r.ran;
  }
  return new Map([...out].map(([run, docs]) => [run, [...docs.values()]]));
}

/** Per run, the share of generated tokens whose producing pass ran each routed layer, in routing order. */
export function layerUsageByRun(p: StudyPatterns): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [run, samples] of p.layerUse) {
    const tokens = samples.reduce((s, u) => s + u.tokens, 0);
    const layers = Math.max(...samples.map((u) => u.ran.length));
    out.set(
      run,
      Array.from({ length: layers }, (_, l) => samples.reduce((s, u) => s + (u.ran[l] ?? 0), 0) / tokens),
    );
  }
  return out;
}

/** Per run, the share of generated tokens at each number of layers used. */
export function depthDistribution(p: StudyPatterns): Map<string, { layers_used: number; share: number }[]> {
  const totals = new Map<string, number>();
  for (const r of p.depthCounts) totals.set(r.run_id, (totals.get(r.run_id) ?? 0) + r.tokens);
  const out = new Map<string, { layers_used: number; share: number }[]>();
  for (const r of p.depthCounts) {
    let list = out.get(r.run_id);
    if (list === undefined) out.set(r.run_id, (list = []));
    list.push({ layers_used: r.layers_used, share: r.tokens / (totals.get(r.run_id) as number) });
  }
  return out;
}

export interface AnswerPart {
  /** Display order within a suite. */
  order: number;
  part: string;
  layers_used_mean: number;
  tokens: number;
}

const DIGIT = /^\s*\d$/;

/** Arithmetic: operand digits and other prompt tokens; answer digits by their place; the rest. */
function arithmeticPart(t: DepthTokenRow, digitIndex: number): [number, string] {
  if (t.phase === 'prompt') return DIGIT.test(t.text) ? [0, 'prompt: operand digits'] : [1, 'prompt: other tokens'];
  return DIGIT.test(t.text) ? [2 + digitIndex, `answer digit ${digitIndex + 1}`] : [100, 'answer: other (space, end)'];
}

/**
 * Copy: a generated token is "copied" while the output so far is still a prefix of the source
 * passage (the reference); from the first deviation on, and for the closing newline, it is not.
 */
function copyParts(d: DepthDoc): [number, string][] {
  let produced = '';
  let onSource = true;
  return d.tokens.map((t) => {
    if (t.phase === 'prompt') return [0, 'prompt'];
    produced += t.text;
    onSource = onSource && d.doc.reference.startsWith(produced.trimStart()) && t.text.trim() !== '';
    return onSource ? [1, 'generated: copied from the source'] : [2, 'generated: the rest (deviations, end)'];
  });
}

function tokenParts(suite: string, d: DepthDoc): [number, string][] {
  if ((COPY_SUITES as readonly string[]).includes(suite)) return copyParts(d);
  let digits = 0;
  return d.tokens.map((t) => {
    const part = arithmeticPart(t, digits);
    if (t.phase === 'generated' && DIGIT.test(t.text)) digits++;
    return part;
  });
}

/**
 * The depth of an equation's two sides in one arithmetic run (the paper: result digits use more
 * layers than the left-hand side): per document, the layers used summed over its operand digits
 * (prompt) and over its answer digits (generated), each with its token count as the weight.
 */
export function digitDepthClusters(p: StudyPatterns, runId: string): { operands: Clusters; answer: Clusters } {
  const sides = p.answerDocs
    .filter((d) => d.doc.run_id === runId)
    .map((d) => {
      const side = { prompt: { num: 0, den: 0 }, generated: { num: 0, den: 0 } };
      for (const t of d.tokens) {
        if (t.layers_used === null || !DIGIT.test(t.text)) continue;
        side[t.phase].num += t.layers_used;
        side[t.phase].den += 1;
      }
      return side;
    });
  return {
    operands: { num: sides.map((s) => s.prompt.num), den: sides.map((s) => s.prompt.den) },
    answer: { num: sides.map((s) => s.generated.num), den: sides.map((s) => s.generated.den) },
  };
}

/** Per run of an arithmetic or copy suite, the mean producing depth of each part of the text. */
export function answerParts(p: StudyPatterns, suiteOf: (runId: string) => string): Map<string, AnswerPart[]> {
  const sums = new Map<string, Map<string, AnswerPart>>();
  for (const d of p.answerDocs) {
    let perRun = sums.get(d.doc.run_id);
    if (perRun === undefined) sums.set(d.doc.run_id, (perRun = new Map()));
    const parts = tokenParts(suiteOf(d.doc.run_id), d);
    d.tokens.forEach((t, i) => {
      if (t.layers_used === null) return;
      const [order, part] = parts[i] as [number, string];
      const acc = perRun.get(part) ?? { order, part, layers_used_mean: 0, tokens: 0 };
      acc.layers_used_mean += t.layers_used;
      acc.tokens += 1;
      perRun.set(part, acc);
    });
  }
  const out = new Map<string, AnswerPart[]>();
  for (const [runId, parts] of sums) {
    out.set(
      runId,
      [...parts.values()].map((a) => ({ ...a, layers_used_mean: a.layers_used_mean / a.tokens })).sort((a, b) => a.order - b.order),
    );
  }
  return out;
}
