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
 *
 * Cost: the LCS scores take O(|target|·|prediction|) time, as in rouge-score, but memory linear in
 * the input (ROUGE-L keeps two table rows; ROUGE-Lsum replays its backtrace block by block, see
 * traceRows), so a long text is slow, never out of memory. Callers bound the time by bounding the
 * text (`flexibench score` caps each input line).
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

/** Tokens as integer ids (one vocabulary per call), so the O(m·n) LCS loops compare numbers. */
function encode(tokens: readonly string[], ids: Map<string, number>): Int32Array {
  const out = new Int32Array(tokens.length);
  for (let k = 0; k < tokens.length; k++) {
    const token = tokens[k] as string;
    let id = ids.get(token);
    if (id === undefined) {
      id = ids.size;
      ids.set(token, id);
    }
    out[k] = id;
  }
  return out;
}

/**
 * Rows lo+1..hi of the LCS table over columns 0..cols, advanced from row lo (`rowLo`). A row of the
 * table depends only on the row above it, and a column only on columns to its left, so any block
 * of rows and any column prefix can be recomputed from one stored row.
 */
function advanceRows(ref: Int32Array, can: Int32Array, lo: number, hi: number, rowLo: Int32Array, cols: number): Int32Array {
  let prev = rowLo.slice(0, cols + 1);
  let curr = new Int32Array(cols + 1);
  for (let r = lo + 1; r <= hi; r++) {
    const token = ref[r - 1];
    // The left and up-left cells ride in locals: this loop is where long texts spend their time.
    let left = 0;
    let diagonal = prev[0]!;
    for (let c = 1; c <= cols; c++) {
      const up = prev[c]!;
      left = token === can[c - 1] ? diagonal + 1 : up > left ? up : left;
      curr[c] = left;
      diagonal = up;
    }
    [prev, curr] = [curr, prev];
  }
  return prev;
}

/** LCS length in two rows of memory: ROUGE-L needs only the length, never the table. */
function lcsLength(a: Int32Array, b: Int32Array): number {
  const [rows, cols] = a.length >= b.length ? [a, b] : [b, a];
  return advanceRows(rows, cols, 0, rows.length, new Int32Array(cols.length + 1), cols.length)[cols.length]!;
}

