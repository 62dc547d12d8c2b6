/**
 * A checkpoint's tokenizer: tokenizer.json + tokenizer_config.json through @huggingface/tokenizers,
 * plus what generation needs around it (BOS handling, special ids, per-token text pieces).
 */
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { UserError } from '../errors.ts';
import { readJsonObject } from '../user-file.ts';
import { renderChat, type ChatMessage } from './chat-template.ts';

export interface TokenizerConfig {
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  add_bos_token?: boolean;
  chat_template?: string | null;
  [key: string]: unknown;
}

const tokenContent = (t: TokenizerConfig['bos_token']): string | null => (t == null ? null : typeof t === 'string' ? t : t.content);

export class TextTokenizer {
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly addBos: boolean;
  readonly chatTemplate: string | null;

  private constructor(
    private readonly tok: Tokenizer,
    readonly config: TokenizerConfig,
    readonly vocabSize: number,
    /** Ids of special tokens (BOS, EOS, chat markers...): decoded text leaves them out. */
    private readonly specialIds: ReadonlySet<number>,
  ) {
    const bos = tokenContent(config.bos_token);
    const eos = tokenContent(config.eos_token);
    this.bosId = bos === null ? null : tok.token_to_id(bos) ?? null;
    this.eosId = eos === null ? null : tok.token_to_id(eos) ?? null;
    this.addBos = config.add_bos_token ?? this.bosId !== null;
    this.chatTemplate = config.chat_template ?? null;
  }

  static load(dir: string): TextTokenizer {
    const jsonPath = join(dir, 'tokenizer.json');
    const json = readJsonObject(jsonPath);
    const config = readJsonObject(join(dir, 'tokenizer_config.json')) as TokenizerConfig;
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(json, config);
    } catch (err) {
      throw new UserError(`${jsonPath}: cannot build the tokenizer (${(err as Error).message})`);
    }
    const model = json['model'] as { vocab?: Record<string, number> | unknown[] } | undefined;
    const added = (json['added_tokens'] as { id: number; special?: boolean }[] | undefined) ?? [];
    const vocab = model?.vocab;
    const ids = Array.isArray(vocab) ? vocab.length : Math.max(-1, ...Object.values(vocab ?? {})) + 1;
    const special = new Set(added.filter((a) => a.special === true).map((a) => a.id));
    return new TextTokenizer(tok, config, Math.max(ids, ...added.map((a) => a.id + 1)), special);
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
   * A chat conversation as prompt text, through the model's chat template. The template writes any
   * BOS itself, so encode the result with `bos = false`.
   */
  renderChat(messages: ChatMessage[]): string {
    if (this.chatTemplate === null) throw new UserError('tokenizer_config.json: this model has no chat_template; use a suite without chat_template: true');
    return renderChat(this.chatTemplate, messages, { bosToken: tokenContent(this.config.bos_token), eosToken: tokenContent(this.config.eos_token) });
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /**
   * The text each token adds, such that the pieces concatenate to the decoded text. A piece is the
   * difference between decoding a short window ending at the token and the same window without
   * it: a character split over several byte tokens lands on the token that completes it, and the
   * window keeps the cost linear in the sequence length.
   */
  pieces(ids: number[], window = 8): string[] {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const from = Math.max(0, i - window);
      const before = this.decode(ids.slice(from, i), false);
      const after = this.decode(ids.slice(from, i + 1), false);
      out.push(after.startsWith(before) ? after.slice(before.length) : after.slice(commonPrefixLength(before, after)));
    }
    return out;
  }
}

function commonPrefixLength(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
