/**
 * ROUGE-N, ROUGE-L and ROUGE-Lsum with the semantics of Google's `rouge-score` package
 * (`RougeScorer(types, use_stemmer)`), whose values its tests pin to the ROUGE-1.5.5 Perl script.
 *
 * Tokenizer: lower-case, every run of characters outside [a-z0-9] becomes one space, split on
 * whitespace, and with stemming on, tokens longer than 3 characters go through NLTK's Porter
 * stemmer (./porter-stemmer.ts, a hand port checked against NLTK). ROUGE-Lsum splits both texts
 * on "\n" into sentences and unions the LCS hits of each reference sentence against every
 * prediction sentence, counting each token at most as often as it occurs on both sides.
 * Scores are per pair (no bootstrap aggregation here: see ./bootstrap.ts).
 */
import { porterStem } from './porter-stemmer.ts';

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

export type RougeType = 'rouge1' | 'rouge2' | 'rougeL' | 'rougeLsum' | `rouge${number}`;

export interface RougeOptions {
  /** Porter stemming of tokens longer than 3 characters (rouge-score's `use_stemmer`). */
  stemming: boolean;
}

const NON_ALPHANUMERIC = /[^a-z0-9]+/g;
const VALID_TOKEN = /^[a-z0-9]+$/;

/** rouge-score's `tokenize.tokenize(text, stemmer)`. */
export function rougeTokenize(text: string, stemming: boolean): string[] {
  const tokens = text.toLowerCase().replace(NON_ALPHANUMERIC, ' ').split(/\s+/);
  const out: string[] = [];
  for (const token of tokens) {
    const t = stemming && token.length > 3 ? porterStem(token) : token;
    if (VALID_TOKEN.test(t)) out.push(t);
  }
  return out;
}

function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

function countNgrams(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    // A separator that no token can contain keeps n-grams unambiguous.
    const key = tokens.slice(i, i + n).join(' ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function scoreNgrams(target: readonly string[], prediction: readonly string[], n: number): RougeScore {
  const t = countNgrams(target, n);
  const p = countNgrams(prediction, n);
  let overlap = 0;
  for (const [gram, count] of t) overlap += Math.min(count, p.get(gram) ?? 0);
  const targetCount = Math.max(target.length - n + 1, 0);
  const predictionCount = Math.max(prediction.length - n + 1, 0);
  const precision = overlap / Math.max(predictionCount, 1);
  const recall = overlap / Math.max(targetCount, 1);
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** The (|ref|+1) x (|can|+1) LCS length table, row-major. */
function lcsTable(ref: readonly string[], can: readonly string[]): Int32Array {
  const cols = can.length + 1;
  const table = new Int32Array((ref.length + 1) * cols);
  for (let i = 1; i <= ref.length; i++) {
    for (let j = 1; j <= can.length; j++) {
      table[i * cols + j] =
        ref[i - 1] === can[j - 1]
          ? table[(i - 1) * cols + j - 1] + 1
          : Math.max(table[(i - 1) * cols + j], table[i * cols + j - 1]);
    }
  }
  return table;
}

function scoreLcs(target: readonly string[], prediction: readonly string[]): RougeScore {
  if (target.length === 0 || prediction.length === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  const table = lcsTable(target, prediction);
  const lcs = table[table.length - 1];
  const precision = lcs / prediction.length;
  const recall = lcs / target.length;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/**
 * Indices into `ref` of one LCS, read back the way rouge-score does (ties move up in ref), since
 * which LCS is chosen changes the union in ROUGE-Lsum.
 */
function lcsIndices(ref: readonly string[], can: readonly string[]): number[] {
  const table = lcsTable(ref, can);
  const cols = can.length + 1;
  const out: number[] = [];
  let i = ref.length;
  let j = can.length;
  while (i > 0 && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      out.push(i - 1);
      i--;
      j--;
    } else if (table[i * cols + j - 1] > table[(i - 1) * cols + j]) {
      j--;
    } else {
      i--;
    }
  }
  return out.reverse();
}

function summaryLevelLcs(targetSents: readonly string[][], predictionSents: readonly string[][]): RougeScore {
  const zero = { precision: 0, recall: 0, fmeasure: 0 };
  if (targetSents.length === 0 || predictionSents.length === 0) return zero;
  const m = targetSents.reduce((sum, s) => sum + s.length, 0);
  const n = predictionSents.reduce((sum, s) => sum + s.length, 0);
  if (m === 0 || n === 0) return zero;

  const countsT = new Map<string, number>();
  const countsP = new Map<string, number>();
  for (const s of targetSents) for (const t of s) countsT.set(t, (countsT.get(t) ?? 0) + 1);
  for (const s of predictionSents) for (const t of s) countsP.set(t, (countsP.get(t) ?? 0) + 1);

  let hits = 0;
  for (const ref of targetSents) {
    const union = new Set<number>();
    for (const can of predictionSents) for (const idx of lcsIndices(ref, can)) union.add(idx);
    for (const idx of [...union].sort((a, b) => a - b)) {
      const token = ref[idx];
      const ct = countsT.get(token) ?? 0;
      const cp = countsP.get(token) ?? 0;
      if (ct > 0 && cp > 0) {
        hits++;
        countsT.set(token, ct - 1);
        countsP.set(token, cp - 1);
      }
    }
  }
  const precision = hits / n;
  const recall = hits / m;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** Non-empty lines, as rouge-score's Lsum splits a summary into sentences. */
function sentences(text: string): string[] {
  return text.split('\n').filter((s) => s.length > 0);
}

/**
 * rouge-score's `RougeScorer(types, use_stemmer).score(target, prediction)`: the reference first,
 * then the prediction.
 */
export function rougeScores(
  target: string,
  prediction: string,
  types: readonly RougeType[],
  options: RougeOptions,
): Record<string, RougeScore> {
  const { stemming } = options;
  const result: Record<string, RougeScore> = {};
  let targetTokens: string[] | undefined;
  let predictionTokens: string[] | undefined;
  const tokens = (): [string[], string[]] => {
    targetTokens ??= rougeTokenize(target, stemming);
    predictionTokens ??= rougeTokenize(prediction, stemming);
    return [targetTokens, predictionTokens];
  };
  for (const type of types) {
    if (type === 'rougeL') {
      result[type] = scoreLcs(...tokens());
    } else if (type === 'rougeLsum') {
      result[type] = summaryLevelLcs(
        sentences(target).map((s) => rougeTokenize(s, stemming)),
        sentences(prediction).map((s) => rougeTokenize(s, stemming)),
      );
    } else {
      const match = /^rouge([1-9])$/.exec(type);
      if (match === null) throw new Error(`invalid ROUGE type '${type}'`);
      result[type] = scoreNgrams(...tokens(), Number(match[1]));
    }
  }
  return result;
}
