#!/usr/bin/env bash
# What one lease of one H200 ran (15 minutes of device time in all, start and transfers included):
# issue 28's retrieval model and its control, and issue 25's WAT wording model, trained at once,
# each stopping by its own --time-limit. From the repository root, with carry [".gpu", ".whl"]:
#   bash examples/gpu/session.sh
# Everything comes back in at most 8 files under $OUT: retrieval.tar.NN, control.tar.NN (fp16
# weights, 15 MiB pieces), wat.tar, logs.tar (every job's log and the GPU's load every 20 s).
# SESSION_DEADLINE (seconds, default 540) kills what still runs then, so the packing still happens
# inside the device call's own limit.
set -u
: "${OUT:?OUT is the folder whose files come back}"
cd "$(dirname "$0")/../.." || exit 1
export LOGDIR=/tmp/logs
mkdir -p "$LOGDIR"
{ date -u +%FT%TZ; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc; free -g | head -2; } \
  > "$LOGDIR/session.log" 2>&1
bash examples/gpu/loda_retrieval.sh retrieval configs/history/loda-retrieval.yaml & retrieval=$!
bash examples/gpu/loda_retrieval.sh control configs/history/loda-retrieval-control.yaml & control=$!
bash examples/gpu/wat_wording.sh & wat=$!
(while sleep 20; do echo "$(date -u +%T) $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader)"; done) \
  >> "$LOGDIR/session.log" 2>&1 & sampler=$!
(sleep "${SESSION_DEADLINE:-540}"; echo "session: deadline, stopping what runs" >> "$LOGDIR/session.log"; kill $retrieval $control $wat 2>/dev/null) & guard=$!
wait $retrieval; echo "retrieval exit $?" >> "$LOGDIR/session.log"
wait $control; echo "control exit $?" >> "$LOGDIR/session.log"
wait $wat; echo "wat exit $?" >> "$LOGDIR/session.log"
kill $sampler $guard 2>/dev/null
tar -C "$LOGDIR" -cf "$OUT/logs.tar" .
ls -la "$OUT"; tail -n 4 "$LOGDIR"/*.log
