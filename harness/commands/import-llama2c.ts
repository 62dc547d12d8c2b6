/** `flexibench import-llama2c --bin FILE --tokenizer FILE --out DIR` */
import { importLlama2c } from '../../src/model/llama2c.ts';
import { parseOptions, requireOption } from '../args.ts';

export async function main(argv: string[]): Promise<void> {
  const o = parseOptions('import-llama2c', argv, { bin: { type: 'string' }, tokenizer: { type: 'string' }, out: { type: 'string' } });
  const bin = requireOption('import-llama2c', o.bin, 'bin');
  const tokenizer = requireOption('import-llama2c', o.tokenizer, 'tokenizer');
  const out = requireOption('import-llama2c', o.out, 'out');
  const { config } = importLlama2c(bin, tokenizer, out);
  process.stderr.write(`imported ${bin}: ${config['num_hidden_layers']} layers, d=${config['hidden_size']}, vocab ${config['vocab_size']} -> ${out}\n`);
}
