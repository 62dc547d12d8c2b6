"""Training data: corpora and seeded generators in the suites' exact formats (tasks/FORMATS.md), whose
prompt templates and answers are the suites' own, read from tasks/*.yaml (harness.suite_format).

Held-out rules (tasks/FORMATS.md), enforced here:
- arithmetic pair (a, b) is an evaluation pair iff fnv1a32(f"{a},{b}") % 3 == 0; training drops a pair when
  (a, b) OR (b, a) is an evaluation pair (addition and multiplication commute, so the swapped form
  would reveal the answer);
- text: only the first 90% (by characters, cut back to a line start) of tinyshakespeare; evaluation passages
  come from the last 10%;
- repetition: training drops any sequence whose fnv1a32(numbers joined by single spaces) % 3 == 0;
- GSM8K test, XSum, CNN/DM are never read here.
"""
import json
import os
import random

import numpy as np

from .harness import suite_format

SHARED = os.environ.get("FLEXIBENCH_SHARED", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
DATASETS = os.path.join(SHARED, "datasets")
SHAKESPEARE = os.path.join(DATASETS, "corpora", "tinyshakespeare.txt")
GSM8K_TRAIN = os.path.join(DATASETS, "gsm8k", "train.jsonl")


def fnv1a32(s):
    h = 0x811C9DC5
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def is_eval_pair(a, b):
    return fnv1a32(f"{a},{b}") % 3 == 0


def train_pair_ok(a, b):
    return not is_eval_pair(a, b) and not is_eval_pair(b, a)


def is_eval_sequence(nums):
    return fnv1a32(" ".join(str(n) for n in nums)) % 3 == 0


# ---------------------------------------------------------------- corpora

def shakespeare_split():
    text = open(SHAKESPEARE, encoding="utf-8").read()
    cut = int(len(text) * 0.9)
    cut = text.rfind("\n", 0, cut) + 1  # training part ends at a line start before the 90% mark
    return text[:cut], text[int(len(text) * 0.9):]


def kjv_chapters(path):
    """Debian bible-kjv-text dump (`bible -l10000 gen1:1-rev22:21`) -> list of chapter texts (verses one per line)."""
    if not path or not os.path.exists(path):
        return []
    chapters, cur = [], []
    for line in open(path, encoding="utf-8", errors="replace"):
        if not line.strip():
            continue
        if line[0].isspace():  # "  20 He which testifieth ..." (indented verse)
            head, _, rest = line.strip().partition(" ")
            if rest:
                cur.append(rest.strip())
        else:  # chapter header like "1 Kings 3"
            if cur:
                chapters.append("\n".join(cur))
            cur = []
    if cur:
        chapters.append("\n".join(cur))
    return chapters


def gsm8k_train():
    return [json.loads(l) for l in open(GSM8K_TRAIN, encoding="utf-8")]


def gsm8k_doc(ex):
    """A GSM8K training example as the gsm8k suite shows a few-shot example: question, delimiter, answer."""
    return "".join(suite_format("gsm8k").item(question=ex["question"], answer=ex["answer"]))


def line_passages(lines):
    """Lines (non-empty, stripped) -> the words after each line start, for passages that start at a line start."""
    return [ln.strip() for ln in lines if ln.strip()]


class Corpora:
    def __init__(self, kjv_path=None):
        train_text, _ = shakespeare_split()
        self.shakespeare_text = train_text
        self.shakespeare_lines = line_passages(train_text.split("\n"))
        self.kjv = kjv_chapters(kjv_path)
        self.kjv_lines = [v for ch in self.kjv for v in ch.split("\n")]
        self.gsm = gsm8k_train()

    def text_documents(self):
        """Texts for tokenizer training and for the LM token pool."""
        docs = [("shakespeare", self.shakespeare_text)]
        docs += [("kjv", ch) for ch in self.kjv]
        docs += [("gsm8k", gsm8k_doc(ex)) for ex in self.gsm]
        return docs

    def passage(self, rng, n_words, source):
        """A passage of n_words words starting at a line start, lines joined by single spaces,
        plus the words that follow it (for continue-writing)."""
        lines = self.shakespeare_lines if source == "shakespeare" else self.kjv_lines
        i = rng.randrange(len(lines) - 60)
        words = []
        j = i
        while len(words) < n_words + 24 and j < len(lines):
            words.extend(lines[j].split())
            j += 1
        return " ".join(words[:n_words]), " ".join(words[n_words:n_words + 24])

    def task_passage(self, rng, n_words):
        """passage() from Shakespeare three times in four, else from the KJV (always Shakespeare without it)."""
        src = "shakespeare" if (not self.kjv or rng.random() < 0.75) else "kjv"
        return self.passage(rng, n_words, src)


# ---------------------------------------------------------------- task generators (exact suite formats)

def rand_digits(rng, d):
    return rng.randint(0, 9) if d == 1 else rng.randint(10 ** (d - 1), 10 ** d - 1)


def gen_repetition(rng):
    while True:
        k = rng.randint(4, 8) if rng.random() < 0.8 else rng.randint(2, 12)
        nums = [rand_digits(rng, rng.randint(1, 3) if rng.random() < 0.9 else 4) for _ in range(k)]
        if not is_eval_sequence(nums):
            s = " ".join(str(n) for n in nums)
            return suite_format("repetition").item(numbers=s, answer=s)


PHASE_B_STEP = 879  # phase boundaries of the first reference run, kept by the current curriculum
PHASE_C_STEP = 1993


def addition_digits(rng, step, max_digits=3):
    """Curriculum over operand lengths (by pre-training step).
    Phase A (step < PHASE_B_STEP): all lengths uniformly mixed, plus 3x3 with a share rising from
    0.25 (0.25 + 0.45 * step / 1560). Phase B: 3x3 0.45, 2x2 0.25, the rest uniformly mixed lengths.
    Phase C (step >= PHASE_C_STEP): 3x3 0.3, 2x2 0.4, the rest uniformly mixed lengths."""
    if max_digits == 1:
        return 1, 1
    r = rng.random()
    if step < PHASE_B_STEP:
        if r < 0.25 + 0.45 * min(1.0, step / 1560):
            return max_digits, max_digits
    else:
        p3, p2 = (0.45, 0.25) if step < PHASE_C_STEP else (0.3, 0.4)
        if r < p3:
            return max_digits, max_digits
        if r < p3 + p2:
            return max_digits - 1, max_digits - 1
    return rng.randint(1, max_digits), rng.randint(1, max_digits)


def gen_addition(rng, step=10 ** 9, max_digits=3):
    while True:
        da, db = addition_digits(rng, step, max_digits)
        a, b = rand_digits(rng, da), rand_digits(rng, db)
        if train_pair_ok(a, b):
            return suite_format("addition").item(a=a, b=b, answer=a + b)


def gen_product(rng):
    while True:
        r = rng.random()
        if r < 0.6:  # the suite's shape: 2-digit x 1-digit
            a, b = rng.randint(10, 99), rng.randint(2, 9)
        elif r < 0.75:
            a, b = rng.randint(2, 9), rng.randint(10, 99)
        elif r < 0.9:
            a, b = rng.randint(0, 9), rng.randint(0, 9)
        else:
            a, b = rng.randint(100, 999), rng.randint(2, 9)
        if train_pair_ok(a, b):
            return suite_format("product").item(a=a, b=b, answer=a * b)


def gen_copy(corp, rng):
    n = rng.randint(8, 24) if rng.random() < 0.85 else rng.randint(3, 32)
    p, _ = corp.task_passage(rng, n)
    return suite_format("copy").item(passage=p)


def gen_copy_shuffled(corp, rng):
    """Copy items whose words are shuffled: the next word cannot be guessed from the language, only copied.
    The copy errors of the phase-C model were the language prior overriding the source (rare words,
    first words), and this variant trains exactly that. The prompt format is the copy suite's."""
    n = rng.randint(8, 24)
    p, _ = corp.task_passage(rng, n)
    words = p.split()
    rng.shuffle(words)
    p = " ".join(words)
    return suite_format("copy").item(passage=p)


def pseudo_word(rng):
    """A made-up word: mostly name-like syllables (Zorabel), sometimes random letters."""
    if rng.random() < 0.7:
        w = "".join(rng.choice("bcdfghjklmnprstvwz") + rng.choice("aeiouy") + (rng.choice("lnrsx") if rng.random() < 0.3 else "")
                    for _ in range(rng.randint(1, 4)))
    else:
        w = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
    r = rng.random()
    return w.upper() if r < 0.3 else w.capitalize() if r < 0.7 else w


def gen_copy_rare(corp, rng):
    """Copy items with about a third of the words replaced by made-up words. Held-out copy
    errors are rare names split into several BPE pieces (play characters training never read), where a
    likelier piece replaces the source piece; made-up words can only be copied piece by piece."""
    n = rng.randint(8, 24)
    p, _ = corp.task_passage(rng, n)
    p = " ".join(pseudo_word(rng) if rng.random() < 0.3 else w for w in p.split())
    return suite_format("copy").item(passage=p)


def gen_continue(corp, rng):
    n = rng.randint(8, 24)
    p, cont = corp.task_passage(rng, n)
    return suite_format("continue-writing").item(passage=p, continuation=cont)


def gen_summary(corp, rng):
    """Lead-style summarization pairs from KJV chapters: the summary is the excerpt's first verse (the
    classic lead-1 baseline), in the xsum or the cnndm suite's format. Honest but weak: it teaches the
    format, not real summarization."""
    if not corp.kjv:
        return gen_copy(corp, rng)
    ch = corp.kjv[rng.randrange(len(corp.kjv))].split("\n")
    i = rng.randrange(max(1, len(ch) - 4))
    verses = ch[i:i + rng.randint(3, 8)]
    art = " ".join(verses)
    if rng.random() < 0.5:
        return suite_format("xsum").item(document=art, summary=verses[0])
    return suite_format("cnndm").item(article=art, summary=verses[0])


TASKS = ["addition", "product", "repetition", "copy", "continue", "summary"]


def make_task(name, corp, rng, step=10 ** 9, max_digits=3):
    if name == "addition":
        return gen_addition(rng, step, max_digits)
    if name == "product":
        return gen_product(rng)
    if name == "repetition":
        return gen_repetition(rng)
    if name == "copy":
        return gen_copy(corp, rng)
    if name == "copy_shuffled":  # a mix key only: not in TASKS, so the tokenizer's training texts are unchanged
        return gen_copy_shuffled(corp, rng)
    if name == "copy_rare":  # a mix key only, like copy_shuffled
        return gen_copy_rare(corp, rng)
    if name == "continue":
        return gen_continue(corp, rng)
    if name == "summary":
        return gen_summary(corp, rng)
    raise ValueError(name)


# ---------------------------------------------------------------- packed batches

class Packer:
    """Builds [B, S+1] token windows made of whole documents. Each document starts with BOS at position 0
    and attends only to itself (doc ids -> block-diagonal causal mask). Task documents are
    BOS + prompt + " answer\\n" + EOS with loss on the answer part only; the rest of a window is filled
    with a text chunk of exactly the remaining length (loss on all of it)."""

    def __init__(self, tok, corp, mix, seq_len, seed, max_digits=3, text_pool=None):
        self.tok, self.corp, self.seq_len = tok, corp, seq_len
        self.mix = mix  # dict task -> probability per document slot; "text" = fill
        self.max_digits = max_digits
        self.rng = random.Random(seed)
        self.pool = text_pool if text_pool is not None else getattr(corp, "pool", None)

    def task_doc(self, name, step):
        prompt, answer = make_task(name, self.corp, self.rng, step, self.max_digits)
        p = [self.tok.bos_id] + self.tok.encode(prompt)
        a = self.tok.encode(answer + "\n") + [self.tok.eos_id]
        return p + a, [0] * len(p) + [1] * len(a)

    def text_chunk(self, n):
        """BOS + n-1 tokens from a source chosen by TEXT_WEIGHTS, a document chosen by length."""
        names = list(self.pool)
        src = self.rng.choices(names, [TEXT_WEIGHTS.get(k, 0.1) for k in names])[0]
        arrs, cum = self.pool[src]
        k = int(np.searchsorted(cum, self.rng.random() * cum[-1], side="right"))
        a = arrs[min(k, len(arrs) - 1)]
        if len(a) <= n - 1:
            ids = [self.tok.bos_id] + a.tolist()
        else:
            i = self.rng.randrange(len(a) - (n - 1) + 1)
            ids = [self.tok.bos_id] + a[i:i + n - 1].tolist()
        return ids, [1] * len(ids)

    def window(self, step):
        S1 = self.seq_len + 1
        ids, lm, doc = [], [], []
        names = [k for k in self.mix if k != "text"]
        weights = [self.mix[k] for k in names]
        pure_text = self.rng.random() < self.mix.get("text", 0.0)
        d = 0
        while len(ids) < S1:
            room = S1 - len(ids)
            t = None
            if not pure_text and room >= 12:
                t, m = self.task_doc(self.rng.choices(names, weights)[0], step)
                if len(t) > room:
                    t = None
                    pure_text = True  # fill the rest with text
            if t is None:
                t, m = self.text_chunk(room)
            ids += t
            lm += m
            doc += [d] * len(t)
            d += 1
        ids, lm, doc = ids[:S1], lm[:S1], doc[:S1]
        pos, last, p = [], None, 0
        for x in doc:
            p = p + 1 if x == last else 0
            last = x
            pos.append(p)
        return ids, lm, doc, pos

    def batch(self, B, step):
        import torch
        rows = [self.window(step) for _ in range(B)]
        ids = torch.tensor([r[0] for r in rows])
        lm = torch.tensor([r[1] for r in rows], dtype=torch.float32)
        doc = torch.tensor([r[2] for r in rows])
        pos = torch.tensor([r[3] for r in rows])
        x, y = ids[:, :-1], ids[:, 1:]
        # loss at input position t predicts token t+1: weight from the target token, and only within a document
        w = lm[:, 1:] * (doc[:, 1:] == doc[:, :-1]).float()
        return x, y, w, doc[:, :-1], pos[:, :-1]


TEXT_WEIGHTS = {"shakespeare": 0.45, "kjv": 0.3, "gsm8k": 0.25}


def build_text_pool(tok, corp, cache_path=None):
    """source -> (list of int32 token arrays, cumulative lengths)."""
    if cache_path and os.path.exists(cache_path):
        z = np.load(cache_path, allow_pickle=True)
        raw = z["pool"].item()
    else:
        raw = {}
        for name, text in corp.text_documents():
            if name == "shakespeare":  # blocks of ~20k characters cut at blank lines
                i = 0
                while i < len(text):
                    j = text.find("\n\n", i + 20000)
                    j = len(text) if j < 0 else j + 2
                    raw.setdefault(name, []).append(np.array(tok.encode(text[i:j]), dtype=np.int32))
                    i = j
            else:
                raw.setdefault(name, []).append(np.array(tok.encode(text), dtype=np.int32))
        if cache_path:
            np.savez(cache_path, pool=np.array(raw, dtype=object))
    return {k: (v, np.cumsum([len(a) for a in v])) for k, v in raw.items()}
