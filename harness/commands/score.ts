/**
 * `flexibench score --suite NAME --input FILE.jsonl`: scores `{"prediction", "reference"}` lines
 * with a suite's scorer and prints each line back with `"metrics"` added, so the scorers can be
 * checked from outside. stdout holds only those lines; a summary of the means goes to stderr.
 * Every line is checked (size, UTF-8, JSON, fields) before any is scored, so a bad line fails the
 * command at once and nothing is printed.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../../src/errors.ts';
import { loadTaskSpec } from '../../src/suites/spec.ts';
import { scoreSample, suiteMetrics } from '../../src/suites/score-sample.ts';
import { INCLUDE_PATH, defineCommand, required, text, type OptionValues } from '../args.ts';

/**
 * The longest input line accepted, in bytes. ROUGE's LCS and edit similarity take time quadratic
 * in the text, so this bounds a line's cost: measured on a 2-core machine under load, the worst
 * 32 KiB lines (about 8,000 one-letter words or 16,000 characters a side, split into sentences or
 * not) score in about a second and under 200 MB, where 64 KiB took 4 s. The largest dataset row
 * here, a whole XSum article with its summary, is 18 KB; predictions and references are far smaller.
 */
export const MAX_LINE_BYTES = 32 * 1024;

const OPTIONS = {
  suite: required(text('NAME', 'the suite whose scorer to use, or a FILE.yaml')),
  input: required(text('FILE.jsonl', 'the lines to score; - reads stdin')),
  includePath: INCLUDE_PATH,
};

const EPILOG = `Scores each line {"prediction": STRING, "reference": STRING, ...} of the input (UTF-8 JSON Lines)
with the suite's scorer and prints it back with "metrics" added; the means go to stderr. A line may
be at most ${MAX_LINE_BYTES / 1024} KiB (${MAX_LINE_BYTES} bytes), since scoring time grows with the square of its length.
A line over that, not UTF-8, not a JSON object, or without both string fields stops the command
with exit status 1 before anything is scored or printed.`;

/** One input line, as raw bytes, with its 1-based number. */
interface RawLine {
  number: number;
  bytes: Buffer;
}

/** Lines split on the newline byte, which never occurs inside a multi-byte UTF-8 character. */
function* rawLines(input: Buffer): Generator<RawLine> {
  let start = 0;
  for (let number = 1; start <= input.length; number++) {
    const newline = input.indexOf(0x0a, start);
    const end = newline === -1 ? input.length : newline;
    yield { number, bytes: input.subarray(start, end) };
    start = end + 1;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The line's record, or a UserError naming `where` and what is wrong with it; null for a blank line. */
function parseLine(raw: RawLine, where: string): Record<string, unknown> | null {
  if (raw.bytes.length > MAX_LINE_BYTES) {
    throw new UserError(`${where}: line is ${raw.bytes.length} bytes, over the ${MAX_LINE_BYTES}-byte limit of score (shorten its prediction or reference)`);
  }
  let text: string;
  try {
    text = utf8.decode(raw.bytes);
  } catch {
    // Decoding with replacement would score U+FFFD in place of the user's text without a word.
    throw new UserError(`${where}: not valid UTF-8 (convert the file to UTF-8, e.g. iconv -f LATIN1 -t UTF-8)`);
  }
  const line = text.trim();
  if (line === '') return null;
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch {
    throw new UserError(`${where}: not a JSON object`);
  }
  if (row === null || typeof row !== 'object' || Array.isArray(row)) throw new UserError(`${where}: not a JSON object`);
  const record = row as Record<string, unknown>;
  for (const key of ['prediction', 'reference']) {
    if (typeof record[key] !== 'string') throw new UserError(`${where}: "${key}" must be a string`);
  }
  return record;
}

function score(values: OptionValues<typeof OPTIONS>): Promise<void> {
  const spec = loadTaskSpec(values.suite, values.includePath);
  const inputName = values.input === '-' ? 'stdin' : values.input;
  let input: Buffer;
  try {
    input = readFileSync(values.input === '-' ? 0 : values.input);
  } catch {
    throw new UserError(`score: cannot read ${inputName}`);
  }

  const records: Record<string, unknown>[] = [];
  for (const raw of rawLines(input)) {
    const record = parseLine(raw, `${inputName}:${raw.number}`);
    if (record !== null) records.push(record);
  }

  const metricNames = suiteMetrics(spec);
  const sums = new Map<string, number>(metricNames.map((m) => [m, 0]));
  const out: string[] = [];
  for (const record of records) {
    const metrics = scoreSample(spec, record.prediction as string, record.reference as string);
    for (const m of metricNames) sums.set(m, (sums.get(m) ?? 0) + Number(metrics[m] ?? 0));
    out.push(JSON.stringify({ ...record, metrics }));
  }
  const count = records.length;
  if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
  const summary = metricNames.map((m) => `${m}=${count === 0 ? 'n/a' : ((sums.get(m) ?? 0) / count).toFixed(4)}`).join(' ');
  process.stderr.write(`score: ${spec.name}: ${count} lines, mean ${summary}\n`);
  return Promise.resolve();
}

export const command = defineCommand({
  name: 'score',
  description: 'Score {"prediction", "reference"} JSON lines with a suite\'s scorer; prints each line back with "metrics" added.',
  options: OPTIONS,
  epilog: EPILOG,
  action: score,
});
