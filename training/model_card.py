"""Writes MODEL/README.md (the model card), or checks a card's measured tables against a summary.

    # the card's evaluation: the harness, then the base model's layer need (training/train_reference.sh --card-only)
    node bin/flexibench.js run --model MODEL $(/usr/bin/python3 -m training.model_card --study-args) --db RUN/card-study.duckdb
    node bin/flexibench.js report --db RUN/card-study.duckdb --json > RUN/card-summary.json
    /usr/bin/python3 -m training.layer_need --model MODEL $(/usr/bin/python3 -m training.model_card --need-args) --out RUN/layer_need.json
    # the card
    /usr/bin/python3 -m training.model_card --model MODEL --summary RUN/card-summary.json --need RUN/layer_need.json [--run RUN]
    # check: regenerate the card's tables from a summary (and a layer-need JSON) and compare; exit 1 with a diff
    /usr/bin/python3 -m training.model_card --check --model MODEL --summary SUMMARY.json [--need NEED.json]

Reads JSON only (no torch): the summary of `flexibench report --json`, layer_need.py's output, the model's
config.json and training_summary.json (alpha sweep; `base_from` when the routers were retrained on an
existing checkpoint's base), train.py's presets (read from its source), and RUN/metrics.jsonl for training
times. A stage whose time is not in RUN (or no RUN) keeps the time the previous card states: the source
checkpoint's card for the pre-training of a `base_from` model, else this model's own card.
"""
import argparse
import ast
import difflib
import hashlib
import json
import os
import re
import sys
from datetime import datetime

from .card_tables import BLOCKS, Study, extract, harness_block, need_args, need_block, study_args, wrap

HERE = os.path.dirname(os.path.abspath(__file__))

TASK_NAMES = {"addition": "addition", "product": "product", "repetition": "repetition", "copy": "copy",
              "copy_shuffled": "shuffled copy", "copy_rare": "made-up-word copy", "continue": "continue-writing",
              "summary": "summary"}


def read_presets():
    """train.py's PRESETS without importing train.py (which needs torch): its top-level statements that
    build PRESETS, evaluated on their own. They are plain dict literals and dict() calls."""
    tree = ast.parse(open(os.path.join(HERE, "train.py")).read())
    env = {"dict": dict}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                (isinstance(t, ast.Name) and t.id == "PRESETS") or
                (isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == "PRESETS")
                for t in node.targets):
            exec(compile(ast.Module(body=[node], type_ignores=[]), "train.py", "exec"), env)
    return env["PRESETS"]


