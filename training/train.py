"""The reference-model pipeline: tokenizer -> base pre-training -> FlexiDepth stage (alpha sweep) -> export -> evaluation.

    /usr/bin/python3 -m training.train --preset reference --run training/runs/reference --out models/flexidepth-ref
    /usr/bin/python3 -m training.train --preset smoke --run /tmp/smoke --out /tmp/smoke/model
    nice -n 19 /usr/bin/python3 -m training.train --preset reference-v3 --base-from models/flexidepth-ref \
        --run training/runs/v3 --out training/runs/v3/model --threads 1   # routers/adapters only, on the committed base

Every stage writes its result into the run directory and is skipped when already done; the training
stages checkpoint every few minutes and resume from the checkpoint, so rerunning the same command
after a kill continues where it stopped. Progress goes to RUN/log.txt (and RUN/metrics.jsonl).
Run from the repository root (training/ is a package).
"""
import argparse
import hashlib
import json
import math
import os
import random
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F

from .checkpoint import CONFIG_KEYS, read_safetensors
from .data import Corpora, Packer, build_text_pool, gen_addition, gsm8k_doc, make_task, TASKS
from .export import export_run
from .generation import greedy, newline_ids
from .model import CausalLM, doc_causal_mask, flexidepth_params, is_flexidepth_name
from .run_dir import Run, save_atomic
from .tokenizer import Tokenizer, train_bpe

PRESETS = {
    "reference": {
        "vocab_size": 2048,
        "model": dict(hidden_size=192, intermediate_size=512, num_hidden_layers=12, num_attention_heads=6,
                      num_key_value_heads=2, head_dim=32, rms_norm_eps=1e-5, rope_theta=10000.0,
                      max_position_embeddings=2048, tie_word_embeddings=True),
        "seq_len": 128,
        # The curriculum and stochastic depth: how they were found is in training/README.md ("How the presets were chosen").
        "pretrain": dict(steps=6500, batch=12, lr=1.5e-3, min_lr=1.5e-4, warmup=150, wd=0.1, clip=1.0,
                         mix={"text": 0.2, "addition": 3.2, "product": 0.6, "repetition": 0.35, "copy": 0.22,
                              "continue": 0.08, "summary": 0.015},
                         mix_schedule=[(800, {"text": 0.05, "addition": 3.2, "product": 0.5, "repetition": 0.4,
                                              "copy": 1.4, "copy_shuffled": 1.4, "continue": 0.08, "summary": 0.01}),
                                       (2779, {"text": 0.05, "addition": 4.5, "product": 0.5, "repetition": 0.4,
                                               "copy": 1.4, "copy_shuffled": 1.0, "copy_rare": 0.7, "continue": 0.08,
                                               "summary": 0.01})],
                         layer_drop_schedule=[(3000, 0.15)],
                         monitor_every=300),
        # alpha and step count: training/README.md ("How the presets were chosen").
        "flexidepth": dict(steps=300, batch=12, lr=1e-3, min_lr=1e-4, warmup=10, wd=0.0, clip=1.0,
                           alphas=[1e-3, 2e-3, 3e-3], gate_estimator="straight-through", monitor_every=100),
        "select_items": 100,
        "eval_items": 200,
        "ckpt_minutes": 4,
    },
    "smoke": {
        "vocab_size": 600,
        "model": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
                      num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-5, rope_theta=10000.0,
                      max_position_embeddings=512, tie_word_embeddings=True),
        "seq_len": 128,
        "pretrain": dict(steps=20, batch=4, lr=3e-3, min_lr=3e-4, warmup=5, wd=0.1, clip=1.0,
                         mix={"text": 0.25, "addition": 2.0, "product": 0.6, "repetition": 0.35, "copy": 0.2,
                              "continue": 0.08, "summary": 0.03},
                         monitor_every=10),
        # the smoke model is far too weak to learn routing: the routers start near g = 0.5 so that the
        # exported checkpoint has mixed routing decisions (both paths exercised by the engine test)
        "flexidepth": dict(steps=10, batch=4, lr=1e-4, min_lr=1e-5, warmup=2, wd=0.0, clip=1.0,
                           alphas=[1e-3], monitor_every=5, router_init="random"),
        "select_items": 8,
        "eval_items": 8,
        "ckpt_minutes": 1,
        "tokenizer_task_samples": 200,
    },
}
# The committed model's routers retrained longer on its unchanged base (--base-from): training/README.md.
PRESETS["reference-v3"] = dict(
    PRESETS["reference"],
    flexidepth=dict(PRESETS["reference"]["flexidepth"], steps=2400, alphas=[1e-3, 1.5e-3, 2e-3], monitor_every=100,
                    monitor_items=48, monitor_seed=5150, monitor_tasks=("repetition", "copy", "addition", "product")),
)


