/**
 * Import of llama2.c checkpoints (karpathy/llama2.c, "v0" format) and their tokenizers into the
 * Hugging Face layout the engine reads.
 *
 * Model file: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a
 * negative vocab_size means an unshared classifier), then float32 tensors in the order below.
 * llama2.c rotates interleaved pairs (2j, 2j+1) of each head; Hugging Face rotates halves
 * (j, j + hd/2). The query and key rows are permuted accordingly, as Meta's conversion script does.
 *
 * Tokenizer file: int32 max_token_length, then per token: float32 score, int32 length, bytes.
 * llama2.c's encoder prepends a space, maps each character to its token (bytes as <0xNN> when
 * missing), then repeatedly merges the adjacent pair whose concatenation has the highest score.
 * That is a sentencepiece-style BPE: the merges list is every split of every multi-character token,
 * ranked by the token's score.
 */
import { closeSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { checkOutputFolder, writeOutputFolder } from '../output-folder.ts';
import { FILE_KINDS, formatLimit, openUserFile, readFully, readUserFile } from '../user-file.ts';
import { parseModelConfig } from './config.ts';
import { vocabularyMerges } from './llama2c-merges.ts';
import { writeSafetensorsFile, type Tensor } from './safetensors.ts';

interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  sharedClassifier: boolean;
}

/** Reorders query/key rows from interleaved rotary pairs to Hugging Face's half-split layout. */
function permuteRotary(w: Float32Array, heads: number, headDim: number, inDim: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      for (const c of [0, 1]) {
        const src = (h * headDim + 2 * j + c) * inDim;
        const dst = (h * headDim + c * half + j) * inDim;
        out.set(w.subarray(src, src + inDim), dst);
      }
    }
  }
  return out;
}

/** The header's seven int32, as named fields; a negative vocab_size means an unshared classifier. */
function parseHeader(binPath: string, header: Buffer): Llama2cHeader {
  const ints = Array.from({ length: 7 }, (_, i) => header.readInt32LE(4 * i));
  const h: Llama2cHeader = {
    dim: ints[0]!,
    hiddenDim: ints[1]!,
    nLayers: ints[2]!,
    nHeads: ints[3]!,
    nKvHeads: ints[4]!,
    vocabSize: Math.abs(ints[5]!),
    seqLen: ints[6]!,
    sharedClassifier: ints[5]! > 0,
  };
  // A size that is not positive is no llama2.c header at all; the rest is checked as a config.json would be.
  if ([h.dim, h.hiddenDim, h.nLayers, h.nHeads, h.nKvHeads, h.vocabSize, h.seqLen].some((v) => v <= 0)) {
    throw new UserError(`${binPath}: not a llama2.c v0 checkpoint (header ${ints.join(', ')})`);
  }
  return h;
}

/** Float32 values the checkpoint holds after its header, in the order convertLlama2cModel takes them. */
function floatsImplied(h: Llama2cHeader): number {
  const hd = h.dim / h.nHeads;
  const kvDim = h.nKvHeads * hd;
  const perLayer = 2 * h.dim + 2 * h.dim * h.dim + 2 * kvDim * h.dim + 3 * h.hiddenDim * h.dim;
  return h.vocabSize * h.dim * (h.sharedClassifier ? 1 : 2) + h.nLayers * perLayer + h.dim + h.seqLen * hd;
}

/**
 * Reads the checkpoint's header, checks it and the file's size against each other, and only then
 * reads the weights: a header of absurd sizes is refused before anything is allocated for it.
 */
function readLlama2cCheckpoint(binPath: string): { h: Llama2cHeader; config: Record<string, unknown>; floats: Float32Array } {
  const { fd, size } = openUserFile(binPath, FILE_KINDS.llama2cCheckpoint);
  try {
    const header = Buffer.alloc(28);
    if (size < 28 || readSync(fd, header, 0, 28, 0) !== 28) throw new UserError(`${binPath}: too short for a llama2.c header`);
    const h = parseHeader(binPath, header);
    const config = hfConfig(h);
    // The same bounds a config.json gets: a checkpoint this would write must load.
    parseModelConfig(config, `${binPath}: header, as config.json`);
    const bytes = 28 + 4 * floatsImplied(h);
    if (bytes !== size) {
      throw new UserError(
        `${binPath}: the header (${[h.dim, h.hiddenDim, h.nLayers, h.nHeads, h.nKvHeads, h.vocabSize, h.seqLen].join(', ')}) implies ${bytes} bytes, the file has ${size} (truncated, or not a llama2.c v0 checkpoint)`,
      );
    }
    const floats = new Float32Array((size - 28) / 4);
    readFully(fd, binPath, new Uint8Array(floats.buffer), 28);
    return { h, config, floats };
  } finally {
    closeSync(fd);
  }
}

