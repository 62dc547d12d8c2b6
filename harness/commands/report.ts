/**
 * `flexibench report --db FILE [--db FILE ...] [--out DIR] [--json] [--force]`: summarizes one or
 * more study databases. Without --json a readable table goes to stdout; `--json` prints the summary
 * (DESIGN.md) as one JSON document instead. `--out DIR` writes the report folder (index.html,
 * summary.md, summary.json). Databases are opened read-only: a report never changes a study.
 */
import { UserError } from '../../src/errors.ts';
import { DEFAULT_DB } from '../../src/store/study-db.ts';
import { loadReport } from '../../reports/report-data.ts';
import { renderTerminal } from '../../reports/render-terminal.ts';
import { renderJson, writeReport } from '../../reports/write-report.ts';
import { numberOption, parseOptions } from '../args.ts';

const USAGE = `usage: flexibench report [--db FILE]... [--out DIR] [--json] [--force] [--bootstrap-samples N] [--seed S]
  --db FILE              a study database (repeat for several studies side by side; default ${DEFAULT_DB})
  --out DIR              write DIR/index.html, DIR/summary.md, DIR/summary.json
  --json                 print the summary as one JSON document on stdout
  --force                replace DIR even when it holds something other than a previous report
  --bootstrap-samples N  bootstrap replicates for the intervals (default 10000)
  --seed S               bootstrap seed (default 0)`;

export async function main(argv: string[]): Promise<void> {
  const opts = parseOptions('report', argv, {
    db: { type: 'string', multiple: true },
    out: { type: 'string' },
    json: { type: 'boolean' },
    force: { type: 'boolean' },
    'bootstrap-samples': { type: 'string' },
    seed: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (opts.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const dbPaths = opts.db ?? [DEFAULT_DB];
  if (new Set(dbPaths).size !== dbPaths.length) throw new UserError('report: the same --db is given twice');
  const boot = {
    samples: numberOption('report', opts['bootstrap-samples'], 'bootstrap-samples', 10_000, { integer: true, min: 1 }),
    seed: numberOption('report', opts.seed, 'seed', 0, { integer: true, min: 0 }),
  };
  const data = await loadReport(dbPaths, boot);
  if (opts.out !== undefined) {
    const index = await writeReport(opts.out, data, { force: opts.force === true });
    process.stderr.write(`report: ${index}\n`);
  }
  process.stdout.write(opts.json === true ? renderJson(data.summary) : renderTerminal(data.summary));
}
