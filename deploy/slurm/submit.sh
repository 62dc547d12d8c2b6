#!/usr/bin/env bash
# Submits a flexibench study to Slurm: an array of N shard tasks (run.sbatch) and a merge job that
# starts once every task has succeeded (merge.sbatch, --dependency=afterok).
#
#   deploy/slurm/submit.sh N [run options...]     e.g. deploy/slurm/submit.sh 8 --suites gsm8k,xsum
#
# RESULTS, FLEXIBENCH_DATA_DIR and FLEXIBENCH (see run.sbatch) pass through to both jobs. Prints
# the two job IDs. If a task fails, the merge job is cancelled (--kill-on-invalid-dep): rerun the
# task (`sbatch --array=I deploy/slurm/run.sbatch [the same run options]`, with the same SHARDS),
# then submit merge.sbatch again.
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${1:-}
if ! [[ "$N" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: deploy/slurm/submit.sh N [run options...]   (N shards, N >= 1)" >&2
  exit 1
fi
shift
export SHARDS=$N

array_job=$(sbatch --parsable --array="0-$((N - 1))" deploy/slurm/run.sbatch "$@")
array_job=${array_job%%;*} # --parsable prints ID or ID;CLUSTER
merge_job=$(sbatch --parsable --dependency="afterok:$array_job" --kill-on-invalid-dep=yes deploy/slurm/merge.sbatch)
merge_job=${merge_job%%;*}
echo "submitted: shards $array_job (array 0-$((N - 1)), SHARDS=$N), merge $merge_job (after all shards succeed)"
echo "results: ${RESULTS:-$PWD/results/slurm}/study.duckdb and report/ once $merge_job is done"