function hfConfig(h: Llama2cHeader): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: h.dim,
    intermediate_size: h.hiddenDim,
    num_hidden_layers: h.nLayers,
    num_attention_heads: h.nHeads,
    num_key_value_heads: h.nKvHeads,
    head_dim: h.dim / h.nHeads,
    vocab_size: h.vocabSize,
    max_position_embeddings: h.seqLen,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: h.sharedClassifier,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
  };
}

export function convertLlama2cModel(binPath: string): { config: Record<string, unknown>; tensors: Map<string, Tensor> } {
  const { h, config, floats } = readLlama2cCheckpoint(binPath);
  const hd = h.dim / h.nHeads;
  const kvDim = h.nKvHeads * hd;
  const L = h.nLayers;
  let off = 0;
  const take = (n: number): Float32Array => {
    if (off + n > floats.length) throw new Error(`${binPath}: file ends early, after its size was checked`);
    const t = floats.subarray(off, off + n);
    off += n;
    return t;
  };
  const perLayer = (n: number): Float32Array[] => {
    const all = take(L * n);
    return Array.from({ length: L }, (_, l) => all.subarray(l * n, (l + 1) * n));
  };
  const tensors = new Map<string, Tensor>();
  tensors.set('model.embed_tokens.weight', { shape: [h.vocabSize, h.dim], data: take(h.vocabSize * h.dim) });
  const rmsAtt = perLayer(h.dim);
  const wq = perLayer(h.dim * h.dim);
  const wk = perLayer(kvDim * h.dim);
  const wv = perLayer(kvDim * h.dim);
  const wo = perLayer(h.dim * h.dim);
  const rmsFfn = perLayer(h.dim);
  const w1 = perLayer(h.hiddenDim * h.dim);
  const w2 = perLayer(h.dim * h.hiddenDim);
  const w3 = perLayer(h.hiddenDim * h.dim);
  tensors.set('model.norm.weight', { shape: [h.dim], data: take(h.dim) });
  take(h.seqLen * hd); // freq_cis_real, freq_cis_imag: unused, RoPE is recomputed
  if (!h.sharedClassifier) tensors.set('lm_head.weight', { shape: [h.vocabSize, h.dim], data: take(h.vocabSize * h.dim) });
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    tensors.set(`${p}.input_layernorm.weight`, { shape: [h.dim], data: rmsAtt[l]! });
    tensors.set(`${p}.self_attn.q_proj.weight`, { shape: [h.dim, h.dim], data: permuteRotary(wq[l]!, h.nHeads, hd, h.dim) });
    tensors.set(`${p}.self_attn.k_proj.weight`, { shape: [kvDim, h.dim], data: permuteRotary(wk[l]!, h.nKvHeads, hd, h.dim) });
    tensors.set(`${p}.self_attn.v_proj.weight`, { shape: [kvDim, h.dim], data: wv[l]! });
    tensors.set(`${p}.self_attn.o_proj.weight`, { shape: [h.dim, h.dim], data: wo[l]! });
    tensors.set(`${p}.post_attention_layernorm.weight`, { shape: [h.dim], data: rmsFfn[l]! });
    tensors.set(`${p}.mlp.gate_proj.weight`, { shape: [h.hiddenDim, h.dim], data: w1[l]! });
    tensors.set(`${p}.mlp.down_proj.weight`, { shape: [h.dim, h.hiddenDim], data: w2[l]! });
    tensors.set(`${p}.mlp.up_proj.weight`, { shape: [h.hiddenDim, h.dim], data: w3[l]! });
  }
  return { config, tensors };
}

const SPACE = '\u2581'; // sentencepiece's visible space

/**
 * Reads a llama2.c tokenizer file into pieces and scores. Its header is the longest token's length
 * (llama2.c sizes its buffers by it); a longer token means a damaged file and is refused.
 */