def scheduled(schedule, step, default):
    """The value of a [(start_step, value), ...] schedule at step: the last entry started, else default."""
    value = default
    for start, v in schedule:
        if step >= start:
            value = v
    return value


def lr_at(step, cfg):
    if step < cfg["warmup"]:
        return cfg["lr"] * (step + 1) / cfg["warmup"]
    t = (step - cfg["warmup"]) / max(1, cfg["steps"] - cfg["warmup"])
    return cfg["min_lr"] + 0.5 * (cfg["lr"] - cfg["min_lr"]) * (1 + math.cos(math.pi * min(1.0, t)))


# ---------------------------------------------------------------- stage 1: tokenizer

def write_tokenizer_cases(run, tok, corp, n_per_task=300):
    """Texts with their Python ids, for training/check_tokenizer.mjs (the JS tokenizer must agree)."""
    path = run.p("tokenizer_cases.jsonl")
    if os.path.exists(path):
        return
    rng = random.Random(99)
    texts = []
    for name in TASKS:
        for _ in range(n_per_task):
            p, a = make_task(name, corp, rng)
            texts.append(p + a + "\n")
    texts += corp.shakespeare_lines[::25]
    texts += [ex["question"] for ex in corp.gsm[:300]] + [gsm8k_doc(ex) for ex in corp.gsm[300:400]]
    texts += corp.kjv_lines[::400]
    texts += ["h\u00e9llo w\u00f6rld 12\u00bd \uff15 3.14 \u2014 \u201cquotes\u201d \t tabs  double  spaces\n\n",
              "<|user|>\nWhat is 2 + 2?<|end|>\n<|assistant|>\n", "emoji \U0001F600 and \u4e2d\u6587 \u0661\u0662\u0663",
              "  leading spaces and trailing   ", "line1\r\nline2\n\n\nline3", "1234567890 0.5 -7 +3 1,000,000"]
    with open(path + ".tmp", "w") as f:
        for t in texts:
            f.write(json.dumps({"text": t, "ids": tok.encode(t)}) + "\n")
    os.replace(path + ".tmp", path)


def stage_tokenizer(run, preset, kjv_path):
    tdir = run.p("tokenizer")
    if os.path.exists(os.path.join(tdir, "tokenizer.json")):
        tok = Tokenizer.load(os.path.join(tdir, "tokenizer.json"))
        write_tokenizer_cases(run, tok, Corpora(kjv_path))
        return tok
    run.log("tokenizer: training byte-level BPE, vocab", preset["vocab_size"])
    corp = Corpora(kjv_path)
    rng = random.Random(1234)
    texts = [(t, 1) for _, t in corp.text_documents()]
    for name in TASKS:
        for _ in range(preset.get("tokenizer_task_samples", 2000)):
            p, a = make_task(name, corp, rng)
            texts.append((p + a + "\n", 3))
    vocab, merges = train_bpe(texts, preset["vocab_size"], log=run.log)
    tok = Tokenizer(vocab, merges)
    tok.save(tdir, preset["model"]["max_position_embeddings"])
    run.log("tokenizer: saved", tdir, len(vocab), "tokens")
    tok = Tokenizer.load(os.path.join(tdir, "tokenizer.json"))
    write_tokenizer_cases(run, tok, corp)
    return tok


