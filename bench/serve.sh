#!/usr/bin/env bash
# Measures `offramp serve` under load: requests/s, texts/s, latency
# percentiles, mean exit layer and errors (docs/results.md#serving-under-load),
# on loopback under 1, 8 and 64 concurrent clients (closed loop: each sends
# its next request when the last is answered), one MR test sentence per
# request, early exit off (full depth) and on (the policy `offramp calibrate`
# picked on dev: the fastest within 1 point of full depth). The server and
# the load generator share the machine's 2 cores, as they would on a small
# host.
#   OUT       where results go (default: runs/serve)
#   DURATION  seconds per measurement (default 10, after 1 s of warm-up)
#   PORT      (default 18080)
#   PRECISION the server's --precision (default fp32); int8 runs SmoothQuant,
#             calibrated on the first 256 MR training sentences
source "$(dirname "$0")/prepare.sh" serve
D="$OUT/data/mr"
PORT="${PORT:-18080}"
DURATION="${DURATION:-10}"
PRECISION="${PRECISION:-fp32}"
precision=(--precision "$PRECISION")
if [ "$PRECISION" = int8 ]; then
  head -256 "$D/train.tsv" | cut -f2 > "$OUT/smooth-quant.txt"
  precision+=(--smooth-quant "$OUT/smooth-quant.txt")
fi

# The model: the main job's (joint, mean-pooled, 3 epochs) if scripts/demo made it, else trained here.
M="$OUT/mr-model"
if [ ! -f "$M/config.json" ]; then
  if [ -f runs/demo/mr-joint-mean/config.json ]; then cp -r runs/demo/mr-joint-mean "$M"
  else "$BIN" train --model "$MODEL" --task classify --mode joint --head linear --pooling mean --train "$D/train.tsv" \
         --dev "$D/dev.tsv" --epochs 3 --batch-size 32 --max-length 64 --lr 3e-5 --head-lr 3e-5 --out "$M" 2> "$OUT/train.log"
  fi
fi
"$BIN" calibrate --model "$M" --dev "$D/dev.tsv" --test "$D/test.tsv" --max-drop 1.0 > "$OUT/calibrate.txt" 2>&1
grep -E "chose|test" "$OUT/calibrate.txt" >&2 || true

"$BIN" serve --model "$M" --port "$PORT" "${precision[@]}" 2> "$OUT/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  kill -0 $SERVER 2>/dev/null || { echo "offramp serve did not start (port $PORT taken?):" >&2; cat "$OUT/serve.log" >&2; exit 1; }
  curl -sf "http://127.0.0.1:$PORT/health" > /dev/null && break; sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/health" > "$OUT/health.json"
echo "default policy: $(grep -o '"policy":"[^"]*"' "$OUT/health.json")" >&2

"$BIN" loadtest --port "$PORT" --data "$D/test.tsv" --clients 1,8,64 --duration "$DURATION" \
  --policies '"policy":"full";default' | tee "$OUT/load-$PRECISION.md"
curl -sf "http://127.0.0.1:$PORT/metrics" > "$OUT/metrics.txt"
kill -TERM $SERVER; wait $SERVER || true
trap - EXIT
grep -q "stopped" "$OUT/serve.log" && echo "server drained and stopped" >&2
