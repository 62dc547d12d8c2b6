// Checks that @huggingface/tokenizers (the engine's tokenizer) gives exactly the ids of the Python
// encoder (training/tokenizer.py) and decodes them back to the text.
// usage: node training/check_tokenizer.mjs TOKENIZER_DIR CASES.jsonl   (lines {"text", "ids"}; ids without BOS)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

const [dir, casesPath] = process.argv.slice(2);
const tj = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
const tc = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
const tok = new Tokenizer(tj, tc);
const bosId = tj.added_tokens.find((t) => t.content === tc.bos_token).id;
const lines = readFileSync(casesPath, 'utf8').split('\n').filter(Boolean);
let bad = 0;
for (const line of lines) {
  const { text, ids } = JSON.parse(line);
  const got = tok.encode(text, { add_special_tokens: false }).ids;
  const withBos = tok.encode(text).ids;
  const dec = got.length ? tok.decode(got, { skip_special_tokens: false }) : '';
  const ok = got.length === ids.length && got.every((v, i) => v === ids[i]) && withBos[0] === bosId && withBos.length === ids.length + 1;
  if (!ok || dec !== text) {
    if (bad < 5)
      console.error(
        'MISMATCH',
        JSON.stringify(text).slice(0, 200),
        '\n py',
        ids.slice(0, 40).join(','),
        '\n js',
        got.slice(0, 40).join(','),
        '\n dec',
        JSON.stringify(dec).slice(0, 200),
      );
    bad++;
  }
}
console.log(JSON.stringify({ cases: lines.length, mismatches: bad }));
process.exit(bad ? 1 : 0);
