/**
 * Progress on stderr while a study runs: per variant (and threshold, in a sweep; and precision), samples done of total and decode tokens/s,
 * with the time left at this invocation's pace. At most one line every few seconds, plus the last.
 */
import { tokensPerSecond } from '../../src/model/generate.ts';

/** What progress is tallied by: a variant at a threshold and a precision (precisionTag: empty for fp32). */
export interface ProgressSeries {
  variant: string;
  threshold: number;
  precision: string;
}

interface Tally extends ProgressSeries {
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

  /** Runs are tallied per series; a variant run at one threshold only is labelled without it. */
  addRun(series: ProgressSeries, total: number, alreadyDone: number): void {
    const key = keyOf(series);
    const t = this.tallies.get(key) ?? { ...series, done: 0, total: 0, generatedTokens: 0, decodeMs: 0 };
    t.total += total;
    t.done += alreadyDone;
    this.tallies.set(key, t);
  }

  sampleDone(series: ProgressSeries, generatedTokens: number, decodeMs: number): void {
    const t = this.tallies.get(keyOf(series))!;
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
      const name = `${swept ? `${t.variant}@${t.threshold}` : t.variant}${t.precision === '' ? '' : ` ${t.precision}`}`;
      parts.push(`${name} ${t.done}/${t.total} (${tps} tok/s)`);
    }
    const eta = this.finishedHere > 0 ? `, ETA ${formatSeconds((left * elapsed) / this.finishedHere)}` : '';
    return `run: ${parts.join(', ')}, elapsed ${formatSeconds(elapsed)}${eta}`;
  }

  print(): void {
    this.lastPrint = performance.now();
    this.out.write(this.line() + '\n');
  }
}

const keyOf = (s: ProgressSeries): string => `${s.variant}@${s.threshold} ${s.precision}`;

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
}