function scoreLcs(target: readonly string[], prediction: readonly string[]): RougeScore {
  if (target.length === 0 || prediction.length === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  const ids = new Map<string, number>();
  const lcs = lcsLength(encode(target, ids), encode(prediction, ids));
  const precision = lcs / prediction.length;
  const recall = lcs / target.length;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** Cells of LCS table the ROUGE-Lsum backtrace holds at once: 16 MiB of Int32. */
const BACKTRACE_CELLS = 1 << 22;

/** One backtrace: its two sequences, its memory, and where it marks the ref tokens it matched. */
interface Backtrace {
  readonly ref: Int32Array;
  can: Int32Array;
  readonly budget: number;
  /** The block of table rows walked last, reused: ROUGE-Lsum runs one backtrace per sentence pair. */
  block: Int32Array;
  /** 1 at each ref index an LCS matched, and how many those are. */
  readonly matched: Uint8Array;
  matchedCount: number;
}

/**
 * rouge-score's backtrace from (hi, j) down to row lo (or column 0), marking the ref indices it
 * matches; `rowLo` is the table's row lo over at least columns 0..j (null: row 0, all zeros).
 * Returns the column at which the path reaches row lo.
 *
 * Why not plain Hirschberg: it finds *an* LCS in linear space, but ROUGE-Lsum needs the very LCS
 * rouge-score's tie-breaking picks (ties move up in ref), since another LCS changes the union.
 * That path is decided by the forward table alone, so it is replayed exactly: a block of rows
 * within the cell budget is filled and walked; a taller one is split at its middle row `mid`, that
 * row is advanced from `rowLo`, rows mid..hi (where the path enters) are walked first, then rows
 * lo..mid from the column where the path left them. Memory: one row per level (log2 of the rows)
 * plus one block; time: about (1 + log2(cells / budget) / 2) times the plain table's.
 */
function traceRows(bt: Backtrace, lo: number, hi: number, rowLo: Int32Array | null, j: number): number {
  const { ref, can } = bt;
  if (hi - lo > 1 && (hi - lo + 1) * (j + 1) > bt.budget) {
    const mid = (lo + hi) >>> 1;
    const rowMid = advanceRows(ref, can, lo, mid, rowLo ?? new Int32Array(j + 1), j);
    const jMid = traceRows(bt, mid, hi, rowMid, j);
    return jMid === 0 ? 0 : traceRows(bt, lo, mid, rowLo, jMid);
  }
  const w = j + 1;
  const cells = (hi - lo + 1) * w;
  if (bt.block.length < cells) bt.block = new Int32Array(cells);
  const block = bt.block;
  if (rowLo === null) block.fill(0, 0, w);
  else block.set(rowLo.subarray(0, w));
  for (let r = 1; r <= hi - lo; r++) {
    const token = ref[lo + r - 1];
    const row = r * w;
    const up = row - w;
    block[row] = 0;
    let left = 0;
    let diagonal = block[up]!;
    for (let c = 1; c < w; c++) {
      const above = block[up + c]!;
      left = token === can[c - 1] ? diagonal + 1 : above > left ? above : left;
      block[row + c] = left;
      diagonal = above;
    }
  }
  let i = hi;
  while (i > lo && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      if (bt.matched[i - 1] === 0) {
        bt.matched[i - 1] = 1;
        bt.matchedCount++;
      }
      i--;
      j--;
    } else if (block[(i - lo) * w + j - 1]! > block[(i - lo - 1) * w + j]!) {
      j--;
    } else {
      i--;
    }
  }
  return j;
}

function markLcs(bt: Backtrace): void {
  if (bt.ref.length > 0 && bt.can.length > 0) traceRows(bt, 0, bt.ref.length, null, bt.can.length);
}

/**
 * Indices into `ref` of one LCS, ascending, read back the way rouge-score does (ties move up in
 * ref), since which LCS is chosen changes the union in ROUGE-Lsum. `budget` (table cells held at
 * once) is there for tests; the result does not depend on it.
 */
export function lcsIndices(ref: Int32Array, can: Int32Array, budget: number = BACKTRACE_CELLS): number[] {
  const bt: Backtrace = { ref, can, budget, block: new Int32Array(0), matched: new Uint8Array(ref.length), matchedCount: 0 };
  markLcs(bt);
  const out: number[] = [];
  bt.matched.forEach((hit, idx) => {
    if (hit === 1) out.push(idx);
  });
  return out;
}

/**
 * Each ref index that an LCS with some prediction sentence matches. Shortcuts that leave the union
 * as rouge-score computes it: a prediction sentence sharing no token with `ref` has an empty LCS, a
 * repeated one adds nothing (the caller passes each once), and none adds anything once every
 * index is in. `cansWith[token]` lists the prediction sentences holding that token.
 */
function unionLcs(ref: Int32Array, cans: readonly Int32Array[], cansWith: readonly number[][], scratch: { block: Int32Array }): Uint8Array {
  const relevant = new Uint8Array(cans.length);
  for (const token of new Set(ref)) for (const c of cansWith[token] ?? []) relevant[c] = 1;
  const bt: Backtrace = { ref, can: new Int32Array(0), budget: BACKTRACE_CELLS, block: scratch.block, matched: new Uint8Array(ref.length), matchedCount: 0 };
  for (let c = 0; c < cans.length && bt.matchedCount < ref.length; c++) {
    if (relevant[c] === 0) continue;
    bt.can = cans[c] as Int32Array;
    markLcs(bt);
  }
  scratch.block = bt.block;
  return bt.matched;
}

function summaryLevelLcs(targetSents: readonly string[][], predictionSents: readonly string[][]): RougeScore {
  const zero = { precision: 0, recall: 0, fmeasure: 0 };
  if (targetSents.length === 0 || predictionSents.length === 0) return zero;
  const m = targetSents.reduce((sum, s) => sum + s.length, 0);
  const n = predictionSents.reduce((sum, s) => sum + s.length, 0);
  if (m === 0 || n === 0) return zero;

  const ids = new Map<string, number>();
  const refs = targetSents.map((s) => encode(s, ids));
  const predictions = predictionSents.map((s) => encode(s, ids));
  const countsT = new Int32Array(ids.size);
  const countsP = new Int32Array(ids.size);
  for (const s of refs) for (const t of s) countsT[t]!++;
  for (const s of predictions) for (const t of s) countsP[t]!++;
  // Only distinct, non-empty prediction sentences can add to a union (see unionLcs); the counts
  // above still take every one.
  const cans = [...new Map(predictions.filter((s) => s.length > 0).map((s) => [s.join(' '), s])).values()];
  const cansWith: number[][] = Array.from({ length: ids.size }, () => []);
  cans.forEach((can, c) => {
    for (const token of new Set(can)) cansWith[token]?.push(c);
  });

  // A repeated reference sentence has the same union; only the counting below runs for each.
  const unions = new Map<string, Uint8Array>();
  const scratch = { block: new Int32Array(0) };
  let hits = 0;
  for (const ref of refs) {
    const key = ref.join(' ');
    let union = unions.get(key);
    if (union === undefined) {
      union = unionLcs(ref, cans, cansWith, scratch);
      unions.set(key, union);
    }
    for (let idx = 0; idx < ref.length; idx++) {
      if (union[idx] === 0) continue;
      const token = ref[idx]!;
      if (countsT[token]! > 0 && countsP[token]! > 0) {
        hits++;
        countsT[token]!--;
        countsP[token]!--;
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
export function rougeScores(target: string, prediction: string, types: readonly RougeType[], options: RougeOptions): Record<string, RougeScore> {
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
