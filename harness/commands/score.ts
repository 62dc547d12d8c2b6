/**
 * `flexibench score --suite NAME --input FILE.jsonl`: scores `{"prediction", "reference"}` lines
 * with a suite's scorer and prints each line back with `"metrics"` added, so the scorers can be
 * checked from outside. stdout holds only those lines; a summary of the means goes to stderr.
 * Every line is checked (size, UTF-8, JSON, fields) as it is read and before any is scored, so a bad
 * line fails the command at once and nothing is printed.
 */
import { escapeControlCharsInJson } from '../../src/control-chars.ts';
import { UserError } from '../../src/errors.ts';
import { loadTaskSpec } from '../../tasks/suites/spec.ts';
import { scoreSample, suiteMetrics } from '../../tasks/suites/score-sample.ts';
import { FILE_KINDS, formatLimit, parseJsonText } from '../../src/user-file.ts';
import { INCLUDE_PATH, defineCommand, required, text, type OptionValues } from '../args.ts';
import { type RawLine, boundedLines, inputChunks, withinInputLimit } from '../score-input.ts';
import { counted } from '../../src/plural.ts';

/**
 * The longest input line accepted, in bytes. ROUGE's LCS and edit similarity take time quadratic
 * in the text, so this bounds a line's cost: measured on a 2-core machine under load, the worst
 * 32 KiB lines (about 8,000 one-letter words or 16,000 characters a side, split into sentences or
 * not) score in about a second and under 200 MB, where 64 KiB took 4 s. The largest dataset row
 * here, a whole XSum article with its summary, is 18 KB; predictions and references are far smaller.
 */
export const MAX_LINE_BYTES = 32 * 1024;

/**
 * How deeply a line's JSON may nest arrays and objects. Records are flat; printing one back
 * (JSON.stringify) recurses once per level and overflows the stack thousands of levels down.
 */
export const MAX_JSON_DEPTH = 100;

const OPTIONS = {
  suite: required(text('NAME', 'the suite whose scorer to use, or a FILE.yaml')),
  input: required(text('FILE.jsonl', 'the lines to score (a regular file); - reads stdin, e.g. from a pipe')),
  includePath: INCLUDE_PATH,
};

const EPILOG = `Scores each line {"prediction": STRING, "reference": STRING, ...} of the input (UTF-8 JSON Lines)
with the suite's scorer and prints it back with "metrics" added; the means go to stderr. A line may
be at most ${MAX_LINE_BYTES / 1024} KiB (${MAX_LINE_BYTES} bytes), since scoring time grows with the square of its length,
and nest at most ${MAX_JSON_DEPTH} levels deep; the whole input at most ${formatLimit(FILE_KINDS.scoreInput.maxBytes)}, since every line is checked
before any is scored. A line over that, not UTF-8, not valid JSON, not a JSON object, or without
both string fields stops the command with exit status 1 before anything is scored or printed.`;

/** How much scored output is gathered before it is written. */
const OUTPUT_BATCH_CHARS = 64 * 1024;

/** How deeply valid JSON text nests arrays and objects, counted without recursing. */
export function jsonDepth(json: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') deepest = Math.max(deepest, ++depth);
    else if (c === ']' || c === '}') depth--;
  }
  return deepest;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The line's JSON text once checked, or a UserError naming `where` and what is wrong with it; null for a blank line. */
function checkLine(raw: RawLine, where: string): string | null {
  if (raw.bytes.length > MAX_LINE_BYTES) {
    throw new UserError(`${where}: line is longer than the ${MAX_LINE_BYTES}-byte limit of score (shorten its prediction or reference)`);
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
  const row = parseJsonText(line, where);
  if (jsonDepth(line) > MAX_JSON_DEPTH) throw new UserError(`${where}: JSON nested more than ${MAX_JSON_DEPTH} levels deep`);
  if (row === null || typeof row !== 'object' || Array.isArray(row)) throw new UserError(`${where}: not a JSON object`);
  const record = row as Record<string, unknown>;
  for (const key of ['prediction', 'reference']) {
    if (typeof record[key] !== 'string') throw new UserError(`${where}: "${key}" must be a string`);
  }
  return line;
}

/**
 * The JSON text of every line of the input, each checked as it arrives; the first bad line throws.
 * Texts, not parsed records, are held until all are checked: a record of many small objects takes
 * many times the memory of its text.
 */
async function readCheckedLines(input: string): Promise<string[]> {
  const inputName = input === '-' ? 'stdin' : input;
  const lines: string[] = [];
  try {
    for await (const raw of boundedLines(withinInputLimit(inputChunks(input), inputName), MAX_LINE_BYTES)) {
      const line = checkLine(raw, `${inputName}:${raw.number}`);
      if (line !== null) lines.push(line);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof UserError || code === undefined) throw err;
    throw new UserError(`score: cannot read ${inputName} (${code})`);
  }
  return lines;
}

async function score(values: OptionValues<typeof OPTIONS>): Promise<void> {
  const spec = loadTaskSpec(values.suite, values.includePath);
  const lines = await readCheckedLines(values.input);

  const metricNames = suiteMetrics(spec);
  const sums = new Map<string, number>(metricNames.map((m) => [m, 0]));
  // Written in batches, not all at once: the output of a whole input held as strings would take
  // several times the memory of its records.
  let pending = '';
  for (const line of lines) {
    const record = JSON.parse(line) as Record<string, unknown>;
    const metrics = scoreSample(spec, record.prediction as string, record.reference as string);
    for (const m of metricNames) sums.set(m, (sums.get(m) ?? 0) + Number(metrics[m] ?? 0));
    pending += `${escapeControlCharsInJson(JSON.stringify({ ...record, metrics }))}\n`;
    if (pending.length >= OUTPUT_BATCH_CHARS) {
      process.stdout.write(pending);
      pending = '';
    }
  }
  if (pending !== '') process.stdout.write(pending);
  const count = lines.length;
  const summary = metricNames.map((m) => `${m}=${count === 0 ? 'n/a' : ((sums.get(m) ?? 0) / count).toFixed(4)}`).join(' ');
  process.stderr.write(`score: ${spec.name}: ${counted(count, 'line')}, mean ${summary}\n`);
}

export const command = defineCommand({
  name: 'score',
  description: 'Score {"prediction", "reference"} JSON lines with a suite\'s scorer; prints each line back with "metrics" added.',
  options: OPTIONS,
  epilog: EPILOG,
  action: score,
});
