/**
 * The `flexibench` command line. Each command is a module in harness/commands/ exporting `command`,
 * a commander Command built from its option table (harness/args.ts); only the command being run is
 * imported, so start-up costs one command's imports, not all of them. Errors a user caused
 * (UserError) print one line and exit with its code (1; 130 when interrupted); anything else is a
 * bug and keeps its stack trace. `run` sets process.exitCode 2 itself when samples failed.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { escapeControlChars } from '../src/control-chars.ts';
import { UserError, oneLineReason } from '../src/errors.ts';
import { packagePath } from '../src/package-root.ts';
import { withOneLineErrors } from './args.ts';

interface CommandModule {
  command: Command;
}

// Literal import paths, so a build that rewrites '.ts' imports to '.js' sees every one.
const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  run: { summary: 'Run suites through FlexiDepth and the full-depth baseline into DuckDB', load: () => import('./commands/run.ts') },
  merge: { summary: 'Merge study databases (the shards of run --shard K/N) into one study', load: () => import('./commands/merge.ts') },
  report: { summary: 'Compare variants: a table, JSON, or an HTML + Markdown report folder', load: () => import('./commands/report.ts') },
  tasks: { summary: "List the suites, or show one suite's config and first rendered prompt", load: () => import('./commands/tasks.ts') },
  items: { summary: "Print a suite's items as `run` feeds them (rendered prompts, ids, references) as JSONL", load: () => import('./commands/items.ts') },
  score: { summary: 'Score {"prediction","reference"} JSONL lines with a suite\'s scorer', load: () => import('./commands/score.ts') },
  'export-patterns': { summary: 'Export per-token layer allocations as a Parquet dataset with its card', load: () => import('./commands/export-patterns.ts') },
  generate: { summary: 'Generate text from a checkpoint, with per-token layer allocation', load: () => import('./commands/generate.ts') },
  bench: { summary: 'Benchmark decode speed of full vs flexidepth (interleaved A/B)', load: () => import('./commands/bench.ts') },
  'path-cost': {
    summary: 'Count the multiply-adds of decode steps as bench does (JSONL on stdin; for the PyTorch peer)',
    load: () => import('./commands/path-cost.ts'),
  },
  data: { summary: 'Dataset mirror: list manifests, verify sha256, pull from sources', load: () => import('./commands/data.ts') },
  'import-llama2c': {
    summary: 'Convert a llama2.c model and tokenizer into a Hugging Face layout checkpoint',
    load: () => import('./commands/import-llama2c.ts'),
  },
};

function packageVersion(): string {
  return (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;
}

/** The program with every command listed, and the one `argv` runs (`help X` shows X) fully declared. */
async function program(argv: string[]): Promise<Command> {
  const root = withOneLineErrors(new Command('flexibench'), '')
    .description('Evaluate FlexiDepth layer-skipping LLMs on ONNX Runtime; samples and per-token layer allocations go to DuckDB.')
    .version(packageVersion(), '-V, --version', 'print the version');
  const wanted = argv[0] === 'help' ? argv[1] : argv[0];
  for (const [name, { summary, load }] of Object.entries(COMMANDS)) {
    if (name === wanted) root.addCommand((await load()).command.summary(summary));
    else root.command(name).summary(summary);
  }
  return root;
}

try {
  const argv = process.argv.slice(2);
  await (await program(argv)).parseAsync(argv, { from: 'user' });
} catch (err) {
  // Help and --version, already printed: exit 0, or 1 for help shown because a command was missing.
  if (err instanceof CommanderError) process.exitCode = err.exitCode;
  else if (err instanceof UserError) {
    // The message can carry a name from data or a path: its control characters are shown, not sent.
    process.stderr.write(`flexibench: ${escapeControlChars(oneLineReason(err))}\n`);
    process.exit(err.exitCode);
  } else throw err;
}