def model_config(preset, tok, routing_layers=None):
    c = dict(preset["model"])
    c["vocab_size"] = len(tok)
    c["bos_token_id"], c["eos_token_id"], c["pad_token_id"] = tok.bos_id, tok.eos_id, tok.pad_id
    if routing_layers is not None:
        c["routing_layers"] = routing_layers
    return c


# ---------------------------------------------------------------- quick task accuracy (validation, training-side items)

def task_accuracy(model, tok, corp, n, seed, routing, tasks=("addition", "product", "repetition", "copy"), max_digits=3, batch=32):
    """Exact match on freshly generated TRAINING-distribution items (for monitoring and alpha selection;
    the held-out evaluation is the harness's study, training/README.md). Returns {task: (acc, routed_usage)}."""
    rng = random.Random(seed)
    stops = newline_ids(tok)
    res = {}
    for task in tasks:
        items = []
        for _ in range(n):
            if task == "addition":
                items.append(gen_addition(rng, 10 ** 9, max_digits))
            else:
                items.append(make_task(task, corp, rng))
        if task == "addition":  # keep the top length only
            pass
        correct, used, total = 0, 0.0, 0
        for i in range(0, n, batch):
            chunk = items[i:i + batch]
            prompts = [[tok.bos_id] + tok.encode(p) for p, _ in chunk]
            outs = greedy(model, prompts, 64 if task in ("copy",) else 24, stops, tok.eos_id, routing=routing)
            for (p, a), o, pr in zip(chunk, outs, prompts):
                text = tok.decode(o["ids"]).split("\n")[0]
                correct += int(text.strip() == a.strip())
                if o["gates"]:
                    # producing positions: last prompt position .. second-to-last generated
                    gs = o["gates"][len(pr) - 1: len(pr) - 1 + len(o["ids"])]
                    for g in gs:
                        used += sum(1 for x in g if x > 0.5) / len(g)
                        total += 1
        res[task] = (correct / n, (used / total) if total else 1.0)
    return res


# ---------------------------------------------------------------- training loop (shared by both stages)

@dataclass
class Stage:
    """What one training stage runs, for train_loop: the model it trains is given with it."""
    name: str  # in the log and metrics; with the step it seeds the data order, so a resumed stage replays it
    cfg: dict  # the preset's section for the stage: steps, batch, lr, min_lr, warmup, wd, clip, monitor_every, schedules
    ckpt_path: str  # resumable checkpoint (model, optimizer, step)
    ckpt_minutes: float  # how often it is written (and at the last step)
    alpha: Optional[float] = None  # FlexiDepth: the skip loss's weight, routing on; None: pre-training, no routing
    monitor: Optional[Callable[[int], None]] = None  # called with the step every cfg["monitor_every"] steps and at the last


