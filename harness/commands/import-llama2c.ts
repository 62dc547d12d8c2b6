/** `flexibench import-llama2c --bin FILE --tokenizer FILE --out DIR [--force]` */
import { importLlama2c } from '../../src/model/llama2c.ts';
import { defineCommand, flag, required, text, type OptionValues } from '../args.ts';

const OPTIONS = {
  bin: required(text('FILE', 'the llama2.c model (.bin)')),
  tokenizer: required(text('FILE', 'the llama2.c tokenizer (.bin)')),
  out: required(text('DIR', 'the checkpoint folder to write')),
  force: flag('replace DIR when it holds anything'),
};

async function importCommand(o: OptionValues<typeof OPTIONS>): Promise<void> {
  const { config } = await importLlama2c(o.bin, o.tokenizer, o.out, { force: o.force });
  process.stderr.write(`imported ${o.bin}: ${config['num_hidden_layers']} layers, d=${config['hidden_size']}, vocab ${config['vocab_size']} -> ${o.out}\n`);
}

export const command = defineCommand({
  name: 'import-llama2c',
  description: 'Convert a llama2.c model and tokenizer into a Hugging Face layout checkpoint in DIR.',
  options: OPTIONS,
  action: importCommand,
});
