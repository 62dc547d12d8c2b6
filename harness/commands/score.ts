/**
 * `flexibench score --suite NAME --input FILE.jsonl`: scores `{"prediction", "reference"}` lines
 * with a suite's scorer and prints each line back with `"metrics"` added, so the scorers can be
 * checked from outside. stdout holds only those lines; a summary of the means goes to stderr.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UserError } from '../../src/errors.ts';
import { loadTaskSpec, scoreSample, suiteMetrics } from '../../src/suites/index.ts';

const USAGE = 'usage: flexibench score --suite NAME|FILE.yaml --input FILE.jsonl|-';

export async function main(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { suite: { type: 'string' }, input: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UserError(`score: ${(err as Error).message} (${USAGE})`);
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (values.suite === undefined) throw new UserError(`score: --suite is required (${USAGE})`);
  if (values.input === undefined) throw new UserError(`score: --input is required (${USAGE})`);
  const spec = loadTaskSpec(values.suite);
  const inputName = values.input === '-' ? 'stdin' : values.input;
  let text: string;
  try {
    text = readFileSync(values.input === '-' ? 0 : values.input, 'utf8');
  } catch {
    throw new UserError(`score: cannot read ${inputName}`);
  }

  const metricNames = suiteMetrics(spec);
  const sums = new Map<string, number>(metricNames.map((m) => [m, 0]));
  let count = 0;
  const out: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    const where = `${inputName}:${i + 1}`;
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
    const metrics = scoreSample(spec, record.prediction as string, record.reference as string);
    for (const m of metricNames) sums.set(m, (sums.get(m) ?? 0) + Number(metrics[m] ?? 0));
    count++;
    out.push(JSON.stringify({ ...record, metrics }));
  }
  if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
  const summary = metricNames.map((m) => `${m}=${count === 0 ? 'n/a' : ((sums.get(m) ?? 0) / count).toFixed(4)}`).join(' ');
  process.stderr.write(`score: ${spec.name}: ${count} lines, mean ${summary}\n`);
}
