#!/usr/bin/env bash
# Runs deploy/kubernetes/job.yaml from start to end: the datasets into the volume, the shards (an
# Indexed Job), then the merge and the report, each step once the one before it is complete.
#
#   deploy/kubernetes/submit.sh [kubectl options, e.g. --namespace NAME --context NAME]
#
# It only waits: stopping it (Ctrl-C) leaves the running step running; run it again to carry on.
# Running it again is safe: complete Jobs stay complete and a shard resumes its own database (shard
# pods that are running when it is run again are replaced, and resume).
set -euo pipefail
manifest="$(dirname "$0")/job.yaml"
kube=(kubectl "$@")

# Waits until job/$1 is Complete (returns) or Failed (exits 1 with its reason).
wait_for() {
  local job=$1 state
  while :; do
    state=$("${kube[@]}" get job "$job" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}:{.message} {end}')
    case "$state" in
      *Complete:*) return 0 ;;
      *Failed:*)
        echo "submit: job/$job failed: ${state#*Failed:}; see kubectl logs -l job-name=$job" >&2
        exit 1
        ;;
    esac
    sleep 20
  done
}

start() {
  echo "submit: job/$1" >&2
  "${kube[@]}" patch job "$1" --type=merge -p '{"spec":{"suspend":false}}' >/dev/null
  wait_for "$1"
}

"${kube[@]}" apply -f "$manifest"
echo "submit: job/flexibench-data" >&2
wait_for flexibench-data
start flexibench-shards
start flexibench-merge
echo "submit: done; on the volume (claim flexibench): results/study.duckdb, results/report/index.html" >&2
