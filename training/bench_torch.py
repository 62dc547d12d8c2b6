"""PyTorch peer of `flexibench bench`: batch-1 greedy decoding with a KV cache on an exported checkpoint,
`full` against `flexidepth` with a real per-token skip, in eager mode on one thread.

    /usr/bin/python3 -m training.bench_torch --model models/flexidepth-ref [--prompt "Once upon a time"]
        [--tokens 128] [--rounds 5] [--threshold 0.5] [--threads 1] [--no-fuse] [--no-dense]
        [--check-engine] [--check-tokens 64]

Prints one JSON document on stdout (progress on stderr), shaped like `flexibench bench --json`.

What runs (docs/method.md, "One routed layer, exactly"), on the weights training/checkpoint.py loads:
- a preallocated KV cache per layer, written in place at each step (no concatenation, no copies);
- one thread: torch.set_num_threads and OPENBLAS_NUM_THREADS (Debian's torch calls OpenBLAS, whose
  own pool torch does not size); a single row's products go through gemv (see `lin`);
- `full`: every layer's attention and FFN;
- `flexidepth`: a routed layer computes InNorm, K/V (written to the cache) and the router for every
  token; for a decode step (one token) it then runs either the attention + FFN (gate > threshold) or
  only PostNorm + adapter, never both. In the prefill the full-path rows are gathered and only they
  get a query, attention and FFN, each row with its own causal limit;
- with fusion (the default) the weights are concatenated once: Q|K|V, gate|up, K|V|router-enc on
  routed layers, adapter gate|down; the attention scale is folded into W_q and router head into
  router dec (no nonlinearity between them). All of these are exact up to float rounding;
  `--no-fuse` runs every projection on its own (same numbers up to rounding);
- unless `--no-dense`, training/model.py's own KV-cached forward (torch.cat cache, flexidepth
  computing both paths densely) is timed in the same rounds as `model_py_dense`: the baseline
  the issue quoted.

Timing: a warm-up run of each variant, then `--rounds` rounds in ABBA order; every run is a prefill
of the prompt and exactly `--tokens` decode steps (no stop on EOS), each step running the newest
token, timed one by one (argmax included), as the engine's generate() does. Per variant, as in
`flexibench bench`: a run's value is its decode time / decode steps, `decode_ms_per_step` the median
over rounds with its min/max, `decode_speed_ratio` = full / flexidepth ms per step, `ideal_speed_ratio`
the ratio of multiply-adds per step for the routing observed (counted by the harness: src/model/path-cost.ts
through `flexibench path-cost`),
`efficiency` their quotient. Also: the median of each run's step times (`decode_step_median_ms`,
robust to a step the shared machine descheduled), the p10/p90 of all steps, and
`decode_cpu_ms_per_step`, the median of the thread's CPU time per step.

Checks: the peer's greedy tokens are compared with model.py's reference generation (both variants)
and, with `--check-engine`, with `node bin/flexibench.js generate --json` on the same prompt (set
FLEXIBENCH_DEV=1 to run the TypeScript sources): tokens agreeing, first divergence, and for
flexidepth the routing decisions agreeing over the common positions.
"""
import argparse
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time


def _threads_arg():
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--threads", type=int, default=1)
    return p.parse_known_args()[0].threads


if __name__ == "__main__":
    # OpenBLAS (Debian's torch BLAS) keeps its own thread pool, which torch.set_num_threads does not
    # size; without this a second thread runs every product. It must be set before torch loads.
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(_threads_arg())

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from .checkpoint import load_dir  # noqa: E402
from .generation import greedy  # noqa: E402
from .harness import FLEXIBENCH, ROOT, decode_step_multiply_adds  # noqa: E402
from .model import rope_cos_sin  # noqa: E402
from .tokenizer import Tokenizer  # noqa: E402


