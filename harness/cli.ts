/**
 * The `flexibench` command line: dispatches `flexibench <command> ...` to harness/commands/<command>.ts.
 * Each command module exports `main(argv)`. Errors a user caused (UserError) print one line and
 * exit with its code (1; 130 when interrupted); anything else is a bug and keeps its stack trace.
 */
import { UserError, oneLineReason } from '../src/errors.ts';

const COMMANDS: Record<string, string> = {
  generate: 'Generate text from a checkpoint, with per-token layer allocation',
  run: 'Run suites through FlexiDepth and the full-depth baseline into DuckDB',
  items: 'Print a suite\'s items as `run` feeds them (rendered prompts, ids, references) as JSONL',
  report: 'Compare variants: a table, JSON, or an HTML + Markdown report folder',
  'export-patterns': 'Export per-token layer allocations as a Parquet dataset with its card',
  score: 'Score {"prediction","reference"} JSONL lines with a suite\'s scorer',
  data: 'Dataset mirror: `data pull` downloads, `data verify` checks sha256',
  'import-llama2c': 'Convert a llama2.c model and tokenizer into a Hugging Face layout checkpoint',
  bench: 'Benchmark decode speed of full vs flexidepth (interleaved A/B)',
};

export interface CommandModule {
  main(argv: string[]): Promise<void>;
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, what]) => `  ${name.padEnd(width)}  ${what}`);
  return `usage: flexibench <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

async function dispatch(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage());
    return;
  }
  if (!(command in COMMANDS)) throw new UserError(`unknown command '${command}' (try: ${Object.keys(COMMANDS).join(', ')})`);
  let mod: CommandModule;
  try {
    mod = (await import(`./commands/${command}.ts`)) as CommandModule;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String(err).includes(`commands/${command}.ts`)) {
      throw new UserError(`command '${command}' is not implemented yet`);
    }
    throw err;
  }
  await mod.main(rest);
}

try {
  await dispatch(process.argv.slice(2));
} catch (err) {
  if (err instanceof UserError) {
    process.stderr.write(`flexibench: ${oneLineReason(err)}\n`);
    process.exit(err.exitCode);
  }
  throw err;
}
