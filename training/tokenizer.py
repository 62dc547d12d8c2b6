"""Byte-level BPE tokenizer: training, a Python encoder, and export to Hugging Face tokenizer.json.

Pre-tokenization (identical in Python and in @huggingface/tokenizers):
  1. Digits(individual_digits=True): the text is split into runs of non-digits and single ASCII digits.
  2. ByteLevel(use_regex=True, add_prefix_space=False): GPT-2 regex split, bytes mapped to unicode.
Model: BPE over merges, applied by rank (ignore_merges=False), no unk (byte level covers everything).
Post-processor: BOS is prepended when special tokens are added (Llama convention).
"""
import collections
import json
import os

import regex

SPECIAL_TOKENS = ["<|bos|>", "<|eos|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "<|unk|>"]
BOS, EOS, PAD = "<|bos|>", "<|eos|>", "<|pad|>"

DIGITS_RE = regex.compile(r"[^0-9]+|[0-9]")  # JS: /[^\d]+|\d/gu, and \d is ASCII-only there
GPT2_RE = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_ENC = bytes_to_unicode()
BYTE_DEC = {v: k for k, v in BYTE_ENC.items()}


def pretokenize(text):
    out = []
    for piece in DIGITS_RE.findall(text):
        for w in GPT2_RE.findall(piece):
            out.append("".join(BYTE_ENC[b] for b in w.encode("utf-8")))
    return out


def train_bpe(texts, vocab_size, log=print):
    """texts: iterable of (text, weight). Returns (vocab dict token->id, merges list of (a, b))."""
    counts = collections.Counter()
    for text, weight in texts:
        for w in pretokenize(text):
            counts[w] += weight
    words = [list(w) for w in counts]
    freqs = [counts[w] for w in counts]
    n_merges = vocab_size - len(SPECIAL_TOKENS) - 256
    pair_counts = collections.Counter()
    where = collections.defaultdict(set)
    for i, syms in enumerate(words):
        for a, b in zip(syms, syms[1:]):
            pair_counts[(a, b)] += freqs[i]
            where[(a, b)].add(i)
    merges = []
    for step in range(n_merges):
        if not pair_counts:
            break
        best = max(pair_counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if pair_counts[best] <= 0:
            break
        merges.append(best)
        new = best[0] + best[1]
        for i in list(where[best]):
            syms = words[i]
            f = freqs[i]
            for a, b in zip(syms, syms[1:]):
                pair_counts[(a, b)] -= f
                if pair_counts[(a, b)] <= 0:
                    del pair_counts[(a, b)]
            j, out = 0, []
            while j < len(syms):
                if j + 1 < len(syms) and syms[j] == best[0] and syms[j + 1] == best[1]:
                    out.append(new)
                    j += 2
                else:
                    out.append(syms[j])
                    j += 1
            words[i] = out
            for a, b in zip(out, out[1:]):
                pair_counts[(a, b)] += f
                where[(a, b)].add(i)
        del where[best]
        if step % 200 == 0:
            log(f"bpe merge {step}/{n_merges}: {best} -> {new!r}")
    vocab = {t: i for i, t in enumerate(SPECIAL_TOKENS)}
    for b in range(256):
        vocab[BYTE_ENC[b]] = len(vocab)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    return vocab, merges


class Tokenizer:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.inv = {i: t for t, i in vocab.items()}
        self.ranks = {tuple(m): r for r, m in enumerate(merges)}
        self.merges = [tuple(m) for m in merges]
        self.cache = {}
        self.bos_id, self.eos_id, self.pad_id = vocab[BOS], vocab[EOS], vocab[PAD]
        self.special_re = regex.compile("(" + "|".join(regex.escape(t) for t in SPECIAL_TOKENS) + ")")

    @classmethod
    def load(cls, path):
        with open(path) as f:
            tj = json.load(f)
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in tj["model"]["merges"]]
        vocab = dict(tj["model"]["vocab"])
        for at in tj["added_tokens"]:
            vocab[at["content"]] = at["id"]
        return cls(vocab, merges)

    def __len__(self):
        return len(self.vocab)

    def _bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        syms = list(word)
        while len(syms) > 1:
            best, best_rank = None, None
            for k in range(len(syms) - 1):
                r = self.ranks.get((syms[k], syms[k + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = k, r
            if best is None:
                break
            a, b = syms[best], syms[best + 1]
            out, j = [], 0
            while j < len(syms):
                if j + 1 < len(syms) and syms[j] == a and syms[j + 1] == b:
                    out.append(a + b)
                    j += 2
                else:
                    out.append(syms[j])
                    j += 1
            syms = out
        ids = [self.vocab[s] for s in syms]
        if len(self.cache) < 500000:
            self.cache[word] = ids
        return ids

    def encode(self, text, add_bos=False):
        ids = [self.bos_id] if add_bos else []
        for part in self.special_re.split(text):
            if not part:
                continue
            if part in SPECIAL_TOKENS:
                ids.append(self.vocab[part])
                continue
            for w in pretokenize(part):
                ids.extend(self._bpe(w))
        return ids

    def decode(self, ids, skip_special=True):
        out, buf = [], []
        for i in ids:
            t = self.inv[int(i)]
            if t in SPECIAL_TOKENS:
                if buf:
                    out.append(bytes(buf).decode("utf-8", errors="replace"))
                    buf = []
                if not skip_special:
                    out.append(t)
                continue
            buf.extend(BYTE_DEC[c] for c in t)
        if buf:
            out.append(bytes(buf).decode("utf-8", errors="replace"))
        return "".join(out)

    def save(self, out_dir, model_max_length=2048):
        os.makedirs(out_dir, exist_ok=True)
        added = [
            {"id": self.vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for t in SPECIAL_TOKENS
        ]
        bos_id = self.bos_id
        tj = {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": None,
            "pre_tokenizer": {
                "type": "Sequence",
                "pretokenizers": [
                    {"type": "Digits", "individual_digits": True},
                    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
                ],
            },
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": BOS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": BOS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": BOS, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {BOS: {"id": BOS, "ids": [bos_id], "tokens": [BOS]}},
            },
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {
                "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                "vocab": {t: i for t, i in sorted(self.vocab.items(), key=lambda kv: kv[1]) if t not in SPECIAL_TOKENS},
                "merges": [f"{a} {b}" for a, b in self.merges],
            },
        }
        with open(os.path.join(out_dir, "tokenizer.json"), "w") as f:
            json.dump(tj, f, ensure_ascii=False, indent=1)
        cfg = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": BOS, "eos_token": EOS, "pad_token": PAD, "unk_token": None,
            "add_bos_token": True, "add_eos_token": False,
            "model_max_length": model_max_length,
            "clean_up_tokenization_spaces": False,
            "chat_template": CHAT_TEMPLATE,
            "added_tokens_decoder": {str(self.vocab[t]): {"content": t, "special": True, "lstrip": False, "rstrip": False,
                                                           "normalized": False, "single_word": False} for t in SPECIAL_TOKENS},
        }
        with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
            json.dump(cfg, f, ensure_ascii=False, indent=1)
