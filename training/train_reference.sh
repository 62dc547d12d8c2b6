#!/usr/bin/env bash
# One command for the whole reference-model training (tokenizer -> base pre-training -> FlexiDepth
# routers/adapters with the base frozen, alpha sweep -> export -> held-out evaluation -> the base model's
# layer need per suite -> model card).
#
#   training/train_reference.sh                 # full run: training/runs/reference -> models/flexidepth-ref
#   training/train_reference.sh --smoke OUT    # tiny model, a few steps (~1 min): a ddllama checkpoint in OUT
#
# Needs Debian's python3-torch + libopenblas0-pthread (and python3-regex, python3-numpy), run with
# /usr/bin/python3; bible-kjv-text is used when installed. Rerunning resumes from the last checkpoint.
# Progress: RUN/log.txt. Environment: PYTHON (default /usr/bin/python3), RUN, OUT, THREADS.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-2}
if [ "${1:-}" = "--smoke" ]; then
  OUT=${2:?usage: train_reference.sh --smoke OUT_DIR}
  RUN=${RUN:-$OUT.run}
  rm -rf "$RUN" "$OUT"
  "$PY" training/train.py --preset smoke --run "$RUN" --out "$OUT" --threads "$THREADS"
  if command -v node >/dev/null && [ -d node_modules/@huggingface/tokenizers ]; then
    node training/check_tokenizer.mjs "$OUT" "$RUN/tokenizer_cases.jsonl"
  fi
  echo "smoke checkpoint: $OUT" >&2
  exit 0
fi
RUN=${RUN:-training/runs/reference}
OUT=${OUT:-models/flexidepth-ref}
mkdir -p "$RUN"
nice -n 19 "$PY" training/train.py --preset reference --run "$RUN" --out "$OUT" --threads "$THREADS"
if command -v node >/dev/null && [ -d node_modules/@huggingface/tokenizers ]; then
  node training/check_tokenizer.mjs "$OUT" "$RUN/tokenizer_cases.jsonl"
fi
"$PY" training/layer_need.py --model "$OUT" --out "$RUN/layer_need.json"
"$PY" training/model_card.py --run "$RUN" --out "$OUT"
