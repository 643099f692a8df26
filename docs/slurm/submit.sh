#!/usr/bin/env bash
# Submits a sharded `pmf eval` to Slurm: an array of SHARDS tasks (pmf-eval.sbatch, one shard
# and one GPU each) and a merge job (pmf-merge.sbatch) that starts when all of them have
# succeeded (--dependency=afterok:<array job id>). Prints the two job ids, "ARRAY MERGE".
#
#   REF=ref.npz OUT=/shared/run1 docs/slurm/submit.sh
#   MODEL=my-model.onnx N=50000 SHARDS=8 REF=ref.npz OUT=/shared/run2 docs/slurm/submit.sh
#   SLURM_ARGS="--partition=gpu --account=me" ... docs/slurm/submit.sh
#
# Make REF first, once per feature network and data set:
#   pmf eval-ref --net fashion-mnist-classifier --fashion-mnist test --out ref.npz
# Then wait for the merge job (squeue -j MERGE, or sbatch's --wait) and read $OUT/merged.json.
# OUT must be on storage that every node and the merge job see; it holds shard-k.npz, merged.json
# and the jobs' logs (slurm-<job>_<task>.out, slurm-<job>-merge.out).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

export MODEL=${MODEL:-fashion-mnist}       # generator: bundled name or .onnx path
export NET=${NET:-fashion-mnist-classifier} # feature network
export REF=${REF:-}                          # reference statistics (.npz from pmf eval-ref), required
export N=${N:-10000}                         # samples in all
export SEED=${SEED:-0}                       # first noise seed
export OUT=${OUT:-pmf-eval-out}              # state files, merged.json, logs (shared storage)
export PMF=${PMF:-pmf}                       # the command that runs pmf
export PMF_ARGS=${PMF_ARGS:-}                # more `pmf eval` options for every shard
export SHARDS=${SHARDS:-4}                   # array tasks: one shard, one GPU each
GPUS=${GPUS:-1}                              # GPUs per task as a GRES (--gres=gpu:GPUS); 0 on CPU nodes
SLURM_ARGS=${SLURM_ARGS:-}                   # more sbatch options for both jobs (--partition, --account, ...)

[ -n "$REF" ] || { echo "submit.sh: set REF to the reference statistics (pmf eval-ref --net $NET ... --out ref.npz)" >&2; exit 2; }
[ -f "$REF" ] || { echo "submit.sh: REF $REF does not exist" >&2; exit 2; }
[ "$SHARDS" -ge 1 ] 2> /dev/null || { echo "submit.sh: SHARDS must be a positive integer (has: $SHARDS)" >&2; exit 2; }
# The jobs may start in another folder (or on another node): pass absolute paths.
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
REF=$(cd "$(dirname "$REF")" && pwd)/$(basename "$REF")
case "$MODEL" in */*|*.onnx) [ -e "$MODEL" ] && MODEL=$(cd "$(dirname "$MODEL")" && pwd)/$(basename "$MODEL") ;; esac
case "$NET" in */*|*.onnx) [ -e "$NET" ] && NET=$(cd "$(dirname "$NET")" && pwd)/$(basename "$NET") ;; esac

gres=()
[ "$GPUS" != 0 ] && gres=(--gres="gpu:$GPUS")
# --parsable prints "jobid" or "jobid;cluster".
# shellcheck disable=SC2086
array=$(sbatch --parsable --export=ALL --array="1-$SHARDS" "${gres[@]}" $SLURM_ARGS \
  --chdir="$OUT" --output="$OUT/slurm-%A_%a.out" "$HERE/pmf-eval.sbatch")
array=${array%%;*}
# shellcheck disable=SC2086
merge=$(sbatch --parsable --export=ALL --dependency="afterok:$array" --kill-on-invalid-dep=yes $SLURM_ARGS \
  --chdir="$OUT" --output="$OUT/slurm-%j-merge.out" "$HERE/pmf-merge.sbatch")
merge=${merge%%;*}
echo "$array $merge"
