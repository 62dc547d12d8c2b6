/**
 * Progress on stderr while a study runs: per variant (and threshold, in a sweep), samples done of total and decode tokens/s,
 * with the time left at this invocation's pace. At most one line every few seconds, plus the last.
 */
import { tokensPerSecond } from '../../src/model/generate.ts';

interface Tally {
  variant: string;
  threshold: number;
  done: number;
  total: number;
  generatedTokens: number;
  decodeMs: number;
}

export class Progress {
  private readonly tallies = new Map<string, Tally>();
  private readonly started = performance.now();
  private lastPrint = 0;
  /** Samples finished by this invocation (resumed ones excluded): the pace for the ETA. */
  private finishedHere = 0;

  constructor(
    private readonly out: NodeJS.WritableStream = process.stderr,
    private readonly everyMs = Number(process.env['FLEXIBENCH_PROGRESS_MS'] ?? 3000),
  ) {}

  /** Runs are tallied per variant and threshold; a variant run at one threshold only is labelled by its name alone. */
  addRun(variant: string, threshold: number, total: number, alreadyDone: number): void {
    const key = `${variant}@${threshold}`;
    const t = this.tallies.get(key) ?? { variant, threshold, done: 0, total: 0, generatedTokens: 0, decodeMs: 0 };
    t.total += total;
    t.done += alreadyDone;
    this.tallies.set(key, t);
  }

  sampleDone(variant: string, threshold: number, generatedTokens: number, decodeMs: number): void {
    const t = this.tallies.get(`${variant}@${threshold}`)!;
    t.done++;
    t.generatedTokens += generatedTokens;
    t.decodeMs += decodeMs;
    this.finishedHere++;
    if (performance.now() - this.lastPrint >= this.everyMs) this.print();
  }

  line(): string {
    const elapsed = (performance.now() - this.started) / 1000;
    let left = 0;
    const parts: string[] = [];
    const tallies = [...this.tallies.values()];
    for (const t of tallies) {
      left += t.total - t.done;
      const tps = tokensPerSecond(t.generatedTokens, t.decodeMs)?.toFixed(1) ?? '-';
      const swept = tallies.some((o) => o.variant === t.variant && o.threshold !== t.threshold);
      parts.push(`${swept ? `${t.variant}@${t.threshold}` : t.variant} ${t.done}/${t.total} (${tps} tok/s)`);
    }
    const eta = this.finishedHere > 0 ? `, ETA ${formatSeconds((left * elapsed) / this.finishedHere)}` : '';
    return `run: ${parts.join(', ')}, elapsed ${formatSeconds(elapsed)}${eta}`;
  }

  print(): void {
    this.lastPrint = performance.now();
    this.out.write(this.line() + '\n');
  }
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
}
