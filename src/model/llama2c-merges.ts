/**
 * The BPE merges of a sentencepiece-style vocabulary (llama2c.ts says why this is its merges list):
 * every split of a multi-character token into two tokens of the vocabulary, tokens in rank order,
 * splits left to right.
 *
 * Testing a split by slicing out both halves and looking them up costs the token's length per
 * split, so the square of its length per token, and a tokenizer file may declare a token of any
length within its size limit. Here each token's
 * prefixes and suffixes are hashed as it is scanned (polynomial hashes modulo two primes below
 * 2^26, so every product is exact in a double), and only a split whose halves both hash to tokens is
 * sliced and looked up. The work is linear in the vocabulary's length plus the merges written.
 */
import { UserError } from '../errors.ts';
import { formatLimit } from '../user-file.ts';

const MODULI = [67108859, 67108837] as const;
const BASES = [40503, 52711] as const;

/** Both hashes as one exact number: each is below 2^26. */
const key = (h0: number, h1: number): number => h0 * 2 ** 26 + h1;

/** h[i] = hash of text[0, i) modulo `mod`, and pow[i] = base^i. */
function prefixHashes(text: string, base: number, mod: number): { h: Float64Array; pow: Float64Array } {
  const h = new Float64Array(text.length + 1);
  const pow = new Float64Array(text.length + 1);
  pow[0] = 1;
  for (let i = 0; i < text.length; i++) {
    h[i + 1] = (h[i]! * base + text.charCodeAt(i)) % mod;
    pow[i + 1] = (pow[i]! * base) % mod;
  }
  return { h, pow };
}

function hashKey(text: string): number {
  const [a, b] = [0, 1].map((k) => prefixHashes(text, BASES[k]!, MODULI[k]!).h[text.length]!);
  return key(a!, b!);
}

/** Whether a split at UTF-16 index i would cut a surrogate pair (the halves must be whole characters). */
function insidePair(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c >= 0xdc00 && c <= 0xdfff && i > 0 && text.charCodeAt(i - 1) >= 0xd800 && text.charCodeAt(i - 1) <= 0xdbff;
}

/**
 * `left right` for every split of each of `ranked` into two members of `vocab`. `maxChars` bounds
 * the merges' total length (a vocabulary whose every prefix is a token has merges quadratic in its
 * length); past it the import is refused, naming `source`.
 */
export function vocabularyMerges(vocab: ReadonlySet<string>, ranked: readonly string[], maxChars: number, source: string): string[] {
  const hashed = new Set<number>();
  for (const name of vocab) hashed.add(hashKey(name));
  const merges: string[] = [];
  let chars = 0;
  for (const token of ranked) {
    const n = token.length;
    const [p, q] = [0, 1].map((k) => prefixHashes(token, BASES[k]!, MODULI[k]!));
    const suffix = (k: 0 | 1, i: number): number => {
      const { h, pow } = k === 0 ? p! : q!;
      const mod = MODULI[k];
      return (((h[n]! - h[i]! * pow[n - i]!) % mod) + mod) % mod;
    };
    for (let i = 1; i < n; i++) {
      if (insidePair(token, i) || !hashed.has(key(p!.h[i]!, q!.h[i]!)) || !hashed.has(key(suffix(0, i), suffix(1, i)))) continue;
      const left = token.slice(0, i);
      const right = token.slice(i);
      if (!vocab.has(left) || !vocab.has(right)) continue;
      merges.push(`${left} ${right}`);
      chars += n + 1;
      if (chars > maxChars) {
        throw new UserError(
          `${source}: its merges (each split of a token into two tokens) pass ${formatLimit(maxChars)}, the most flexibench reads of a tokenizer.json`,
        );
      }
    }
  }
  return merges;
}
