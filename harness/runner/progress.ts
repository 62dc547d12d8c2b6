/**
 * Progress on stderr while a study runs: per variant (and threshold, in a sweep; and precision), samples done of total and decode tokens/s,
 * with the time left at this invocation's pace.
 *
 * On a terminal, one line that redraws itself (a carriage return, never more than the terminal's
 * width, so it cannot wrap into a second line). Anywhere else (a log file, a pipe, CI) a plain line
 * at most every few seconds, plus the last: a carriage return there would be noise in the log.
 *
 * The ETA comes from the pace of the samples finished by this invocation, never from the time
 * since it started: that includes loading the model and building the sessions, which can take
 * longer than the samples. Until a few samples and a few seconds give a pace, no ETA is shown.
 */
import { tokensPerSecond } from '../../src/model/generate.ts';

/** What progress is tallied by: a variant at a threshold and a precision (precisionTag: empty for fp32). */
export interface ProgressSeries {
  variant: string;
  threshold: number;
  precision: string;
}

/** Samples finished before the pace counts as known. */
export const ETA_MIN_SAMPLES = 5;
/** Time the pace is measured over, at least, before it counts as known. */
export const ETA_MIN_MS = 5000;
/** The pace is that of the last this many samples: it follows a change of pace (a longer suite) instead of averaging it away. */
export const PACE_WINDOW = 50;

/** Plain lines at most this often unless FLEXIBENCH_PROGRESS_MS says otherwise. */
const PLAIN_EVERY_MS = 3000;
/** The bar redraws at most this often unless FLEXIBENCH_PROGRESS_MS says otherwise. */
const BAR_EVERY_MS = 200;
/** A terminal that does not say its width. */
const DEFAULT_COLUMNS = 80;

/** When the samples of this invocation finished: what the pace is measured from. */
export interface Pace {
  /**
   * When the work began: the first finished sample's end less its decode time. The samples in
   * flight at the start began together, so counting from here and not from the first end keeps the
   * first round of a pool of workers from reading as a burst.
   */
  begun: number | null;
  /** End times (ms) of the last PACE_WINDOW samples, oldest first. */
  ends: number[];
  /** Samples finished by this invocation (resumed ones excluded). */
  count: number;
}

export const newPace = (): Pace => ({ begun: null, ends: [], count: 0 });

/** `pace` with one more sample, ended at `at` after `workMs` of work; never begun before `startedAt`, when the invocation started. */
export function paceWith(pace: Pace, at: number, workMs: number, startedAt: number): Pace {
  const ends = [...pace.ends, at].slice(-PACE_WINDOW);
  return { begun: pace.begun ?? Math.max(startedAt, at - workMs), ends, count: pace.count + 1 };
}

/**
 * Samples per second, or null until ETA_MIN_SAMPLES samples and ETA_MIN_MS of work are behind us.
 * While the window still holds the first sample, it is measured from when the work began; after,
 * from the window's oldest end (the samples after it over the time since).
 */
export function samplesPerSecond(pace: Pace, now: number): number | null {
  if (pace.begun === null || pace.count < ETA_MIN_SAMPLES || now - pace.begun < ETA_MIN_MS) return null;
  const fromBegun = pace.count <= pace.ends.length;
  const since = fromBegun ? pace.begun : (pace.ends[0] as number);
  const samples = fromBegun ? pace.count : pace.ends.length - 1;
  return now > since ? (samples * 1000) / (now - since) : null;
}

/** One series' counts, as the lines show them. */
export interface SeriesCount {
  /** `flexidepth`, `flexidepth@0.5` in a sweep, with ` int8` when not fp32. */
  label: string;
  done: number;
  total: number;
  /** Decode tokens/s of the samples finished by this invocation; null before the first. */
  tokensPerSecond: number | null;
}

/** Everything a progress line is drawn from. */
export interface ProgressView {
  series: SeriesCount[];
  /** Since this invocation started. */
  elapsedMs: number;
  pace: Pace;
  now: number;
}