def train_loop(run, model, params, packer, stage):
    """Trains `params` of `model` on `packer`'s batches through `stage`; returns the LM loss's EMA at the end."""
    name, cfg, alpha, monitor = stage.name, stage.cfg, stage.alpha, stage.monitor
    opt = torch.optim.AdamW(params, lr=cfg["lr"], betas=(0.9, 0.95), weight_decay=cfg["wd"])
    dev = next(model.parameters()).device
    step = 0
    if os.path.exists(stage.ckpt_path):
        ck = torch.load(stage.ckpt_path, map_location="cpu")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step = ck["step"]
        run.log(f"{name}: resumed from step {step}")
    packer.rng.seed(f"{name}:{step}")  # deterministic (str seeds are hashed with sha512)
    last_ck = time.time()
    t0, tok_count, ema = time.time(), 0, None
    while step < cfg["steps"]:
        model.train()
        packer.mix = scheduled(cfg.get("mix_schedule", []), step, packer.mix)  # data mix by step (curriculum)
        drop = scheduled(cfg.get("layer_drop_schedule", []), step, None)  # stochastic depth on the second half
        if drop is not None:
            L = len(model.model.layers)
            for layer in model.model.layers[L // 2:]:
                layer.drop_prob = drop
            torch.manual_seed(step)  # the drop pattern is a function of the step: resumes replay it
        x, y, w, doc, pos = (t.to(dev) for t in packer.batch(cfg["batch"], step if alpha is None else 10 ** 9))
        lr = lr_at(step, cfg)
        for gr in opt.param_groups:
            gr["lr"] = lr
        logits, _, gates = model(x, pos, doc_causal_mask(doc), routing=alpha is not None)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1), reduction="none")
        l_lm = (ce * w.reshape(-1)).sum() / w.sum().clamp(min=1)
        loss = l_lm
        l_skip = torch.tensor(0.0)
        if alpha is not None and gates is not None:
            l_skip = (gates.sum(0) ** 2).mean()  # mean over tokens of (sum over routed layers of g)^2
            loss = l_lm + alpha * l_skip
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(params, cfg["clip"])
        opt.step()
        step += 1
        tok_count += x.numel()
        ema = l_lm.item() if ema is None else 0.98 * ema + 0.02 * l_lm.item()
        if step % 10 == 0 or step == cfg["steps"]:
            dt = time.time() - t0
            extra = ""
            if gates is not None and alpha is not None:
                usage = (gates > 0.5).float().mean().item()
                extra = f" skip_loss {l_skip.item():.3f} usage {usage:.3f}"
            run.log(f"{name}: step {step}/{cfg['steps']} lm {l_lm.item():.4f} (ema {ema:.4f}){extra} lr {lr:.2e} gn {gn:.2f} {tok_count / dt:.0f} tok/s")
            run.metric(stage=name, step=step, lm=l_lm.item(), ema=ema, skip=l_skip.item(), lr=lr, tok_s=tok_count / dt)
        if monitor and (step % cfg["monitor_every"] == 0 or step == cfg["steps"]):
            monitor(step)
        if time.time() - last_ck > stage.ckpt_minutes * 60 or step == cfg["steps"]:
            save_atomic({"model": model.state_dict(), "opt": opt.state_dict(), "step": step}, stage.ckpt_path)
            last_ck = time.time()
    return ema


def stage_pretrain(run, preset, tok, corp, pool, device):
    out = run.p("base.pt")
    if os.path.exists(out):
        return
    c = model_config(preset, tok)
    torch.manual_seed(0)
    model = CausalLM(c)
    model.init_weights()
    model.to(device)
    n = sum(p.numel() for p in model.parameters())
    run.log(f"pretrain: model {n} parameters, config {json.dumps(c)}")
    cfg = preset["pretrain"]
    packer = Packer(tok, corp, cfg["mix"], preset["seq_len"], seed=1)

    def monitor(step):
        t = time.time()
        r = task_accuracy(model, tok, corp, 48 if preset["eval_items"] >= 100 else 4, seed=777 + step, routing=False)
        run.log(f"pretrain: monitor step {step} " + " ".join(f"{k} {v[0]:.3f}" for k, v in r.items()) + f" ({time.time() - t:.0f}s)")
        run.metric(stage="pretrain-monitor", step=step, **{k: v[0] for k, v in r.items()})

    ema = train_loop(run, model, list(model.parameters()), packer,
                     Stage("pretrain", cfg, run.p("pretrain_ckpt.pt"), preset["ckpt_minutes"], monitor=monitor))
    torch.save({"config": c, "model": model.state_dict(), "final_lm_ema": ema}, out)
    run.log(f"pretrain: done, final lm ema {ema:.4f}")


# ---------------------------------------------------------------- stages 1+2 instead: the base of an exported checkpoint

