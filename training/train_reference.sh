#!/usr/bin/env bash
# One command for the whole reference-model training (tokenizer -> base pre-training -> FlexiDepth
# routers/adapters with the base frozen, alpha sweep -> export), then the model card's steps: the
# harness's held-out evaluation (flexibench run + report --json), the base model's layer need per suite
# (layer_need.py, on the harness's items), and the card (model_card.py, which then checks itself).
#
#   training/train_reference.sh                        # full run: training/runs/reference -> models/flexidepth-ref
#   training/train_reference.sh --smoke OUT            # tiny model, a few steps (~1 min): a ddllama checkpoint in OUT
#   training/train_reference.sh --card-only MODEL_DIR  # only the card's steps, for an existing exported model
#
# --card-only writes its study files into RUN (default training/runs/card-<name>) and reads training times
# from RUN/metrics.jsonl when RUN is the model's training run, e.g. for the routers retrained with --base-from:
#   RUN=training/runs/v3 NAME=flexidepth-ref training/train_reference.sh --card-only training/runs/v3/model
# NAME is the model's name in models/ that the card's commands use (default: MODEL_DIR's name).
#
# Needs Debian's python3-torch + libopenblas0-pthread (and python3-regex, python3-numpy), run with
# /usr/bin/python3; bible-kjv-text is used when installed. Rerunning resumes training from the last
# checkpoint; the card's study is run afresh (about 1.5 min). Progress: RUN/log.txt.
# Environment: PYTHON (default /usr/bin/python3), RUN, OUT, NAME, THREADS, FLEXIBENCH_DATA_DIR (default ../shared/datasets).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-2}
DATA_DIR=${FLEXIBENCH_DATA_DIR:-$(cd .. && pwd)/shared/datasets}

# The card's steps for an exported model directory $1, files in run directory $2.
card() {
  local model=$1 run=$2 name=${NAME:-$(basename "$1")}
  mkdir -p "$run"
  # afresh: a study file holding an earlier model's runs is not the card's study of this one
  rm -f "$run/card-study.duckdb" "$run/card-study.duckdb.wal"
  # shellcheck disable=SC2046  # the arguments are words without spaces
  node bin/flexibench.js run --model "$model" $("$PY" -m training.model_card --study-args) \
    --data-dir "$DATA_DIR" --db "$run/card-study.duckdb" > "$run/card-study.txt"
  node bin/flexibench.js report --db "$run/card-study.duckdb" --json > "$run/card-summary.json"
  # shellcheck disable=SC2046
  TORCH_THREADS=$THREADS nice -n 19 "$PY" -m training.layer_need --model "$model" $("$PY" -m training.model_card --need-args) \
    --data-dir "$DATA_DIR" --out "$run/layer_need.json"
  "$PY" -m training.model_card --model "$model" --name "$name" --summary "$run/card-summary.json" \
    --need "$run/layer_need.json" --run "$run"
  "$PY" -m training.model_card --check --model "$model" --name "$name" --summary "$run/card-summary.json" \
    --need "$run/layer_need.json"
  echo "model card: $model/README.md" >&2
}

if [ "${1:-}" = "--smoke" ]; then
  OUT=${2:?usage: train_reference.sh --smoke OUT_DIR}
  RUN=${RUN:-$OUT.run}
  rm -rf "$RUN" "$OUT"
  "$PY" -m training.train --preset smoke --run "$RUN" --out "$OUT" --threads "$THREADS"
  if command -v node >/dev/null && [ -d node_modules/@huggingface/tokenizers ]; then
    node training/check_tokenizer.mjs "$OUT" "$RUN/tokenizer_cases.jsonl"
  fi
  echo "smoke checkpoint: $OUT" >&2
  exit 0
fi
if [ "${1:-}" = "--card-only" ]; then
  MODEL=${2:?usage: train_reference.sh --card-only MODEL_DIR}
  card "$MODEL" "${RUN:-training/runs/card-${NAME:-$(basename "$MODEL")}}"
  exit 0
fi
RUN=${RUN:-training/runs/reference}
OUT=${OUT:-models/flexidepth-ref}
mkdir -p "$RUN"
nice -n 19 "$PY" -m training.train --preset reference --run "$RUN" --out "$OUT" --threads "$THREADS"
if command -v node >/dev/null && [ -d node_modules/@huggingface/tokenizers ]; then
  node training/check_tokenizer.mjs "$OUT" "$RUN/tokenizer_cases.jsonl"
fi
card "$OUT" "$RUN"
