/**
 * A small hand-made study shaped like a real one, for the report tests: suites the report treats
 * specially (addition, copy, repetition, xsum), both variants, real-looking token pieces. Routed
 * masks follow fixed rules so the expected patterns can be worked out by hand:
 * - prompt positions run routed layers [0, 1, 0] (layers used 4 of 6);
 * - positions whose NEXT token is an answer digit run [1, 1, 1] (6 of 6), other generated-side
 *   positions [1, 0, 0] (4 of 6). A token's depth is its producing position's (the one before it).
 */
import type { SampleRecord, StudyDb, TokenRecord } from '../src/store/study-db.ts';
import { identity, metadata, sample } from './store-fixtures.ts';

interface Doc {
  id: string;
  prompt: string[];
  generated: string[];
  reference: string;
  metrics: Record<string, number>;
}

const DIGIT = /^\s*\d$/;

export const PATTERN_DOCS: Record<string, Doc[]> = {
  addition: [
    {
      id: 'a1',
      prompt: ['<|bos|>', 'Question', ':', ' What', ' is', ' ', '3', '4', '7', ' +', ' ', '5', '8', '9', '?', '\n', 'Answer', ':'],
      generated: [' ', '9', '3', '6', '\n'],
      reference: '936',
      metrics: { exact_match: 1 },
    },
    {
      id: 'a2',
      prompt: ['<|bos|>', 'Question', ':', ' What', ' is', ' ', '1', '0', '2', ' +', ' ', '2', '0', '5', '?', '\n', 'Answer', ':'],
      generated: [' ', '3', '0', '8', '\n'],
      reference: '307',
      metrics: { exact_match: 0 },
    },
  ],
  copy: [
    {
      id: 'c1',
      prompt: ['<|bos|>', 'Copy', ' the', ' text', ':', ' Why', ',', ' true', '\n', 'Answer', ':'],
      generated: [' Why', ',', ' true', '\n'],
      reference: 'Why, true',
      metrics: { exact_match: 1 },
    },
    {
      id: 'c2',
      prompt: ['<|bos|>', 'Copy', ' the', ' text', ':', ' O', ' put', ' me', '\n', 'Answer', ':'],
      generated: [' O', ' pat', ' me', '\n'],
      reference: 'O put me',
      metrics: { exact_match: 0 },
    },
  ],
  repetition: [
    {
      id: 'r1',
      prompt: ['<|bos|>', 'Repeat', ' the', ' numbers', ':', ' ', '7', ' ', '4', '2', '\n', 'Answer', ':'],
      generated: [' ', '7', ' ', '4', '2', '\n'],
      reference: '7 42',
      metrics: { exact_match: 1 },
    },
  ],
  xsum: [
    {
      id: 'x1',
      prompt: ['<|bos|>', 'Article', ':', ' Rain', ' fell', '.', '\n', 'Summary', ':'],
      generated: [' It', ' rained', '.', '\n'],
      reference: 'It rained.',
      metrics: { rouge1: 1 },
    },
  ],
};

/** The routed mask at a position, by the rules in the header. */
function maskAt(pieces: string[], position: number, promptLength: number): boolean[] {
  const next = pieces[position + 1];
  if (position + 1 >= promptLength && next !== undefined && DIGIT.test(next)) return [true, true, true];
  if (position + 1 >= promptLength) return [true, false, false];
  return [false, true, false];
}

export function patternTokens(doc: Doc, variant: 'flexidepth' | 'full'): TokenRecord[] {
  const pieces = [...doc.prompt, ...doc.generated];
  return pieces.map((text, position) => {
    const mask = variant === 'full' ? [] : maskAt(pieces, position, doc.prompt.length);
    return {
      position,
      tokenId: 10 + position,
      text,
      bytes: new TextEncoder().encode(text),
      phase: position < doc.prompt.length ? 'prompt' : 'generated',
      layersUsed: variant === 'full' ? 6 : 3 + mask.filter(Boolean).length,
      mask,
      gates: mask.map((m) => (m ? 0.8 : 0.2)),
    };
  });
}

function sampleOf(doc: Doc, index: number, variant: 'flexidepth' | 'full'): SampleRecord {
  return sample(doc.id, {
    docIndex: index,
    prompt: doc.prompt.slice(1).join(''),
    output: doc.generated.join(''),
    reference: doc.reference,
    metrics: doc.metrics,
    promptTokens: doc.prompt.length,
    generatedTokens: doc.generated.length,
    prefillMs: variant === 'full' ? 4 : 3,
    decodeMs: variant === 'full' ? 10 : 8,
  });
}

/** Every suite of PATTERN_DOCS through both variants of one 6-layer model (layers 3-5 routed). */
export async function buildPatternStudy(db: StudyDb, threshold = 0.5): Promise<void> {
  for (const [suite, docs] of Object.entries(PATTERN_DOCS)) {
    for (const variant of ['flexidepth', 'full'] as const) {
      const { runId } = await db.ensureRun(
        identity({ suite, variant, threshold, suiteConfigHash: `cfg-${suite}` }),
        metadata({ routingLayers: variant === 'full' ? [] : [3, 4, 5], suiteConfig: { name: suite } }),
      );
      for (const [i, doc] of docs.entries()) await db.writeSample(runId, sampleOf(doc, i, variant), patternTokens(doc, variant));
      await db.finishRun(runId);
    }
  }
}
