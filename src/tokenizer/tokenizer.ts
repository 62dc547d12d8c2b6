/**
 * A checkpoint's tokenizer: tokenizer.json + tokenizer_config.json through @huggingface/tokenizers,
 * plus what generation needs around it (BOS handling, special ids, per-token text pieces and bytes).
 */
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { cutAtStop } from '../stop-strings.ts';
import { UserError } from '../errors.ts';
import { FILE_KINDS, readJsonObject } from '../user-file.ts';
import { renderChat, type ChatMessage } from './chat-template.ts';

export interface TokenizerConfig {
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  add_bos_token?: boolean;
  /** A template, or (as transformers also reads it) a list of named templates whose "default" is the chat template. */
  chat_template?: unknown;
  [key: string]: unknown;
}

const tokenContent = (t: TokenizerConfig['bos_token']): string | null => (t == null ? null : typeof t === 'string' ? t : t.content);

export class TextTokenizer {
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly addBos: boolean;
  private readonly bytesById = new Map<number, Uint8Array>();

  private constructor(
    private readonly tok: Tokenizer,
    readonly config: TokenizerConfig,
    /** The folder tokenizer.json and tokenizer_config.json were read from, for errors. */
    private readonly dir: string,
    readonly vocabSize: number,
    /** Ids of special tokens (BOS, EOS, chat markers...): decoded text leaves them out. */
    private readonly specialIds: ReadonlySet<number>,
    /** Content of every added token (special or not) by id: the text such a token stands for. */
    private readonly addedContent: ReadonlyMap<number, string>,
  ) {
    const bos = tokenContent(config.bos_token);
    const eos = tokenContent(config.eos_token);
    this.bosId = bos === null ? null : (tok.token_to_id(bos) ?? null);
    this.eosId = eos === null ? null : (tok.token_to_id(eos) ?? null);
    this.addBos = config.add_bos_token ?? this.bosId !== null;
  }