/** Seconds to finish at the current pace; null while the pace is not known. */
export function etaSeconds(view: ProgressView): number | null {
  const rate = samplesPerSecond(view.pace, view.now);
  if (rate === null || rate <= 0) return null;
  return view.series.reduce((left, s) => left + Math.max(0, s.total - s.done), 0) / rate;
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
}

const seriesPart = (s: SeriesCount): string => `${s.label} ${s.done}/${s.total} (${s.tokensPerSecond?.toFixed(1) ?? '-'} tok/s)`;

/** The plain line of a log: `run: flexidepth 3/10 (41.2 tok/s), full 2/10 (50.1 tok/s), elapsed 12s, ETA 40s`. */
export function plainLine(view: ProgressView): string {
  const eta = etaSeconds(view);
  return `run: ${view.series.map(seriesPart).join(', ')}, elapsed ${formatSeconds(view.elapsedMs / 1000)}${eta === null ? '' : `, ETA ${formatSeconds(eta)}`}`;
}

const widthOf = (text: string): number => [...text].length;

function cut(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  return width <= 0 ? '' : `${chars.slice(0, width - 1).join('')}\u2026`;
}

function rateText(rate: number): string {
  return rate >= 1 ? `${rate.toFixed(1)} samples/s` : `${(1 / rate).toFixed(1)} s/sample`;
}

/** The smallest bar worth drawing, brackets included. */
const MIN_BAR = 10;
const MAX_BAR = 32;
/** Series text shorter than this is left out rather than cut to nothing. */
const MIN_SERIES = 12;

function bar(done: number, total: number, width: number): string {
  const inside = width - 2;
  const filled = total === 0 ? inside : Math.min(inside, Math.floor((inside * done) / total));
  return `[${'#'.repeat(filled)}${'-'.repeat(inside - filled)}]`;
}

/**
 * The terminal's line, in at most `width - 1` columns (a line filling the last column wraps on some
 * terminals): `run: [####------] 12/60 20%, 3.2 samples/s, ETA 15s, 4s elapsed | flexidepth 6/30 (41.2 tok/s), ...`.
 * Short of room it gives up, in order: the series (cut first, then left out), the elapsed time, the
 * bar's length, the bar, the rate; the counts and the ETA stay.
 */
export function progressBar(view: ProgressView, width: number): string {
  const max = Math.max(1, width - 1);
  const done = view.series.reduce((n, s) => n + s.done, 0);
  const total = view.series.reduce((n, s) => n + s.total, 0);
  const rate = samplesPerSecond(view.pace, view.now);
  const eta = etaSeconds(view);
  const counts = `${done}/${total} ${total === 0 ? 100 : Math.floor((100 * done) / total)}%`;
  const rateShown = rate === null ? null : rateText(rate);
  const etaShown = eta === null || done === total ? null : `ETA ${formatSeconds(eta)}`;
  const elapsed = `${formatSeconds(view.elapsedMs / 1000)} elapsed`;
  const series = view.series.map(seriesPart).join(', ');
  const compose = (barWidth: number, withRate: boolean, withElapsed: boolean): string =>
    [
      `run: ${barWidth > 0 ? `${bar(done, total, barWidth)} ` : ''}${counts}`,
      ...(withRate && rateShown !== null ? [rateShown] : []),
      ...(etaShown !== null ? [etaShown] : []),
      ...(withElapsed ? [elapsed] : []),
    ].join(', ');
  const barWidth = Math.min(MAX_BAR, Math.max(MIN_BAR, Math.floor(max / 5)));
  const full = compose(barWidth, true, true);
  const room = max - widthOf(full) - ' | '.length;
  if (series !== '' && room >= Math.min(MIN_SERIES, widthOf(series))) return `${full} | ${cut(series, room)}`;
  if (widthOf(full) <= max) return full;
  const shorter = Array.from({ length: barWidth - MIN_BAR + 1 }, (_, i) => compose(barWidth - i, true, false));
  const fitting = [...shorter, compose(0, true, false), compose(0, false, false)].find((line) => widthOf(line) <= max);
  return fitting ?? cut(compose(0, false, false), max);
}