def stage_base_from(run, preset, src):
    """RUN/tokenizer and RUN/base.pt from an exported ddllama (or llama) directory instead of training them:
    its tokenizer files and every tensor that is not a router or adapter. The FlexiDepth stage then retrains
    only routers and adapters on exactly that base, without the run directory that produced it."""
    if os.path.exists(run.p("base.pt")):
        return
    tdir = run.p("tokenizer")
    os.makedirs(tdir, exist_ok=True)
    for fn in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(src, fn), os.path.join(tdir, fn))
    tok = Tokenizer.load(os.path.join(tdir, "tokenizer.json"))
    c = model_config(preset, tok)
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    diff = {k: (cfg[k], c[k]) for k in CONFIG_KEYS if cfg[k] != c[k]}
    assert not diff, f"--base-from {src}: the preset does not describe this checkpoint: {diff}"
    sd = {k: v for k, v in read_safetensors(os.path.join(src, "model.safetensors")).items() if not is_flexidepth_name(k)}
    model = CausalLM(c)
    model.load_state_dict(sd, strict=True)  # every base tensor present and nothing else
    summary_path = os.path.join(src, "training_summary.json")
    summary = json.load(open(summary_path)) if os.path.exists(summary_path) else {}
    with open(os.path.join(src, "model.safetensors"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    source_summary = {"path": src, "model_safetensors_sha256": sha, "alpha": summary.get("alpha"),
                      "sweep": summary.get("sweep"), "select_full": summary.get("select_full")}
    # "source" makes export.py assert that the exported base is byte-identical to this checkpoint's
    save_atomic({"config": c, "model": model.state_dict(), "final_lm_ema": summary.get("pretrain_final_lm_ema"),
                 "source": os.path.abspath(src), "source_summary": source_summary}, run.p("base.pt"))
    run.log(f"base-from: {len(sd)} base tensors and the tokenizer of {src} (model.safetensors sha256 {sha[:16]}); "
            f"the router/adapter tensors there are not used")


# ---------------------------------------------------------------- stage 3: FlexiDepth (routers + adapters, base frozen)

def flexidepth_model(preset, tok, base, packer=None, run=None, logit0=2.0, device="cpu"):
    L = preset["model"]["num_hidden_layers"]
    routing = list(range(L // 2, L))  # second half of the layers
    c = model_config(preset, tok, routing)
    torch.manual_seed(1)
    model = CausalLM(c)
    model.init_weights()
    missing = model.load_state_dict(base["model"], strict=False)
    assert not missing.unexpected_keys, missing.unexpected_keys
    assert all(is_flexidepth_name(k) for k in missing.missing_keys), missing.missing_keys
    model.to(device)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if ".router_proj.up_proj." in n:
                p.zero_()  # the skip path starts as the identity
            if n.endswith("router_norm.weight"):
                p.fill_(1.0)
    if logit0 == "random":
        with torch.no_grad():
            for n, p in model.named_parameters():
                if ".router." in n and not n.endswith("norm.weight"):
                    p.normal_(0, 1.0 / math.sqrt(p.shape[1]))
    elif packer is not None:
        init_routers_full(model, packer, logit0, run)
    for n, p in model.named_parameters():
        p.requires_grad = is_flexidepth_name(n)
    return model


@torch.no_grad()
def init_routers_full(model, packer, logit0, run=None):
    """Start with (almost) every token on the full path: the router is an odd function of z
    (no biases; RMSNorm and tanh are odd), so it can only be positive everywhere along a direction
    that the tokens' z lie on one side of. We use the mean direction of z at that layer (LLM hidden
    states carry a large shared component): enc row 0 = that direction, dec column 0 and the head
    read it out with gain logit0. The other router weights stay small and random."""
    dev = next(model.parameters()).device
    x, y, w, doc, pos = (t.to(dev) for t in packer.batch(8, 10 ** 9))
    zs = {}
    hooks = [model.model.layers[i].input_layernorm.register_forward_hook(
        lambda mod, inp, out, i=i: zs.__setitem__(i, out.detach())) for i in model.routing_layers]
    model(x, pos, doc_causal_mask(doc), routing=False)
    for h in hooks:
        h.remove()
    for i in model.routing_layers:
        r = model.model.layers[i].router
        z = zs[i].reshape(-1, zs[i].shape[-1])
        mdir = z.mean(0)
        mdir = mdir / mdir.norm()
        proj = z @ mdir
        # other rows give N(0, 1) features (tanh in its linear range: token-dependent, trainable);
        # row 0 gives |u0| ~ 3 on average, so after RMSNorm_r tanh(u0) is ~+0.98 for tokens with z·mean > 0
        r.router_enc.weight.normal_(0, 1.0 / float(z.norm(dim=-1).mean()))
        r.router_enc.weight[0] = mdir * (3.0 / float(proj.abs().mean()))
        d = r.router_dec.weight.shape[0]
        e = torch.randn(d, device=dev)
        e = e / e.norm()
        r.router_dec.weight.normal_(0, 0.02)
        r.router_dec.weight[:, 0] = e
        r.router_head.weight[0] = e * logit0
        g = torch.sigmoid(r(z))
        if run:
            run.log(f"router init layer {i}: z·mean>0 for {float((proj > 0).float().mean()):.3f} of tokens, "
                    f"g>0.5 for {float((g > 0.5).float().mean()):.3f}, mean g {float(g.mean()):.3f}")


def flexidepth_mix(preset):
    """The routers learn on the data mix the base model ended its pre-training with."""
    pre = preset["pretrain"]
    return scheduled(pre.get("mix_schedule", []), pre["steps"] - 1, pre["mix"])


def flexidepth_monitor(run, model, tok, corp, cfg, tag, default_n):
    """Validation exact match and routed usage during router training (training-distribution items, never
    evaluation items). With monitor_seed the items are the same at every check, so the logged mean usage
    shows when routed usage stops falling; without it each check draws new items (the reference preset)."""
    n = cfg.get("monitor_items", default_n)
    tasks = tuple(cfg.get("monitor_tasks", ("addition", "repetition")))
    seed = cfg.get("monitor_seed")

    def monitor(step):
        t = time.time()
        r = task_accuracy(model, tok, corp, n, seed=99 + step if seed is None else seed, routing=True, tasks=tasks)
        usage = sum(v[1] for v in r.values()) / len(r)
        run.log(f"flexidepth {tag}: monitor step {step} " + " ".join(f"{k} {v[0]:.3f}/usage {v[1]:.3f}" for k, v in r.items())
                + f" mean usage {usage:.3f} ({time.time() - t:.0f}s)")
        run.metric(stage=f"flexidepth-{tag}-monitor", step=step, usage=usage,
                   **{f"{k}_acc": v[0] for k, v in r.items()}, **{f"{k}_usage": v[1] for k, v in r.items()})

    return monitor


def stage_flexidepth(run, preset, tok, corp, device):
    out = run.p("flexidepth.pt")
    if os.path.exists(out):
        return
    base = torch.load(run.p("base.pt"), map_location="cpu")
    cfg = preset["flexidepth"]
    sel_n = preset["select_items"]
    # the base model's validation accuracy is the reference for retention
    full = CausalLM(base["config"])
    full.load_state_dict(base["model"])
    full.to(device)
    ref_path = run.p("select_full.json")
    if os.path.exists(ref_path):
        ref = json.load(open(ref_path))
    else:
        ref = {k: v[0] for k, v in task_accuracy(full, tok, corp, sel_n, seed=4242, routing=False).items()}
        json.dump(ref, open(ref_path, "w"))
    run.log("flexidepth: full-depth validation accuracy", ref)
    if base.get("source_summary", {}).get("select_full"):  # same base and items: a change means the generators changed
        run.log("flexidepth: the source checkpoint's run had", base["source_summary"]["select_full"])
    results = []
    for alpha in cfg["alphas"]:
        tag = f"alpha{alpha:g}"
        done_path = run.p(f"flexidepth_{tag}.pt")
        if not os.path.exists(done_path):
            packer = Packer(tok, corp, flexidepth_mix(preset), preset["seq_len"], seed=2)
            model = flexidepth_model(preset, tok, base, packer, run, logit0=cfg.get("router_init", 2.0), device=device)
            for layer in model.model.layers:
                if layer.routed:
                    layer.gate_estimator = cfg.get("gate_estimator")
            params = flexidepth_params(model)
            run.log(f"flexidepth {tag}: {sum(p.numel() for p in params)} trainable parameters, routed layers {model.routing_layers}")

            monitor = flexidepth_monitor(run, model, tok, corp, cfg, tag, 16 if sel_n >= 40 else 4)
            ema = train_loop(run, model, params, packer, Stage(f"flexidepth-{tag}", cfg, run.p(f"flexidepth_{tag}_ckpt.pt"),
                                                               preset["ckpt_minutes"], alpha=alpha, monitor=monitor))
            r = task_accuracy(model, tok, corp, sel_n, seed=4242, routing=True)
            torch.save({"config": model.config, "model": model.state_dict(), "alpha": alpha, "final_lm_ema": ema,
                        "gate_estimator": cfg.get("gate_estimator"), "pretrain_steps": preset["pretrain"]["steps"],
                        "select": {k: list(v) for k, v in r.items()}}, done_path)
        d = torch.load(done_path, map_location="cpu")
        r = d["select"]
        usage = sum(v[1] for v in r.values()) / len(r)
        # per-task retention in correct counts, add-one smoothed (validation sets are small)
        retention = min((r[k][0] * sel_n + 1) / (ref[k] * sel_n + 1) for k in r)
        run.log(f"flexidepth {tag}: validation " + " ".join(f"{k} {v[0]:.3f}/usage {v[1]:.3f}" for k, v in r.items())
                + f" min retention {retention:.3f} mean routed usage {usage:.3f}")
        results.append((alpha, retention, usage))
    # keep the alpha that skips most while keeping >= 95% of the full model on every task
    ok = [r for r in results if r[1] >= 0.95]
    best = min(ok, key=lambda r: r[2]) if ok else max(results, key=lambda r: r[1])
    run.log(f"flexidepth: sweep {results}; chosen alpha {best[0]:g}")
    d = torch.load(run.p(f"flexidepth_alpha{best[0]:g}.pt"), map_location="cpu")
    d["sweep"] = [dict(alpha=a, min_retention=r, routed_usage=u) for a, r, u in results]
    d["select_full"] = ref
    torch.save(d, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="reference", choices=sorted(PRESETS))
    ap.add_argument("--run", required=True, help="run directory (checkpoints, logs)")
    ap.add_argument("--out", help="export directory for the FlexiDepth checkpoint (Hugging Face layout)")
    ap.add_argument("--base-out", help="optional export directory for the plain base model (model_type llama)")
    ap.add_argument("--kjv", default=None, help="KJV text dump; default: RUN/kjv.txt made with Debian's `bible` if installed")
    ap.add_argument("--base-from", metavar="DIR", help="exported checkpoint whose tokenizer and base weights replace "
                    "the tokenizer and pre-training stages (only routers/adapters are trained)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="torch device for training and evaluation, e.g. cuda (the CPU path is the reference)")
    ap.add_argument("--stop-after", choices=["tokenizer", "pretrain", "flexidepth", "export", "evaluate"], default="evaluate")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    preset = PRESETS[args.preset]
    run = Run(args.run)
    run.log(f"=== train.py --preset {args.preset} --run {args.run} pid {os.getpid()}")
    kjv = args.kjv or run.p("kjv.txt")
    if not os.path.exists(kjv):
        if shutil.which("bible"):
            with open(kjv + ".tmp", "w") as f:
                subprocess.run(["bible", "-l10000", "gen1:1-rev22:21"], stdout=f, check=True)
            os.replace(kjv + ".tmp", kjv)
        else:
            run.log("bible-kjv not installed: training without the KJV text")
            kjv = None
    if args.base_from:
        stage_base_from(run, preset, args.base_from)
    tok = stage_tokenizer(run, preset, kjv)
    if args.stop_after == "tokenizer":
        return
    corp = Corpora(kjv)
    pool = build_text_pool(tok, corp, run.p("text_pool.npz"))
    run.log("text pool:", {k: int(v[1][-1]) for k, v in pool.items()}, "tokens")
    corp.pool = pool
    Packer.default_pool = pool
    stage_pretrain(run, preset, tok, corp, pool, args.device)
    if args.stop_after == "pretrain":
        return
    stage_flexidepth(run, preset, tok, corp, args.device)
    if args.stop_after == "flexidepth":
        return
    if args.out:
        export_run(run, args.out, args.base_out)
    if args.stop_after == "export" or not args.out:
        return
    # the held-out evaluation is the harness's (flexibench run + report), with the layer need and the model card
    run.log(f"evaluation: run training/train_reference.sh --card-only {args.out} (RUN={args.run})")


if __name__ == "__main__":
    main()
