#!/usr/bin/env bash
# Issue 28 on a lent GPU machine (one H200, its own python3 with torch and transformers, no
# `datasets`, no LODA corpus, no network): one LODA training job of the retrieval comparison,
# as a background job beside the others:
#   bash examples/gpu/loda_retrieval.sh retrieval configs/history/loda-retrieval.yaml &
#   bash examples/gpu/loda_retrieval.sh control configs/history/loda-retrieval-control.yaml &
# Needs, carried: .whl (datasets, dill, multiprocess wheels), .gpu/loda.jsonl.xz
# (`python -m codegen.data export --config configs/history/loda-retrieval.yaml --training-only
#  --out .gpu/loda.jsonl.xz`) and .gpu/references-*.json.gz (the retrieval references that
# export's rows get, from ~/.cache/codegen/data: chosen here, so the GPU's minutes train).
# Writes $OUT/JOB.log and $OUT/JOB.tar.00, .01 (the model folder, weights in fp16, split in
# 15 MiB pieces: `cat JOB.tar.* | tar -x`). LODA_MAX_STEPS / LODA_TIME_LIMIT / LODA_NUM_PROC /
# LODA_BATCH override the sizes (a rehearsal on CPU); LODA_EXTRA adds training options (a second
# segment: --model.pretrained DIR --training.learning_rate LR ...).
set -u
: "${OUT:?OUT is the folder whose files come back}"
JOB=$1 CONFIG=$2
cd "$(dirname "$0")/../.." || exit 1
RUN=/tmp/loda-$JOB
PY=${LODA_PYTHON:-python3}
exec > "${LOGDIR:-$OUT}/$JOB.log" 2>&1
echo "$JOB: start $(date -u +%FT%TZ) in $PWD"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export CODEGEN_CACHE_DIR=/tmp/cache-$JOB
unset CODEGEN_LODA_CORPUS
mkdir -p "$CODEGEN_CACHE_DIR/data" && cp .gpu/references-*.json.gz "$CODEGEN_CACHE_DIR/data/" 2>/dev/null
if ! "$PY" -c "import datasets" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "/tmp/site-$JOB" .whl/*.whl \
    || { echo "$JOB: installing the wheels failed"; exit 1; }
  export PYTHONPATH=/tmp/site-$JOB${PYTHONPATH:+:$PYTHONPATH}
fi
"$PY" -c "import datasets, torch, transformers; print('$JOB: datasets', datasets.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"
STEPS=()
[ -n "${LODA_MAX_STEPS:-}" ] && STEPS=(--max-steps "$LODA_MAX_STEPS")
[ -n "${LODA_BATCH:-}" ] && STEPS+=(--training.per_device_train_batch_size "$LODA_BATCH")
# shellcheck disable=SC2206
[ -n "${LODA_EXTRA:-}" ] && STEPS+=($LODA_EXTRA)
started=$(date +%s)
"$PY" -m codegen.train --config "$CONFIG" --data .gpu/loda.jsonl.xz --output-dir "$RUN" \
  --time-limit "${LODA_TIME_LIMIT:-7.5}" "${STEPS[@]}" --data.num_proc "${LODA_NUM_PROC:-6}"
status=$?
echo "$JOB: train exit $status after $(( $(date +%s) - started ))s"
[ -f "$RUN/model.safetensors" ] || { echo "$JOB: no model in $RUN"; ls -la "$RUN" 2>/dev/null; exit 1; }
"$PY" - "$RUN" <<'PYEOF'
import sys
from pathlib import Path
from safetensors.torch import load_file, save_file
for path in Path(sys.argv[1]).glob("*.safetensors"):
    tensors = {k: v.half() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    save_file(tensors, str(path), metadata={"format": "pt"})
    print(f"{path.name} -> fp16 ({path.stat().st_size / 2**20:.1f} MiB)")
PYEOF
tar -C "$(dirname "$RUN")" --exclude='checkpoint-*' --exclude='runs' -cf "/tmp/$JOB.tar" "$(basename "$RUN")"
split -b 15M -d "/tmp/$JOB.tar" "$OUT/$JOB.tar."
ls -la "$OUT"/"$JOB".tar.*; tar -tvf "/tmp/$JOB.tar"
echo "$JOB: done $(date -u +%FT%TZ)"
exit $status
