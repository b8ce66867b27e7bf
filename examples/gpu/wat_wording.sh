#!/usr/bin/env bash
# Issue 25's WAT wording model on a lent GPU machine (one H200, its own python3 with torch and
# transformers, no `datasets`, no LODA corpus, no network), as one background job beside others:
#   bash examples/gpu/wat_wording.sh &      (from the repository root; $OUT set by the device tool)
# Needs, carried: .whl (datasets 5.2.0, dill, multiprocess wheels) and .gpu/wat-oeis.jsonl.xz
# (`python -m codegen.data export --config configs/history/wat-small-wording-gpu.yaml --corpus C
#  --recipes wat-oeis --out .gpu/wat-oeis.jsonl.xz`). Writes $OUT/wat.log and $OUT/wat.tar (the
# trained model folder: weights, tokenizer, codegen.json, card, loss plot; no optimizer states).
# WAT_MAX_STEPS / WAT_TIME_LIMIT / WAT_NUM_PROC / WAT_RUN override the sizes (a rehearsal on CPU).
set -u
: "${OUT:?OUT is the folder whose files come back}"
cd "$(dirname "$0")/../.." || exit 1
RUN=${WAT_RUN:-/tmp/wat-small-wording-gpu}
PY=${WAT_PYTHON:-python3}
exec > "${LOGDIR:-$OUT}/wat.log" 2>&1
echo "wat: start $(date -u +%FT%TZ) in $PWD"
export HF_DATASETS_DISABLE_PROGRESS_BARS=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export CODEGEN_CACHE_DIR=${CODEGEN_CACHE_DIR_WAT:-/tmp/wat-cache}
unset CODEGEN_LODA_CORPUS
if ! "$PY" -c "import datasets" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site-wat .whl/*.whl \
    || { echo "wat: installing the wheels failed"; exit 1; }
  export PYTHONPATH=/tmp/site-wat${PYTHONPATH:+:$PYTHONPATH}
fi
if ! "$PY" -c "import wasmtime" 2>/dev/null; then  # training runs no WAT: a stand-in lets languages.wat load
  export PYTHONPATH=$PWD/examples/gpu/stubs${PYTHONPATH:+:$PYTHONPATH}
  echo "wat: wasmtime absent: examples/gpu/stubs/wasmtime stands in (importing works, using it raises)"
fi
"$PY" -c "import datasets, pyarrow, fsspec, torch, transformers; print('wat: datasets', datasets.__version__, 'pyarrow', pyarrow.__version__, 'fsspec', fsspec.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"
nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv,noheader 2>/dev/null
STEPS=()
[ -n "${WAT_MAX_STEPS:-}" ] && STEPS=(--max-steps "$WAT_MAX_STEPS")
started=$(date +%s)
"$PY" -m codegen.train --config configs/history/wat-small-wording-gpu.yaml --data .gpu/wat-oeis.jsonl.xz \
  --output-dir "$RUN" --time-limit "${WAT_TIME_LIMIT:-7}" "${STEPS[@]}" \
  --data.num_proc "${WAT_NUM_PROC:-12}"
status=$?
echo "wat: train exit $status after $(( $(date +%s) - started ))s"
[ -f "$RUN/model.safetensors" ] || { echo "wat: no model in $RUN"; ls -la "$RUN" 2>/dev/null; exit 1; }
# weights over 14 MiB (not this 1.7M-parameter model: 7 MB) go to fp16, so each file comes back
"$PY" - "$RUN" <<'PYEOF'
import os, sys
from pathlib import Path
for path in Path(sys.argv[1]).glob("*.safetensors"):
    if path.stat().st_size > 14 * 2**20:
        import torch
        from safetensors.torch import load_file, save_file
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
        save_file(tensors, str(path), metadata={"format": "pt"})
        print(f"wat: {path.name} -> fp16 ({path.stat().st_size / 2**20:.1f} MiB)")
PYEOF
tar -C "$(dirname "$RUN")" --exclude='checkpoint-*' -cf "$OUT/wat.tar.tmp" "$(basename "$RUN")" && mv "$OUT/wat.tar.tmp" "$OUT/wat.tar"
ls -la "$OUT/wat.tar"; tar -tvf "$OUT/wat.tar" | head -40
if [ "$(stat -c %s "$OUT/wat.tar")" -gt $((15 * 2**20)) ]; then  # the tensorboard logs go first
  tar -C "$(dirname "$RUN")" --exclude='checkpoint-*' --exclude='runs' -cf "$OUT/wat.tar" "$(basename "$RUN")"
  ls -la "$OUT/wat.tar"
fi
echo "wat: done $(date -u +%FT%TZ)"
exit $status
