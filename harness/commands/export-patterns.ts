/**
 * `flexibench export-patterns --db FILE --out DIR [--suites a,b] [--force]`: writes a study's
 * per-token layer allocations as a Hugging Face style dataset (reports/export-patterns.ts). The
 * study is opened read-only; DIR is written whole or not at all.
 */
import { UserError } from '../../src/errors.ts';
import { exportPatterns } from '../../reports/export-patterns.ts';
import { shellQuote } from '../../reports/dataset-card.ts';
import { parseOptions, requireOption } from '../args.ts';

const USAGE = 'usage: flexibench export-patterns --db FILE --out DIR [--suites a,b,...] [--force]';

export async function main(argv: string[]): Promise<void> {
  const opts = parseOptions('export-patterns', argv, {
    db: { type: 'string' },
    out: { type: 'string' },
    suites: { type: 'string' },
    force: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (opts.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const dbPath = requireOption('export-patterns', opts.db, 'db');
  const outDir = requireOption('export-patterns', opts.out, 'out');
  let suites: string[] | null = null;
  if (opts.suites !== undefined) {
    suites = [...new Set(opts.suites.split(',').map((s) => s.trim()).filter(Boolean))];
    if (suites.length === 0) throw new UserError('export-patterns: --suites needs at least one suite name');
  }

  const result = await exportPatterns({
    dbPath,
    outDir,
    suites,
    force: opts.force === true,
    // As typed, so the card shows a command the reader can run again.
    command: ['flexibench', 'export-patterns', ...argv].map(shellQuote).join(' '),
  });
  const files = result.files.map((f) => `${f.path} (${f.bytes} bytes)`).join(', ');
  process.stderr.write(`export-patterns: wrote ${outDir}: ${result.tokens} token rows and ${result.samples} sample rows from ${result.runs} runs; ${files}\n`);
}
