/** `flexibench import-llama2c --bin FILE --tokenizer FILE --out DIR [--force]` */
import { importLlama2c } from '../../src/model/llama2c.ts';
import { refuseFolderOverInputs } from '../../src/output-paths.ts';
import { FILE_KINDS } from '../../src/user-file.ts';
import { defineCommand, flag, required, text, type OptionValues } from '../args.ts';

const OPTIONS = {
  bin: required(text('FILE', 'the llama2.c model (.bin)')),
  tokenizer: required(
    text('FILE', `the llama2.c tokenizer (.bin); its merges may come to at most ${FILE_KINDS.tokenizer.maxBytes / 2 ** 20} MiB, as tokenizer.json`),
  ),
  out: required(text('DIR', 'the checkpoint folder to write')),
  force: flag('replace DIR when it holds anything'),
};

async function importCommand(o: OptionValues<typeof OPTIONS>): Promise<void> {
  refuseFolderOverInputs({ path: o.out, option: 'import-llama2c --out' }, [
    { path: o.bin, option: '--bin' },
    { path: o.tokenizer, option: '--tokenizer' },
  ]);
  const { config } = await importLlama2c(o.bin, o.tokenizer, o.out, { force: o.force });
  process.stderr.write(`imported ${o.bin}: ${config['num_hidden_layers']} layers, d=${config['hidden_size']}, vocab ${config['vocab_size']} -> ${o.out}\n`);
}

export const command = defineCommand({
  name: 'import-llama2c',
  description: 'Convert a llama2.c model and tokenizer into a Hugging Face layout checkpoint in DIR.',
  options: OPTIONS,
  action: importCommand,
});
