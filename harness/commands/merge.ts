/**
 * `flexibench merge --out FILE IN.duckdb...`: study databases (the shards of `run --shard K/N`, or
 * any studies) combined into one (src/store/merge-studies.ts). Inputs are only read; --out is
 * created, or merged into when it exists, in one transaction: a refusal leaves it as it was.
 */
import { UserError } from '../../src/errors.ts';
import { mergeStudies } from '../../src/store/merge-studies.ts';
import { defineCommand, flag, required, text, type OptionValues } from '../args.ts';

const OPTIONS = {
  out: required(text('FILE', 'the merged study; created, or merged into when it exists')),
  allowMixed: flag('also merge studies of another model, or with another config of the same suite'),
};

async function merge(o: OptionValues<typeof OPTIONS>, inputs: string[]): Promise<void> {
  if (inputs.length === 0) throw new UserError('merge: name the study databases to merge (merge --out FILE IN.duckdb...)');
  const s = await mergeStudies(o.out, inputs, { allowMixed: o.allowMixed });
  process.stderr.write(
    `merge: ${o.out}: ${s.runsAdded} runs added, ${s.runsUpdated} updated; ${s.samplesAdded} samples added, ` +
      `${s.samplesReplaced} error samples replaced by done ones, ${s.samplesSkipped} already there\n`,
  );
}

export const command = defineCommand({
  name: 'merge',
  description:
    "Merge study databases (e.g. the shards of `run --shard K/N`) into one study: runs of the same identity become one run, identical samples are kept once, a differing sample or another model's study is refused.",
  arguments: '<in.duckdb...>',
  options: OPTIONS,
  epilog:
    'A run keeps the earliest start and the latest end of its copies; a run new to --out takes the other metadata (hardware, threads, versions) of its copy that started first, a run already in --out keeps its own. A done sample beats an error one. Nothing is written unless everything merges.',
  // A variadic operand reaches the action as one list, which defineCommand's operands leave out; the command's args hold it.
  action: (o) => merge(o, inputFiles()),
});

function inputFiles(): string[] {
  return command.args;
}