def lin(x, w):
    """x @ w.T. One row goes through BLAS gemv: OpenBLAS's gemm packs the whole weight matrix on every
    call, which made a [1,192] x [192,576] product ~5x slower than gemv here."""
    return torch.mv(w, x[0])[None] if x.shape[0] == 1 else F.linear(x, w)


def rms(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


class PeerLayer:
    """One decoder layer's weights, rearranged for decoding. Shares nothing mutable with the model."""

    def __init__(self, layer, c, fuse):
        a = layer.self_attn
        self.nh, self.nkv, self.hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        self.eps = c["rms_norm_eps"]
        self.fuse = fuse
        self.routed = layer.routed
        self.ln1 = layer.input_layernorm.weight.detach()
        self.ln2 = layer.post_attention_layernorm.weight.detach()
        scale = 1.0 / math.sqrt(self.hd)
        wq, wk, wv = a.q_proj.weight.detach(), a.k_proj.weight.detach(), a.v_proj.weight.detach()
        self.wo = a.o_proj.weight.detach()
        mlp = layer.mlp
        self.wdown = mlp.down_proj.weight.detach()
        self.m = mlp.gate_proj.weight.shape[0]
        if fuse:
            # RoPE is linear, so scaling q before it equals scaling the scores after it.
            self.wq = (wq * scale).contiguous()
            self.wqkv = torch.cat([self.wq, wk, wv]).contiguous()
            self.wgu = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).detach().contiguous()
        else:
            self.wq, self.wk, self.wv, self.scale = wq, wk, wv, scale
            self.wg, self.wu = mlp.gate_proj.weight.detach(), mlp.up_proj.weight.detach()
        if self.routed:
            r = layer.router
            ad = layer.router_proj
            self.rdim = r.router_enc.weight.shape[0]
            self.rnorm = r.router_norm.weight.detach()
            self.am = ad.gate_proj.weight.shape[0]
            self.aup = ad.up_proj.weight.detach()
            if fuse:
                self.wkvr = torch.cat([wk, wv, r.router_enc.weight.detach()]).contiguous()
                # head(dec(t)) = (W_head @ W_dec) t: one [r] vector.
                self.rvec = (r.router_head.weight.detach() @ r.router_dec.weight.detach())[0].contiguous()
                self.agd = torch.cat([ad.gate_proj.weight, ad.down_proj.weight]).detach().contiguous()
            else:
                self.renc, self.rdec, self.rhead = r.router_enc.weight.detach(), r.router_dec.weight.detach(), r.router_head.weight.detach()
                self.ag, self.ad = ad.gate_proj.weight.detach(), ad.down_proj.weight.detach()

    # --- pieces -------------------------------------------------------------------------------
    def rope(self, t, cos, sin):
        """t: [heads, S, hd]; cos, sin: [S, hd], sin with its first half negated (Peer.__init__), so that
        HF's rotate_half(t) * sin is roll(t, hd/2) * sin: one op instead of slice, slice, neg, cat."""
        return torch.addcmul(t * cos, t.roll(self.hd // 2, -1), sin)

    def heads(self, t, n):
        """[S, n*hd] -> [n, S, hd]"""
        return t.view(t.shape[0], n, self.hd).transpose(0, 1)

    def write_kv(self, kh, v, cache, p0):
        """kh: [nkv, S, hd] after RoPE; v: [S, nkv*hd]."""
        S = v.shape[0]
        cache[0][:, p0:p0 + S] = kh
        cache[1][:, p0:p0 + S] = self.heads(v, self.nkv)

    def attend(self, q, cache, T, bias):
        """q: [nh, S, hd] after RoPE (scale folded in when fused); attends to cache positions < T.
        bias: None (a single newest token sees everything) or [S, T] additive causal bias."""
        S = q.shape[1]
        rep = self.nh // self.nkv
        if not self.fuse:
            q = q * self.scale
        # GQA as HF repeat_kv: kv head j serves query heads j*rep .. j*rep+rep-1
        q = q.reshape(self.nkv, rep * S, self.hd)
        s = torch.matmul(q, cache[0][:, :T].transpose(1, 2))  # [nkv, rep*S, T]
        if bias is not None:
            s = (s.view(self.nkv, rep, S, T) + bias).view(self.nkv, rep * S, T)
        p = torch.softmax(s, dim=-1)
        o = torch.matmul(p, cache[1][:, :T])  # [nkv, rep*S, hd]
        o = o.view(self.nh, S, self.hd).transpose(0, 1).reshape(S, self.nh * self.hd)
        return lin(o, self.wo)

    def ffn(self, u):
        if self.fuse:
            gu = lin(u, self.wgu)
            return lin(F.silu(gu[:, :self.m]) * gu[:, self.m:], self.wdown)
        return lin(F.silu(lin(u, self.wg)) * lin(u, self.wu), self.wdown)

    def adapter(self, u):
        if self.fuse:
            gd = lin(u, self.agd)
            return lin(F.silu(gd[:, :self.am]) * gd[:, self.am:], self.aup)
        return lin(F.silu(lin(u, self.ag)) * lin(u, self.ad), self.aup)

    def router(self, r):
        t = torch.tanh(rms(r, self.rnorm, self.eps))
        if self.fuse:
            return torch.sigmoid(torch.mv(t, self.rvec))  # [S]
        return torch.sigmoid(lin(lin(t, self.rdec), self.rhead)[:, 0])

    # --- a layer over S new tokens at positions p0 .. p0+S-1 -----------------------------------
    def forward(self, x, cache, p0, cos, sin, bias, routing, threshold, gates):
        S = x.shape[0]
        T = p0 + S
        z = rms(x, self.ln1, self.eps)
        nq, nk = self.nh * self.hd, self.nkv * self.hd
        if not (self.routed and routing):
            if self.fuse:
                qkv = lin(z, self.wqkv)
                qk = self.rope(self.heads(qkv[:, :nq + nk], self.nh + self.nkv), cos, sin)  # one RoPE for Q and K
                qh, kh, v = qk[:self.nh], qk[self.nh:], qkv[:, nq + nk:]
            else:
                qh = self.rope(self.heads(lin(z, self.wq), self.nh), cos, sin)
                kh = self.rope(self.heads(lin(z, self.wk), self.nkv), cos, sin)
                v = lin(z, self.wv)
            self.write_kv(kh, v, cache, p0)
            h = x + self.attend(qh, cache, T, bias)
            return h + self.ffn(rms(h, self.ln2, self.eps))
        # Routed: K/V and the router for every token.
        if self.fuse:
            kvr = lin(z, self.wkvr)
            k, v, r = kvr[:, :nk], kvr[:, nk:2 * nk], kvr[:, 2 * nk:]
        else:
            k, v, r = lin(z, self.wk), lin(z, self.wv), lin(z, self.renc)
        self.write_kv(self.rope(self.heads(k, self.nkv), cos, sin), v, cache, p0)
        g = self.router(r)  # [S]
        if S == 1:
            gv = float(g)
            gates.append(gv)
            if gv > threshold:  # full path only
                h = x + self.attend(self.rope(self.heads(lin(z, self.wq), self.nh), cos, sin), cache, T, None)
                return h + g * self.ffn(rms(h, self.ln2, self.eps))
            return x + (1 - g) * self.adapter(rms(x, self.ln2, self.eps))  # skip path only
        # Prefill: gather the full-path rows; only they get a query, attention and FFN.
        gates.append(g.tolist())
        full = g > threshold
        y = torch.empty_like(x)
        fi = full.nonzero()[:, 0]
        si = (~full).nonzero()[:, 0]
        if fi.numel():
            xf, gf = x[fi], g[fi, None]
            b = None if bias is None else bias[fi]
            qh = self.rope(self.heads(lin(z[fi], self.wq), self.nh), cos[fi], sin[fi])
            h = xf + self.attend(qh, cache, T, b)
            y[fi] = h + gf * self.ffn(rms(h, self.ln2, self.eps))
        if si.numel():
            xs, gs = x[si], g[si, None]
            y[si] = xs + (1 - gs) * self.adapter(rms(xs, self.ln2, self.eps))
        return y


class Peer:
    def __init__(self, model, c, fuse=True, max_len=None):
        self.c = c
        self.layers = [PeerLayer(layer, c, fuse) for layer in model.model.layers]
        self.embed = model.model.embed_tokens.weight.detach()
        self.head_w = self.embed if model.tied else model.lm_head.weight.detach()
        self.norm = model.model.norm.weight.detach()
        self.eps = c["rms_norm_eps"]
        self.max_len = max_len or c["max_position_embeddings"]
        hd = c["head_dim"]
        cos, sin = rope_cos_sin(torch.arange(self.max_len)[None], hd, c["rope_theta"])  # [1,1,L,hd]
        h = hd // 2
        self.cos = cos[0, 0].contiguous()
        self.sin = torch.cat([-sin[0, 0, :, :h], sin[0, 0, :, h:]], dim=-1).contiguous()  # for PeerLayer.rope

    def new_cache(self):
        c = self.c
        shape = (c["num_key_value_heads"], self.max_len, c["head_dim"])
        return [(torch.zeros(shape), torch.zeros(shape)) for _ in self.layers]

    def step(self, ids, cache, p0, routing, threshold):
        """Run tokens `ids` at positions p0.. ; returns (logits of the last position [V], gates per routed layer)."""
        S = len(ids)
        x = self.embed[torch.tensor(ids)] if S > 1 else self.embed[ids[0]][None]
        cos, sin = self.cos[p0:p0 + S], self.sin[p0:p0 + S]
        bias = None
        if S > 1:
            T = p0 + S
            qpos = torch.arange(p0, T)[:, None]
            bias = torch.zeros(S, T).masked_fill(torch.arange(T)[None] > qpos, float("-inf"))
        gates = []
        for layer, kv in zip(self.layers, cache):
            x = layer.forward(x, kv, p0, cos, sin, bias, routing, threshold, gates)
        x = rms(x[-1:], self.norm, self.eps)
        return lin(x, self.head_w)[0], gates

    def generate(self, prompt, n, routing, threshold, times=None, cpu=None):
        """Greedy, exactly n decode steps (the newest token is run at each, the last one too).
        Returns (generated ids, gates per position [pos][R] for prompt + generated, prefill seconds)."""
        cache = self.new_cache()
        t0 = time.perf_counter()
        logits, g = self.step(prompt, cache, 0, routing, threshold)
        prefill_s = time.perf_counter() - t0
        per_pos = [list(r) for r in zip(*g)] if g else [[] for _ in prompt]
        out = []
        nxt = int(logits.argmax())
        p = len(prompt)
        for _ in range(n):
            out.append(nxt)
            t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
            logits, g = self.step([nxt], cache, p, routing, threshold)
            nxt = int(logits.argmax())
            if times is not None:
                times.append((time.perf_counter_ns() - t0) / 1e6)
                cpu.append((time.thread_time_ns() - c0) / 1e6)
            per_pos.append(g)
            p += 1
        return out, per_pos, prefill_s


def dense_generate(model, prompt, n, routing, threshold, times=None, cpu=None):
    """training/model.py's own KV-cached forward (torch.cat cache; flexidepth computes both paths densely)."""
    ids = torch.tensor([prompt])
    S = len(prompt)
    pos = torch.arange(S)[None]
    mask = torch.ones(S, S, dtype=torch.bool).tril()[None, None]
    t0 = time.perf_counter()
    logits, past, _ = model(ids, pos, mask, routing=routing, threshold=threshold)
    prefill_s = time.perf_counter() - t0
    nxt = int(logits[0, -1].argmax())
    out = []
    zero = torch.zeros(1, 1, 1, 1)  # additive bias: the newest token attends to everything
    for i in range(n):
        out.append(nxt)
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        logits, past, _ = model(torch.tensor([[nxt]]), torch.tensor([[S + i]]), zero, past=past, routing=routing, threshold=threshold)
        nxt = int(logits[0, -1].argmax())
        if times is not None:
            times.append((time.perf_counter_ns() - t0) / 1e6)
            cpu.append((time.thread_time_ns() - c0) / 1e6)
    return out, prefill_s


def pct(xs, q):
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def decode_steps(prompt_len, per_pos, routing, threshold):
    """The decode steps of one run (positions prompt_len .. end) for `decode_step_multiply_adds`: the keys
    each step's token attends to, and on the flexidepth variant the path each routed layer took."""
    return [(p + 1, [x > threshold for x in per_pos[p]] if routing else None) for p in range(prompt_len, len(per_pos))]


def engine_generate(model_dir, prompt, variant, n, threshold):
    cmd = ["node", FLEXIBENCH, "generate", "--model", model_dir, "--variant", variant,
           "--prompt", prompt, "--max-new-tokens", str(n), "--threshold", str(threshold), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        sys.exit(f"bench_torch: --check-engine: `flexibench generate --variant {variant}` failed (exit {out.returncode}): {tail}")
    return json.loads(out.stdout)


def agreement(ours, theirs):
    n = min(len(ours), len(theirs))
    first = next((i for i in range(n) if ours[i] != theirs[i]), None)
    return {"compared": n, "agree": sum(ours[i] == theirs[i] for i in range(n)),
            "prefix_agree": n if first is None else first, "first_divergence": first}


def log(msg):
    sys.stderr.write(f"bench_torch: {msg}\n")
    sys.stderr.flush()


def main():
    ap = argparse.ArgumentParser(description="PyTorch eager peer of `flexibench bench` (full vs flexidepth with a real per-token skip)")
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "flexidepth-ref"))
    ap.add_argument("--prompt", default="Once upon a time", help="encoded with BOS, as `flexibench bench` does")
    ap.add_argument("--tokens", type=int, default=128, help="decode steps per run")
    ap.add_argument("--rounds", type=int, default=5, help="measured runs of each variant after one warm-up each")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-fuse", action="store_true", help="one projection per weight matrix (no concatenated weights, no folds)")
    ap.add_argument("--no-dense", action="store_true", help="do not time model.py's dense KV-cached forward")
    ap.add_argument("--check-engine", action="store_true", help="compare greedy tokens with `node bin/flexibench.js generate --json`")
    ap.add_argument("--check-tokens", type=int, default=64, help="tokens generated for the checks")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model, cfg = load_dir(args.model)
    c = dict(model.config)
    if not c.get("routing_layers"):
        sys.exit("bench_torch: the checkpoint has no routing layers (flexidepth needs them)")
    tok = Tokenizer.load(os.path.join(args.model, "tokenizer.json"))
    prompt = tok.encode(args.prompt, add_bos=True)
    L, R = c["num_hidden_layers"], len(c["routing_layers"])
    variants = ["full", "flexidepth"]
    routing_of = {"full": False, "flexidepth": True}
    peer = Peer(model, c, fuse=not args.no_fuse, max_len=len(prompt) + max(args.tokens, args.check_tokens) + 1)

    with torch.inference_mode():
        # Checks first (untimed): the peer against model.py's generation, then against the engine.
        checks = {}
        for v in variants:
            ids, per_pos, _ = peer.generate(prompt, args.check_tokens, routing_of[v], args.threshold)
            ref = greedy(model, [prompt], args.check_tokens, set(), -1, routing=routing_of[v], threshold=args.threshold,
                         stop_on_newline=False)[0]
            ch = {"generated_ids": ids, "vs_model_py": agreement(ids, ref["ids"])}
            if routing_of[v]:
                upto = len(prompt) + ch["vs_model_py"]["prefix_agree"]  # positions holding the same tokens
                ours = [x > args.threshold for pos in per_pos[:upto] for x in pos]
                refm = [x > args.threshold for pos in ref["gates"][:upto] for x in pos]
                n = min(len(ours), len(refm))
                ch["vs_model_py"]["routing_decisions"] = {"compared": n, "agree": sum(ours[i] == refm[i] for i in range(n))}
            if args.check_engine:
                e = engine_generate(args.model, args.prompt, v, args.check_tokens, args.threshold)
                eprompt = [t["id"] for t in e["tokens"] if t["phase"] == "prompt"]
                egen = [t["id"] for t in e["tokens"] if t["phase"] == "generated"]
                ea = agreement(ids, egen)
                ea["prompt_ids_equal"] = eprompt == prompt
                ea["engine_stop_reason"] = e.get("stop_reason")
                if routing_of[v]:
                    # Common prefix only: after a divergence the positions hold different tokens.
                    upto = len(prompt) + ea["prefix_agree"]
                    ours = [x > args.threshold for pos in per_pos[:upto] for x in pos]
                    theirs = [bool(x) for t in e["tokens"][:upto] for x in t["mask"]]
                    n = min(len(ours), len(theirs))
                    ea["routing_decisions_on_common_prefix"] = {"compared": n, "agree": sum(ours[i] == theirs[i] for i in range(n))}
                ch["vs_engine"] = ea
            checks[v] = ch
            log(f"check {v}: model.py {ch['vs_model_py']['agree']}/{ch['vs_model_py']['compared']}"
                + (f", engine {ch['vs_engine']['agree']}/{ch['vs_engine']['compared']}" if "vs_engine" in ch else ""))

        # Timed runs: warm-up, then ABBA rounds; dense model.py runs interleaved in the same rounds.
        runs = {v: [] for v in variants}
        dense_runs = {v: [] for v in variants}

        def once(v, dense):
            times, cpu = [], []
            if dense:
                ids, prefill_s = dense_generate(model, prompt, args.tokens, routing_of[v], args.threshold, times, cpu)
                per_pos = None
            else:
                ids, per_pos, prefill_s = peer.generate(prompt, args.tokens, routing_of[v], args.threshold, times, cpu)
            rec = {"times": times, "cpu": cpu, "prefill_s": prefill_s, "ids": ids}
            if per_pos is not None:
                prod = per_pos[len(prompt) - 1:len(prompt) - 1 + args.tokens]  # producing positions of the generated tokens
                rec["layers_used_mean"] = statistics.fmean(
                    L - (R if routing_of[v] else 0) + sum(x > args.threshold for x in g) for g in prod)
                rec["steps"] = decode_steps(len(prompt), per_pos, routing_of[v], args.threshold)
                steps = [x for g in per_pos[len(prompt):] for x in g]  # routed decisions at the decode steps
                rec["skips"], rec["decisions"] = sum(x <= args.threshold for x in steps), len(steps)
            return rec

        for v in variants:
            once(v, False)
            if not args.no_dense:
                once(v, True)
        for r in range(args.rounds):
            order = variants if r % 2 == 0 else variants[::-1]
            for v in order:
                runs[v].append(once(v, False))
                log(f"round {r + 1}/{args.rounds} {v}: {statistics.median(runs[v][-1]['times']):.3f} ms/step (median)")
            if not args.no_dense:
                for v in order[::-1]:
                    dense_runs[v].append(once(v, True))

    # Multiply-adds per run, from the harness's count (one call for every step of every measured run).
    measured = [x for v in variants for x in runs[v]]
    costs = iter(decode_step_multiply_adds(args.model, [s for x in measured for s in x["steps"]]))
    for x in measured:
        x["macs"] = sum(next(costs) for _ in x["steps"])

    def summary(rs, with_depth):
        # As `flexibench bench`: a run's value is decode time / decode steps; the median over rounds.
        ms = [statistics.fmean(x["times"]) for x in rs]
        meds = [statistics.median(x["times"]) for x in rs]
        allt = [t for x in rs for t in x["times"]]
        s = {
            "decode_ms_per_step": statistics.median(ms),
            "decode_ms_per_step_spread": {"min": min(ms), "max": max(ms)},
            "decode_tokens_per_s": 1000.0 / statistics.median(ms),
            # Within-run medians (robust to a descheduled step), and the spread of all single steps.
            "decode_step_median_ms": statistics.median(meds),
            "decode_step_median_ms_spread": {"min": min(meds), "max": max(meds)},
            "decode_step_ms_p10_p90": [pct(allt, 0.1), pct(allt, 0.9)],
            # CPU time of the thread per step (median): the step's cost without the time the shared
            # machine kept the process waiting.
            "decode_cpu_ms_per_step": statistics.median(statistics.median(x["cpu"]) for x in rs),
            "prefill_tokens_per_s": statistics.median(len(prompt) / x["prefill_s"] for x in rs),
            "rounds_ms_per_step": ms,
        }
        if with_depth:
            s["layers_used_mean"] = statistics.fmean(x["layers_used_mean"] for x in rs)
            s["multiply_adds_per_step"] = statistics.fmean(x["macs"] for x in rs) / args.tokens
        return s

    full, flexi = summary(runs["full"], True), summary(runs["flexidepth"], True)
    round_ratios = [f / x for f, x in zip(full["rounds_ms_per_step"], flexi["rounds_ms_per_step"])]
    skips = sum(x["skips"] for x in runs["flexidepth"])
    decisions = sum(x["decisions"] for x in runs["flexidepth"])
    doc = {
        "model": os.path.relpath(args.model),
        "weights_sha256": hashlib.sha256(open(os.path.join(args.model, "model.safetensors"), "rb").read()).hexdigest(),
        "runtime": f"torch {torch.__version__} eager, CPU, python {platform.python_version()}",
        "intra_op_threads": torch.get_num_threads(),
        "fused_weights": not args.no_fuse,
        "kv_cache": "preallocated per layer, written in place",
        "prompt": args.prompt,
        "prompt_tokens": len(prompt),
        "decode_tokens": args.tokens,
        "rounds": args.rounds,
        "threshold": args.threshold,
        "skip_rate": skips / decisions if decisions else None,
        "layers_total": L,
        "routing_layers": c["routing_layers"],
        "full": full,
        "flexidepth": flexi,
        "decode_speed_ratio": full["decode_ms_per_step"] / flexi["decode_ms_per_step"],
        "decode_speed_ratio_spread": {"min": min(round_ratios), "max": max(round_ratios)},
        "ideal_speed_ratio": full["multiply_adds_per_step"] / flexi["multiply_adds_per_step"],
        "same_tokens_every_run": all(x["ids"] == runs[v][0]["ids"] for v in variants for x in runs[v]),
        "checks": checks,
    }
    doc["efficiency"] = doc["decode_speed_ratio"] / doc["ideal_speed_ratio"]
    if not args.no_dense:
        dfull, dflexi = summary(dense_runs["full"], False), summary(dense_runs["flexidepth"], False)
        doc["model_py_dense"] = {
            "note": "training/model.py forward with its torch.cat KV cache; flexidepth computes both paths densely",
            "full": dfull, "flexidepth": dflexi,
            "decode_speed_ratio": dfull["decode_ms_per_step"] / dflexi["decode_ms_per_step"],
            "same_tokens_as_peer": all(x["ids"] == runs[v][0]["ids"] for v in variants for x in dense_runs[v]),
        }
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