def model_hash(model_dir):
    """The harness's checkpoint content hash (src/model/checkpoint.ts hashCheckpointFiles), so a card is
    never written from a summary of other weights."""
    h = hashlib.sha256()
    names = sorted(f for f in os.listdir(model_dir)
                   if f == "config.json" or f.endswith(".safetensors") or f == "model.safetensors.index.json")
    for f in names:
        path = os.path.join(model_dir, f)
        h.update(f"{f}\0{os.path.getsize(path)}\0".encode())
        with open(path, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()


# ---------------------------------------------------------------- training times

def stage_seconds(metrics, prefix):
    ts = [m["time"] for m in metrics if m.get("stage", "").startswith(prefix)]
    total = 0.0
    for a, b in zip(ts, ts[1:]):
        if b - a < 600:  # gaps longer than 10 minutes are pauses between resumed sessions
            total += b - a
    return total


def median_step_seconds(metrics, stage):
    """Median seconds per step between consecutive progress lines (robust to pauses and shared-CPU spells)."""
    m = [x for x in metrics if x.get("stage") == stage]
    v = sorted((b["time"] - a["time"]) / (b["step"] - a["step"]) for a, b in zip(m, m[1:])
               if 0 < b["step"] - a["step"] <= 10 and b["time"] - a["time"] < 600)
    return v[len(v) // 2] if v else float("nan")


def previous_time(card_path, stage):
    """The time cell of a stage's row in an earlier card's training table, or None."""
    if not card_path or not os.path.exists(card_path):
        return None
    for line in open(card_path, encoding="utf-8"):
        if line.startswith(f"| {stage} |"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            return cells[2] if len(cells) > 2 else None
    return None


def hours_of(cell):
    m = re.match(r"([\d.]+) h", cell or "")
    return float(m.group(1)) if m else None


def training_times(run_dir, pretrain_steps, own_card, source_card):
    """(pre-training cell, FlexiDepth cell, hours of each or None), from RUN/metrics.jsonl where it has the
    stage, else from the earlier card (see the module docstring)."""
    path = os.path.join(run_dir, "metrics.jsonl") if run_dir else None
    metrics = [json.loads(l) for l in open(path)] if path and os.path.exists(path) else []
    pre = [m for m in metrics if m.get("stage", "").startswith("pretrain")]
    if pre:
        pre_s, step = stage_seconds(metrics, "pretrain"), median_step_seconds(metrics, "pretrain")
        pre_cell = (f"{pre_s / 3600:.2f} h (as run, on a machine shared with other work at times; median {step:.2f} s/step, "
                    f"i.e. {pretrain_steps * step / 3600:.2f} h at that rate)")
    else:
        pre_cell = previous_time(source_card or own_card, "pre-training") or "not recorded"
    # metrics.jsonl is appended across resumed runs: the committed sweep is what ran after pre-training ended
    pre_end = max((m["time"] for m in pre), default=0)
    fd = [m for m in metrics if m["time"] > pre_end]
    if any(m.get("stage", "").startswith("flexidepth") for m in fd):
        fd_cell = f"{stage_seconds(fd, 'flexidepth') / 3600:.2f} h (whole sweep)"
    else:
        fd_cell = (previous_time(own_card, "FlexiDepth") if source_card is None else None) or "not recorded (no RUN/metrics.jsonl)"
    return pre_cell, fd_cell


def study_minutes(summary):
    runs = summary["study"]["runs"]
    t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()  # noqa: E731
    if any(r["ended_at"] is None for r in runs):
        return None
    return (max(t(r["ended_at"]) for r in runs) - min(t(r["started_at"]) for r in runs)) / 60


# ---------------------------------------------------------------- the card's sections

def curriculum_rows(pretrain):
    """One table row per data-mix phase of a preset's pre-training."""
    phases = [(0, pretrain["mix"])] + list(pretrain.get("mix_schedule", []))
    rows = []
    for i, (start, mix) in enumerate(phases):
        end = phases[i + 1][0] - 1 if i + 1 < len(phases) else pretrain["steps"] - 1
        tasks = {k: v for k, v in mix.items() if k != "text"}
        total = sum(tasks.values())
        shares = ", ".join(f"{TASK_NAMES[k]} {100 * v / total:.{0 if v >= 0.01 * total else 1}f}%" for k, v in sorted(tasks.items(), key=lambda kv: -kv[1]))
        rows.append(f"| {start}-{end} | {100 * mix.get('text', 0):.0f}% | {shares} |")
    return "\n".join(rows)


def parameter_counts(cfg):
    d, m, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    hd, nh, nkv, V = cfg["head_dim"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["vocab_size"]
    R = len(cfg["routing_layers"])
    base = V * d + L * (d * nh * hd + 2 * d * nkv * hd + nh * hd * d + 3 * d * m + 2 * d) + d
    flexidepth = R * (2 * d * (d // 16) + (d // 16) + d + 3 * d * (m // 16))
    return base, flexidepth


def sweep_section(summ):
    sweep_rows = summ.get("sweep") or []
    sweep = "\n".join(f"| {s['alpha']:g} | {s['min_retention']:.3f} | {s['routed_usage']:.3f} |" for s in sweep_rows)
    met = [s for s in sweep_rows if s["min_retention"] >= 0.95]
    reason = ("the most skipping with >= 95% validation retention on every task" if met else
              "no alpha kept >= 95% on every task; the one with the best minimum retention")
    src = summ.get("base_from")
    source = ""
    if src:
        source = (f"\n\nThe source checkpoint's own routers (replaced here) had alpha {src.get('alpha'):g}; its sweep: "
                  + ", ".join(f"{s['alpha']:g} -> min retention {s['min_retention']:.3f}, usage {s['routed_usage']:.3f}"
                              for s in src.get("sweep") or []) + ".")
    return f"""Alpha sweep (validation items from the training distribution; min retention over repetition, copy,
addition, product; usage = share of routed-layer decisions taking the full path):

| alpha | min retention | routed usage |
|---|---|---|
{sweep}

Chosen alpha: **{summ['alpha']:g}** ({reason}).{source}"""


def convergence_section(run_dir, every=300):
    """Validation routed usage along each alpha's training (train.py's monitor: the same items at every check),
    which shows whether the router stage ran until usage stopped falling. Empty without the run's metrics."""
    path = os.path.join(run_dir, "metrics.jsonl") if run_dir else None
    if not path or not os.path.exists(path):
        return ""
    by_alpha = {}
    for m in map(json.loads, open(path)):
        stage = m.get("stage", "")
        if stage.startswith("flexidepth-alpha") and stage.endswith("-monitor") and m["step"] % every == 0:
            by_alpha.setdefault(stage[len("flexidepth-alpha"):-len("-monitor")], {})[m["step"]] = m["usage"]
    if not by_alpha:
        return ""
    steps = sorted({s for v in by_alpha.values() for s in v})
    rows = "\n".join(f"| {a} | " + " | ".join(f"{v[s]:.3f}" if s in v else "-" for s in steps) + " |" for a, v in sorted(by_alpha.items(), key=lambda kv: float(kv[0])))
    tail = steps[-3:]
    late = max((v[tail[0]] - v[tail[-1]] for v in by_alpha.values() if tail[0] in v and tail[-1] in v), default=None)
    settled = f"; over its last {tail[-1] - tail[0]} steps it fell by at most {late:.3f}" if late is not None and len(tail) == 3 else ""
    return f"""

Validation routed usage during training (mean over repetition, copy, addition and product on the same
48 training-distribution items per task at every check), by step{settled}:

| alpha | {" | ".join(str(s) for s in steps)} |
|---|{"---|" * len(steps)}
{rows}"""


def pipeline_line(pre_cell, fd_cell, summary, need):
    parts = []
    for what, cell in (("pre-training", pre_cell), ("router/adapter sweep", fd_cell)):
        h = hours_of(cell)
        parts.append(f"{what} {h:.2f} h" if h is not None else f"{what} not recorded")
    study = study_minutes(summary)
    parts.append(f"card study (`flexibench run`, both variants) {study:.1f} min" if study is not None else "card study not timed")
    if need and need.get("seconds") is not None:
        parts.append(f"layer need (`layer_need.py`) {need['seconds'] / 60:.1f} min")
    hours = [hours_of(pre_cell), hours_of(fd_cell)]
    total = ""
    if None not in hours and study is not None and need and need.get("seconds") is not None:
        total = f"; in all about {sum(hours) + study / 60 + need['seconds'] / 3600:.1f} h"
    return ("The whole reference pipeline's time on this machine (2 CPU cores, shared with other work at times): "
            + ", ".join(parts) + total + " (times vary with the load; none is in the checked tables).")


def write_card(args):
    presets = read_presets()
    cfg = json.load(open(os.path.join(args.model, "config.json")))
    summ = json.load(open(os.path.join(args.model, "training_summary.json")))
    summary = json.load(open(args.summary))
    need = json.load(open(args.need)) if args.need else None
    st = Study(summary)
    if st.model_hash != model_hash(args.model):
        raise SystemExit(f"{args.summary} is a study of other weights ({st.model_hash[:16]}) than {args.model} ({model_hash(args.model)[:16]})")
    base_from = summ.get("base_from")
    preset_name = args.preset or ("reference-v3" if base_from else "reference")
    preset = presets[preset_name]
    pretrain, fd_cfg = preset["pretrain"], preset["flexidepth"]
    (drop_start, drop_p), = pretrain["layer_drop_schedule"]
    own_card = os.path.join(args.model, "README.md")
    source_card = os.path.join(base_from["path"], "README.md") if base_from else None
    pre_cell, fd_cell = training_times(args.run, summ.get("pretrain_steps", pretrain["steps"]), own_card, source_card)
    size = os.path.getsize(os.path.join(args.model, "model.safetensors"))
    d, m, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    hd, nh, nkv, V = cfg["head_dim"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["vocab_size"]
    base_params, fd_params = parameter_counts(cfg)
    model_path = f"models/{args.name}"
    estimator = (", straight-through gradient of the path choice (`(y_full - y_skip) . dL/dy`, in place of the paper's SparseMixer-style estimator)"
                 if summ.get("gate_estimator") == "straight-through" else "")
    origin = ""
    if base_from:
        origin = (f"\n\nThe routers and adapters of this checkpoint were retrained (`train.py --preset {preset_name} --base-from "
                  f"{base_from['path']}`) on the frozen base of `{base_from['path']}` (its model.safetensors sha256 "
                  f"`{base_from['model_safetensors_sha256'][:16]}...`; the export asserts the base tensors byte-identical), "
                  "so its data, tokenizer and pre-training below are that checkpoint's, and the pre-training time is the "
                  "one its card states.")
    need_section = "" if need is None else f"""

## The base model's layer need

{wrap("layer need", need_block(need, summary, model_path, base_params))}"""
    card = f"""# {args.name}: the flexibench reference FlexiDepth model

A small Llama-architecture language model **pre-trained from scratch on a 2-core CPU** for flexibench,
then given FlexiDepth routers and adapters (arXiv 2503.23798) on its second half of layers with the
base frozen. It is the project's embedded default model and the model the layer-allocation findings
are reproduced on. Reproduce with `training/train_reference.sh` (see training/README.md).

This checkpoint (`model_type: "ddllama"`) contains the frozen base weights, so `--variant full` of it
*is* the base model; no separate base checkpoint is committed.{origin}

## Model

| | |
|---|---|
| architecture | Llama: RMSNorm, RoPE (HF rotate_half, theta {cfg['rope_theta']:g}), GQA, SwiGLU, tied embeddings |
| layers / hidden / intermediate | {L} / {d} / {m} |
| heads / kv heads / head size | {nh} / {nkv} / {hd} |
| vocabulary | {V} (byte-level BPE trained here, every digit its own token) |
| routed layers | {cfg['routing_layers']} (router d/16 = {d // 16}, adapter m/16 = {m // 16}) |
| parameters | {base_params:,} base + {fd_params:,} router/adapter |
| file | model.safetensors, float32, {size / 1e6:.1f} MB |
| training context | {preset['seq_len']} tokens (documents packed, each attending only to itself); `max_position_embeddings` {cfg['max_position_embeddings']} is the RoPE limit, not a trained length |

## Data

Everything built on this machine by `training/data.py`, in the exact suite formats of `tasks/FORMATS.md`:
tinyshakespeare (first 90% only), the KJV Bible (Debian `bible-kjv-text`), GSM8K **train**
(`Question: ...\\nAnswer: ...`), and seeded generators for repetition, copy, addition (1-3 digit operands),
multiplication (mostly 2-digit x 1-digit), continue-writing and lead-style summarization pairs (KJV
passages, the first verse as the "summary": format only). The mix changes with the step (a curriculum,
`training/train.py`'s preset `{preset_name}`, whose comments record why each phase exists): share of {preset['seq_len'] + 1}-token windows
that are plain text only, then the share of task documents by kind in the other windows:

| steps | plain-text windows | task documents |
|---|---|---|
{curriculum_rows(pretrain)}

Sums follow a curriculum of their own over operand lengths (`data.addition_digits`): from step 1993 on,
30% are 3x3-digit and 40% 2x2-digit sums. Shuffled copies copy a passage whose words were
shuffled, made-up-word copies one with about a third of its words replaced by made-up
words (the held-out copy errors were the language prior replacing a rare source word). From step
{drop_start}, stochastic depth on layers {L // 2}-{L - 1}: each of those layers is left out for a token with
p = {drop_p:g} (its K/V still computed, like a FlexiDepth skip). Without it, FlexiDepth on a small
model trained plainly could not go below ~90% routed usage without losing more than 5% on copy or
repetition: every late layer was load-bearing for every token, unlike the redundant late layers of
the large pre-trained models the paper starts from. The routers and adapters are trained on the mix
pre-training ended with.

Task documents are trained on their answer only. Held out by construction: arithmetic evaluation pairs
(`fnv1a32("a,b") % 3 == 0`, in either order) are never trained on; repetition sequences with
`fnv1a32 % 3 == 0` are dropped; copy/continue evaluation passages come from tinyshakespeare's last 10%,
which training never reads; GSM8K test, XSum and CNN/DM are never read. The evaluation items below are
the harness's suites (`tasks/*.yaml`), which draw from exactly those held-out sets.

## Training

| stage | what | time on this machine (2 cores, as run) | final loss |
|---|---|---|---|
| pre-training | all weights, AdamW, warmup + cosine, {summ.get('pretrain_steps', pretrain['steps'])} steps of {pretrain['batch']} x {preset['seq_len']} tokens | {pre_cell} | {summ.get('pretrain_final_lm_ema') or float('nan'):.3f} nats (EMA of the masked LM loss) |
| FlexiDepth | routers + adapters only (base frozen), {fd_cfg['steps']} steps of {fd_cfg['batch']} x {preset['seq_len']} tokens per alpha, `L = L_lm + alpha * L_skip` with soft gates, g / (1-g) scaling, threshold 0.5{estimator}; alpha sweep | {fd_cell} | {summ.get('flexidepth_final_lm_ema') or float('nan'):.3f} nats |

{sweep_section(summ)}{convergence_section(args.run)}

{pipeline_line(pre_cell, fd_cell, summary, need)}

## Held-out evaluation (the harness)

{wrap("harness tables", harness_block(summary, model_path))}{need_section}

## What it cannot do

It is a {base_params / 1e6:.1f}M-parameter model trained for a few CPU hours on a few million tokens.
It writes Shakespeare/KJV-flavoured text of low quality, cannot solve GSM8K problems (expect ~0%),
and cannot summarize news (XSum/CNN-DM ROUGE will be very low: it never saw news, and its
"summaries" are lead-style training pairs only). Its prompts beyond ~128 tokens (GSM8K few-shot,
news articles) are longer than anything it was trained on. GSM8K, XSum and CNN/DM are therefore not in
the card's study; the default study (`node bin/flexibench.js run --data-dir ../shared/datasets`, every
suite, 5 items each) runs them. It is meant for measuring layer allocation and engine correctness, not
for answering anything.
"""
    with open(own_card, "w") as f:
        f.write(card)


def check_card(args):
    """Regenerates the card's measured blocks and compares them with the card's; returns the exit code."""
    card = open(os.path.join(args.model, "README.md"), encoding="utf-8").read()
    summary = json.load(open(args.summary))
    want = {"harness tables": harness_block(summary, f"models/{args.name}")}
    if args.need:
        cfg = json.load(open(os.path.join(args.model, "config.json")))
        want["layer need"] = need_block(json.load(open(args.need)), summary, f"models/{args.name}", parameter_counts(cfg)[0])
    status = 0
    for block in BLOCKS:
        if block not in want:
            continue
        have = extract(card, block)
        if have is None:
            print(f"{args.model}/README.md has no '{block}' block", file=sys.stderr)
            status = 1
        elif have != want[block].strip():
            diff = difflib.unified_diff(have.splitlines(), want[block].strip().splitlines(),
                                        f"{args.model}/README.md ({block})", f"regenerated from {args.summary}", lineterm="")
            print("\n".join(diff))
            status = 1
    if status == 0:
        print(f"ok: {args.model}/README.md: " + ", ".join(want) + f" equal what {args.summary} gives")
    return status


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="the model directory; the card is its README.md")
    ap.add_argument("--summary", help="`flexibench report --json` of the card's study")
    ap.add_argument("--need", help="training/layer_need.py --out of the model")
    ap.add_argument("--run", help="the training run directory (RUN/metrics.jsonl: training times)")
    ap.add_argument("--name", help="the model's name in models/ (default: the model directory's name)")
    ap.add_argument("--preset", help="the train.py preset the routers were trained with (default: reference-v3 "
                    "when training_summary.json has base_from, else reference)")
    ap.add_argument("--check", action="store_true", help="compare the card's measured blocks with the ones "
                    "regenerated from --summary (and --need); exit 1 with a diff when they differ")
    ap.add_argument("--study-args", action="store_true", help="print the card study's `flexibench run` arguments")
    ap.add_argument("--need-args", action="store_true", help="print the card's `layer_need.py` item arguments")
    args = ap.parse_args()
    if args.study_args or args.need_args:
        print(" ".join(study_args() if args.study_args else need_args()))
        return 0
    if not args.model or not args.summary:
        ap.error("--model and --summary are required")
    args.name = args.name or os.path.basename(os.path.normpath(args.model))
    if args.check:
        return check_card(args)
    write_card(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
