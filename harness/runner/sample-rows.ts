/** What the study stores for one doc of one run: the scored sample and a row per position. */
import type { Generation } from '../../src/model/generate.ts';
import type { SampleRecord, TokenRecord } from '../../src/store/study-db.ts';
import { scoreSample } from '../../tasks/suites/score-sample.ts';
import type { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import type { PlannedDoc, PlannedSuite } from './plan.ts';

export interface SampleRows {
  sample: SampleRecord;
  tokens: TokenRecord[];
}

/**
 * Prompt pieces per suite and doc: every variant of a doc shares the prompt, so its pieces are
 * decoded once. Keyed `suite\0docId`.
 */
export type PromptPiecesCache = Map<string, string[]>;

function promptPieces(suite: PlannedSuite, doc: PlannedDoc, tok: TextTokenizer, cache: PromptPiecesCache): string[] {
  const key = `${suite.spec.name}\0${doc.docId}`;
  let pieces = cache.get(key);
  if (pieces === undefined) {
    pieces = tok.pieces(doc.promptIds);
    cache.set(key, pieces);
  }
  return pieces;
}

export function sampleRows(suite: PlannedSuite, doc: PlannedDoc, gen: Generation, tok: TextTokenizer, cache: PromptPiecesCache): SampleRows {
  // Generated pieces are decoded after the prompt's last tokens, so leading spaces come out right.
  const context = doc.promptIds.slice(-8);
  const genPieces = tok.pieces([...context, ...gen.generatedIds]).slice(context.length);
  const pieces = [...promptPieces(suite, doc, tok, cache), ...genPieces];
  // The same text as the generated pieces joined without special tokens, so the token rows reproduce it.
  const output = tok.outputText(gen);
  const tokens: TokenRecord[] = gen.positions.map((p, position) => ({
    position,
    tokenId: p.id,
    text: pieces[position]!,
    bytes: tok.tokenBytes(p.id),
    phase: p.phase,
    layersUsed: p.layersUsed,
    mask: p.mask,
    gates: p.gates,
  }));
  const sample: SampleRecord = {
    docId: doc.docId,
    docIndex: doc.index,
    prompt: doc.promptText,
    output,
    reference: doc.reference,
    metrics: scoreSample(suite.spec, output, doc.reference),
    promptTokens: gen.promptIds.length,
    truncatedTokens: doc.truncatedTokens,
    generatedTokens: gen.generatedIds.length,
    prefillMs: gen.timing.prefillMs,
    decodeMs: gen.timing.decodeMs,
    stopReason: gen.stopReason,
    status: 'done',
    error: null,
  };
  return { sample, tokens };
}

/** A sample that could not be generated: stored with its reason, retried when the study is rerun. */
export function errorSample(doc: PlannedDoc, message: string): SampleRecord {
  return {
    docId: doc.docId,
    docIndex: doc.index,
    prompt: doc.promptText,
    output: '',
    reference: doc.reference,
    metrics: {},
    promptTokens: doc.promptIds.length,
    truncatedTokens: doc.truncatedTokens,
    generatedTokens: 0,
    prefillMs: 0,
    decodeMs: 0,
    stopReason: 'error',
    status: 'error',
    error: message,
  };
}