export function readLlama2cTokenizer(path: string, vocabSize: number): { pieces: string[]; scores: number[] } {
  const buf = readUserFile(path, FILE_KINDS.llama2cTokenizer);
  if (buf.length < 4) throw new UserError(`${path}: too short for a llama2.c tokenizer header`);
  const maxTokenLength = buf.readInt32LE(0);
  let off = 4;
  const pieces: string[] = [];
  const scores: number[] = [];
  for (let i = 0; i < vocabSize; i++) {
    if (off + 8 > buf.length) throw new UserError(`${path}: has ${i} tokens, the model needs ${vocabSize}`);
    scores.push(buf.readFloatLE(off));
    const len = buf.readInt32LE(off + 4);
    off += 8;
    if (len < 0 || off + len > buf.length) throw new UserError(`${path}: token ${i} runs past the end of the file`);
    if (len > maxTokenLength) throw new UserError(`${path}: token ${i} is ${len} bytes, longer than the file's max_token_length ${maxTokenLength}`);
    pieces.push(buf.subarray(off, off + len).toString('utf8'));
    off += len;
  }
  return { pieces, scores };
}

/**
 * A Hugging Face tokenizer.json equivalent to a llama2.c tokenizer (ids 0/1/2 = unk/bos/eos).
 * `source` names the tokenizer file when its merges are too many to write.
 */
export function llama2cTokenizerJson(pieces: string[], scores: number[], source: string): Record<string, unknown> {
  const special = ['<unk>', '<s>', '</s>'];
  // A Map, not an object: a token may be named '__proto__' or 'constructor'.
  const ids = new Map<string, number>();
  const names = pieces.map((p, id) => (id < 3 ? special[id]! : p.replaceAll(' ', SPACE)));
  names.forEach((n, id) => {
    if (!ids.has(n)) ids.set(n, id);
  });
  const isByte = (n: string): boolean => /^<0x[0-9A-F]{2}>$/.test(n);
  const ranked = names
    .map((n, id) => ({ n, id, score: scores[id]! }))
    .filter(({ n, id }) => id >= 3 && !isByte(n) && [...n].length > 1)
    .sort((a, b) => b.score - a.score || a.id - b.id)
    .map(({ n }) => n);
  const merges = vocabularyMerges(new Set(ids.keys()), ranked, FILE_KINDS.tokenizer.maxBytes, source);
  const vocab = Object.fromEntries(ids);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: special.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: SPACE },
        { type: 'Replace', pattern: { String: ' ' }, content: SPACE },
      ],
    },
    pre_tokenizer: null,
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges,
    },
  };
}

/**
 * Writes a Hugging Face layout checkpoint converted from a llama2.c model and tokenizer. The folder
 * is written whole or not at all, and one that holds anything is replaced only with `force`: it may
 * be a checkpoint the user cares about (the committed reference model, say).
 */
export async function importLlama2c(
  binPath: string,
  tokenizerPath: string,
  outDir: string,
  opts: { force?: boolean } = {},
): Promise<{ config: Record<string, unknown> }> {
  const folder = { force: opts.force, what: 'import-llama2c --out' };
  checkOutputFolder(outDir, folder);
  const { config, tensors } = convertLlama2cModel(binPath);
  const { pieces, scores } = readLlama2cTokenizer(tokenizerPath, config['vocab_size'] as number);
  // Before anything is written: building the merges may refuse the tokenizer.
  const tokenizerJson = JSON.stringify(llama2cTokenizerJson(pieces, scores, tokenizerPath));
  // A tokenizer.json every later load would refuse is not written at all.
  const bytes = Buffer.byteLength(tokenizerJson);
  if (bytes > FILE_KINDS.tokenizer.maxBytes)
    throw new UserError(
      `${tokenizerPath}: its tokenizer.json would be ${bytes} bytes, more than the ${formatLimit(FILE_KINDS.tokenizer.maxBytes)} a tokenizer may be`,
    );
  await writeOutputFolder(outDir, folder, (dir) => writeCheckpoint(dir, config, tensors, tokenizerJson));
  return { config };
}

function writeCheckpoint(outDir: string, config: Record<string, unknown>, tensors: Map<string, Tensor>, tokenizerJson: string): void {
  writeSafetensorsFile(join(outDir, 'model.safetensors'), tensors, { format: 'pt', source: 'llama2.c' });
  writeFileSync(join(outDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  writeFileSync(join(outDir, 'tokenizer.json'), tokenizerJson);
  const tokenizerConfig = {
    tokenizer_class: 'LlamaTokenizer',
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    add_bos_token: true,
    add_eos_token: false,
    model_max_length: config['max_position_embeddings'],
    clean_up_tokenization_spaces: false,
  };
  writeFileSync(join(outDir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
}