  static load(dir: string): TextTokenizer {
    const jsonPath = join(dir, 'tokenizer.json');
    const json = readJsonObject(jsonPath, FILE_KINDS.tokenizer);
    const config = readJsonObject(join(dir, 'tokenizer_config.json'), FILE_KINDS.tokenizerConfig) as TokenizerConfig;
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(json, config);
    } catch (err) {
      throw new UserError(`${jsonPath}: cannot build the tokenizer (${(err as Error).message})`);
    }
    const model = json['model'] as { vocab?: Record<string, number> | unknown[] } | undefined;
    const added = (json['added_tokens'] as { id: number; content: string; special?: boolean }[] | undefined) ?? [];
    const vocab = model?.vocab;
    const vocabIds = Array.isArray(vocab) ? vocab.length : idsBelow(Object.values(vocab ?? {}));
    const special = new Set(added.filter((a) => a.special === true).map((a) => a.id));
    const content = new Map(added.map((a) => [a.id, a.content]));
    return new TextTokenizer(tok, config, dir, Math.max(vocabIds, idsBelow(added.map((a) => a.id))), special, content);
  }

  /**
   * This tokenizer, refused when its ids run past the model's embedding table (`vocab_size` of the
   * checkpoint's config.json, in the same folder): such a tokenizer is not the model's, and its ids
   * would fail inside the graph. A model may have more ids than its tokenizer (padded tables).
   */
  requireModelVocab(modelVocabSize: number): this {
    if (this.vocabSize > modelVocabSize) {
      throw new UserError(
        `${join(this.dir, 'tokenizer.json')}: token ids run to ${this.vocabSize - 1}, past vocab_size ${modelVocabSize} in ${join(this.dir, 'config.json')}: this tokenizer is not the model's`,
      );
    }
    return this;
  }

  /** Token ids of `text`, with the BOS token first when `bos` (default: as tokenizer_config says). */
  encode(text: string, bos: boolean = this.addBos): number[] {
    const ids = this.tok.encode(text, { add_special_tokens: false }).ids;
    return bos && this.bosId !== null ? [this.bosId, ...ids] : ids;
  }

  decode(ids: number[], skipSpecial = true): string {
    if (ids.length === 0) return '';
    return this.tok.decode(ids, { skip_special_tokens: skipSpecial });
  }

  /**
   * The text `ids` add after `contextIds`: what a generation says, and the one reading of it that
   * `run` stores and `generate` prints. Decoding the generated ids alone would drop the leading
   * space a sentencepiece tokenizer strips from the first token; decoded after the context's last
   * tokens, the text equals the generated token pieces joined (special tokens left out), so the
   * stored token rows reproduce it.
   */
  continuationText(contextIds: readonly number[], ids: readonly number[]): string {
    const context = contextIds.slice(-CONTEXT_TOKENS);
    const before = this.decode(context);
    const after = this.decode([...context, ...ids]);
    return after.startsWith(before) ? after.slice(before.length) : after.slice(commonPrefixLength(before, after));
  }

  /** A generation's output: its continuation text, cut before the stop string that ended it. */
  outputText(gen: { promptIds: readonly number[]; generatedIds: readonly number[]; stopString: string | null }): string {
    const text = this.continuationText(gen.promptIds, gen.generatedIds);
    return gen.stopString === null ? text : cutAtStop(text, [gen.stopString]);
  }

  /**
   * A chat conversation as prompt text, through the model's chat template. The template writes any
   * BOS itself, so encode the result with `bos = false`.
   */
  renderChat(messages: ChatMessage[]): string {
    const template = defaultTemplate(this.config.chat_template);
    const configPath = join(this.dir, 'tokenizer_config.json');
    if (template === null) throw new UserError(`${configPath}: this model has no chat_template; use a suite without chat_template: true`);
    if (typeof template !== 'string') throw new UserError(`${configPath}: chat_template must be a string (a Jinja template)`);
    return renderChat(template, messages, {
      bosToken: tokenContent(this.config.bos_token),
      eosToken: tokenContent(this.config.eos_token),
      configPath,
    });
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /**
   * The token's own bytes, independent of its neighbours: what it adds to the byte stream the model
   * reads or writes. A byte-fallback piece (<0xE2>) or a byte-level BPE piece may hold part of a
   * UTF-8 character, so this is exact where the text piece cannot be. Added tokens (BOS, chat
   * markers) are their content in UTF-8, as they appear in a prompt's text; an id the vocabulary
   * lacks has no bytes.
   */
  tokenBytes(id: number): Uint8Array {
    let bytes = this.bytesById.get(id);
    if (bytes === undefined) {
      const added = this.addedContent.get(id);
      const token = this.tok.id_to_token(id);
      bytes =
        added !== undefined
          ? UTF8.encode(added)
          : token === undefined
            ? new Uint8Array(0)
            : decoderBytes(token, decoderSteps(this.tok.decoder as DecoderStep | null));
      this.bytesById.set(id, bytes);
    }
    return bytes;
  }

  /**
   * The text each token adds, such that the pieces concatenate to the decoded text. A piece is the
   * difference between decoding a short window ending at the token and the same window without
   * it: a character split over several byte tokens lands on the token that completes it (the
   * tokens before it get ''), and the window keeps the cost linear in the sequence length.
   */
  pieces(ids: number[], window = 8): string[] {
    const out: string[] = [];
    const ends = this.characterEnds(ids);
    // Index just past the last token that ended on a character boundary.
    let done = 0;
    for (let i = 0; i < ids.length; i++) {
      if (!ends[i] && i < ids.length - 1) {
        out.push('');
        continue;
      }
      const from = Math.max(0, done - window);
      const before = this.decode(ids.slice(from, done), false);
      const after = this.decode(ids.slice(from, i + 1), false);
      out.push(after.startsWith(before) ? after.slice(before.length) : after.slice(commonPrefixLength(before, after)));
      done = i + 1;
    }
    return out;
  }

  /**
   * Per token, whether the byte stream is on a UTF-8 character boundary after it. The platform's
   * decoder is asked (flushing a decoder that holds an incomplete sequence yields U+FFFD), fed from
   * the last boundary, so the answer matches how the tokenizer's own decoder groups bytes. Added
   * tokens are decoded apart from the bytes around them, so they always end a character.
   */
  private characterEnds(ids: readonly number[]): boolean[] {
    let pending: number[] = [];
    return ids.map((id) => {
      if (this.addedContent.has(id)) {
        pending = [];
        return true;
      }
      // A loop, not a spread: an added or hostile token may hold more bytes than a call takes arguments.
      for (const byte of this.tokenBytes(id)) pending.push(byte);
      const decoder = new TextDecoder('utf-8');
      decoder.decode(Uint8Array.from(pending), { stream: true });
      if (decoder.decode() !== '') return false;
      pending = [];
      return true;
    });
  }
}

