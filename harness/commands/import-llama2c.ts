/** `flexibench import-llama2c --bin FILE --tokenizer FILE --out DIR [--force]` */
import { importLlama2c } from '../../src/model/llama2c.ts';
import { parseOptions, requireOption } from '../args.ts';

const USAGE = `usage: flexibench import-llama2c --bin FILE --tokenizer FILE --out DIR [--force]
  converts a llama2.c model (.bin) and tokenizer (.bin) into a Hugging Face layout checkpoint in DIR;
  a DIR that holds anything is replaced only with --force`;

export async function main(argv: string[]): Promise<void> {
  const o = parseOptions('import-llama2c', argv, {
    bin: { type: 'string' },
    tokenizer: { type: 'string' },
    out: { type: 'string' },
    force: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (o.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const bin = requireOption('import-llama2c', o.bin, 'bin');
  const tokenizer = requireOption('import-llama2c', o.tokenizer, 'tokenizer');
  const out = requireOption('import-llama2c', o.out, 'out');
  const { config } = await importLlama2c(bin, tokenizer, out, { force: o.force === true });
  process.stderr.write(`imported ${bin}: ${config['num_hidden_layers']} layers, d=${config['hidden_size']}, vocab ${config['vocab_size']} -> ${out}\n`);
}
