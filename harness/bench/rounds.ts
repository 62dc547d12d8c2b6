/**
 * bench's measurement: every session decodes the same prompts, once to warm up, then in rounds that
 * run the sessions in their creation order and reversed every other round (ABBA), so neither
 * creation nor run order favours a variant (harness/commands/bench.ts says why).
 */
import { generate, generateBatch, tokensPerSecond, type Generation } from '../../src/model/generate.ts';
import type { DecoderSession } from '../../src/model/session.ts';
import type { Variant } from '../../src/model/variants.ts';

/** One decode of the prompts by one session. */
export interface Run {
  msPerStep: number;
  prefillTokensPerS: number;
  /** One per sequence of the batch. */
  gens: Generation[];
}

/**
 * Greedy decoding without EOS: every sequence decodes exactly `tokens` tokens, in `tokens` steps.
 * One prompt runs alone; several run as one batch.
 */
export async function decodeOnce(session: DecoderSession, prompts: readonly number[][], tokens: number, threshold: number): Promise<Run> {
  const gens: Generation[] = [];
  if (prompts.length === 1) gens.push(await generate(session, prompts[0]!, { maxNewTokens: tokens, threshold }));
  else {
    const queue = prompts.map((ids, tag) => ({ tag, promptIds: ids, opts: { maxNewTokens: tokens, threshold } }));
    await generateBatch(
      session,
      () => queue.shift(),
      prompts.length,
      (_tag, result) => {
        if (result instanceof Error) throw result;
        gens.push(result);
      },
    );
  }
  // Per-sequence times are shares of the batch's passes: their sums are the batch's times.
  const sum = (f: (g: Generation) => number): number => gens.reduce((n, g) => n + f(g), 0);
  return {
    msPerStep: sum((g) => g.timing.decodeMs) / tokens,
    prefillTokensPerS:
      tokensPerSecond(
        sum((g) => g.timing.prefillTokens),
        sum((g) => g.timing.prefillMs),
      ) ?? Number.NaN,
    gens,
  };
}

/** Each session's runs, round by round, after one warm-up run each; a line per round on `log`. */
export async function interleavedRounds(
  sessions: readonly DecoderSession[],
  order: readonly Variant[],
  rounds: number,
  once: (s: DecoderSession) => Promise<Run>,
  log: NodeJS.WritableStream,
): Promise<Run[][]> {
  for (const s of sessions) await once(s);
  const runs: Run[][] = sessions.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const forward = order.map((_, k) => k);
    const seq = r % 2 === 0 ? forward : forward.reverse();
    for (const k of seq) runs[k]!.push(await once(sessions[k]!));
    const line = (v: Variant): string =>
      order
        .map((w, k) => (w === v ? runs[k]!.at(-1)!.msPerStep.toFixed(3) : null))
        .filter((x) => x !== null)
        .join(' / ');
    log.write(`bench: round ${r + 1}/${rounds}: ms per decode step full ${line('full')}, flexidepth ${line('flexidepth')}\n`);
  }
  return runs;
}