/** A stream that may be a terminal (process.stderr is one when it is not redirected). */
type MaybeTerminal = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** FLEXIBENCH_PROGRESS_MS when it is a number of milliseconds; undefined otherwise. */
function everyMsFromEnv(): number | undefined {
  const v = process.env['FLEXIBENCH_PROGRESS_MS'];
  const ms = v === undefined || v.trim() === '' ? NaN : Number(v);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

export class Progress {
  private readonly tallies = new Map<string, Tally>();
  private readonly started: number;
  private lastPrint = -Infinity;
  private pace = newPace();
  /** Whether the line redraws itself: on a terminal that can clear a line. */
  private readonly bar: boolean;
  private readonly everyMs: number;
  /** Whether the bar is on screen, its line not ended. */
  private drawn = false;

  /**
   * `everyMs`: the least time between two lines (or redraws); FLEXIBENCH_PROGRESS_MS, else a few
   * seconds for lines and a fraction of one for the bar. `clock`: ms, monotonic (tests pass their own).
   */
  constructor(
    private readonly out: MaybeTerminal = process.stderr,
    everyMs: number | undefined = everyMsFromEnv(),
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.started = clock();
    this.bar = out.isTTY === true && process.env['TERM'] !== 'dumb';
    this.everyMs = everyMs ?? (this.bar ? BAR_EVERY_MS : PLAIN_EVERY_MS);
  }

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
    const now = this.clock();
    this.pace = paceWith(this.pace, now, decodeMs, this.started);
    if (now - this.lastPrint >= this.everyMs) this.show(false);
  }

  /** What the lines are drawn from, now. */
  view(): ProgressView {
    const tallies = [...this.tallies.values()];
    const series = tallies.map((t) => {
      const swept = tallies.some((o) => o.variant === t.variant && o.threshold !== t.threshold);
      return {
        label: `${swept ? `${t.variant}@${t.threshold}` : t.variant}${t.precision === '' ? '' : ` ${t.precision}`}`,
        done: t.done,
        total: t.total,
        tokensPerSecond: tokensPerSecond(t.generatedTokens, t.decodeMs),
      };
    });
    const now = this.clock();
    return { series, elapsedMs: now - this.started, pace: this.pace, now };
  }

  /** The plain line, as a log gets it. */
  line(): string {
    return plainLine(this.view());
  }

  /** The last line: on a terminal, the bar's final state with its line ended, so what follows starts on a line of its own. */
  print(): void {
    this.show(true);
  }

  /**
   * `text` (whole lines) written without tearing the bar: the bar's line is cleared, the text
   * written, and the bar drawn again below it.
   */
  log(text: string): void {
    if (!this.drawn) {
      this.out.write(text);
      return;
    }
    this.out.write(`\r\x1b[K${text}`);
    this.drawn = false;
    this.show(false);
  }

  private show(last: boolean): void {
    this.lastPrint = this.clock();
    if (!this.bar) {
      this.out.write(this.line() + '\n');
      return;
    }
    const width = typeof this.out.columns === 'number' && this.out.columns > 0 ? this.out.columns : DEFAULT_COLUMNS;
    // The cursor is left at the start of the line: whatever else is written to the stream while the
    // bar shows (an interrupt's notice, an error) writes over the bar instead of after it.
    this.out.write(`\r${progressBar(this.view(), width)}\x1b[K${last ? '\n' : '\r'}`);
    this.drawn = !last;
  }
}

interface Tally extends ProgressSeries {
  done: number;
  total: number;
  generatedTokens: number;
  decodeMs: number;
}

const keyOf = (s: ProgressSeries): string => `${s.variant}@${s.threshold} ${s.precision}`;