const UTF8 = new TextEncoder();

/** The chat template of tokenizer_config.json's `chat_template`: itself, or the entry named "default" of a list of named templates. */
function defaultTemplate(value: unknown): unknown {
  if (!Array.isArray(value)) return value ?? null;
  const entry: unknown = value.find((t: unknown) => typeof t === 'object' && t !== null && (t as { name?: unknown }).name === 'default');
  return entry === undefined ? null : ((entry as { template?: unknown }).template ?? null);
}

/** Context tokens decoded before a continuation: enough for any tokenizer's merge of a word's start. */
const CONTEXT_TOKENS = 8;

/**
 * The library's decoder objects, as far as token bytes need them. Its package types export only
 * Tokenizer and AddedToken under NodeNext resolution, so the shape is stated here; the fields are
 * those of its Decoder classes (config.type is the tokenizer.json type).
 */
interface DecoderStep {
  config: { type: string };
  decode_chain(tokens: string[]): string[];
  /** Sequence. */
  decoders?: DecoderStep[];
  /** ByteLevel: GPT-2's bytes_to_unicode, reversed. */
  byte_decoder?: Record<string, number>;
  /** Metaspace. */
  replacement?: string;
}

/** The decoder's steps in order, a Sequence flattened; none without a decoder. */
function decoderSteps(decoder: DecoderStep | null): DecoderStep[] {
  if (decoder === null) return [];
  return decoder.config.type === 'Sequence' ? (decoder.decoders ?? []).flatMap(decoderSteps) : [decoder];
}

/**
 * A vocabulary token's bytes, by the decoder's steps. Hand-made because the library decodes only
 * to strings, where a partial character is already U+FFFD; the byte table is still the library's.
 * Fuse and Strip are skipped: they act on the joined sequence (Strip drops the first token's
 * space), not on one token.
 */
function decoderBytes(token: string, steps: readonly DecoderStep[]): Uint8Array {
  let text = token;
  for (const step of steps) {
    switch (step.config.type) {
      case 'ByteLevel': {
        // GPT-2 byte-level BPE: each character stands for one byte.
        const table = step.byte_decoder ?? {};
        return Uint8Array.from([...text].flatMap((c) => (table[c] === undefined ? [...UTF8.encode(c)] : [table[c]])));
      }
      case 'ByteFallback': {
        // Sentencepiece's byte pieces, spelled as the library's ByteFallback decoder reads them.
        const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(text);
        if (byte !== null) return Uint8Array.of(parseInt(byte[1] as string, 16));
        break;
      }
      case 'Metaspace':
        // The library's Metaspace also drops the first token's space: that space is still the token's.
        text = text.replaceAll(step.replacement ?? '\u2581', ' ');
        break;
      case 'Fuse':
      case 'Strip':
        break;
      default:
        // Replace (sentencepiece's ▁ -> space) and other per-token steps: the token as the step renders it alone.
        text = step.decode_chain([text]).join('');
    }
  }
  return UTF8.encode(text);
}

/**
 * One past the largest id among `ids` (0 for none): a loop, because spreading a real vocabulary's
 * 128k ids into Math.max overflows the call stack.
 */
function idsBelow(ids: readonly unknown[]): number {
  let max = -1;
  for (const id of ids) if (typeof id === 'number' && id > max) max = id;
  return max + 1;
}

function commonPrefixLength(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
