#!/usr/bin/env bash
# Every GPU check of qa-eval in one run, logs and JSON in one folder ($OUT):
#   env.json          torch / CUDA / driver / GPU
#   pytest_gpu.log    pytest -m gpu (CUDA parity with the fixture, greedy ids, compiled step, memory estimate)
#   bench.json        engine, engine --compile, transformers batched at --shape (+ bench_single.json: one at a time)
#   e2e.json          qa-eval bench --end-to-end --clips $CLIPS --batch-size auto (test-clean's shape)
#   oom.json          a forced out-of-memory: back-off learnt, nothing lost; OutOfMemoryAtBatchSizeOne at one row
#   torchrun.json     torchrun --nproc-per-node 2 on the same device == one process
#   steps.jsonl       each step's exit code and seconds;  summary.json at the end
# On the H200 (no package index there: carry the wheels of `make gpu-wheels` in .whl):
#   bash scripts/gpu_check.sh                                   (cuda, bfloat16, full shape; about 8 min)
# Dry run on a CPU (what the test suite runs, so the script cannot rot):
#   DEVICE=cpu SHAPE=tiny CLIPS=12 BENCH_CLIPS=4 BATCH=2 OUT=/tmp/gc bash scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda}
SHAPE=${SHAPE:-full}
CLIPS=${CLIPS:-2620}
BENCH_CLIPS=${BENCH_CLIPS:-256}
BATCH=${BATCH:-64}
OUT=${OUT:-gpu-check}
PY=${PY:-python3}
WORK=${WORK:-/tmp/qa-eval-gpu-check}
if [ "$DEVICE" = cpu ]; then DTYPE=${DTYPE:-float32}; else DTYPE=${DTYPE:-bfloat16}; fi
mkdir -p "$OUT" "$WORK"
OUT=$(cd "$OUT" && pwd)
: > "$OUT/steps.jsonl"

# qa-eval and the few wheels its GPU path needs, where no package index is reachable
if ! $PY -c "import importlib.metadata as m; m.version('qa-eval')" 2>/dev/null; then
  if [ -d .whl ]; then $PY -m pip install -q --no-index --no-deps --target "$WORK/site" .whl/*.whl; fi
  $PY -m pip install -q --no-index --no-deps --no-build-isolation --target "$WORK/site" . || exit 1
  export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1

step() {  # step NAME COMMAND...: run, log to $OUT/NAME.log, record the exit code and seconds
  local name=$1; shift
  local start=$SECONDS
  echo "== $name: $*"
  "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $((SECONDS - start))}" | tee -a "$OUT/steps.jsonl"
}

step env $PY -c "
import json, platform, subprocess, torch
info = {'python': platform.python_version(), 'torch': torch.__version__, 'cuda': torch.version.cuda,
        'gpus': [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}
try:
    info['driver'] = subprocess.run(['nvidia-smi', '--query-gpu=driver_version,memory.total', '--format=csv,noheader'],
                                    capture_output=True, text=True).stdout.strip()
except OSError:
    info['driver'] = None
json.dump(info, open('$OUT/env.json', 'w'), indent=2)
print(info)"
step pytest_gpu $PY -m pytest -q -m gpu -p no:cacheprovider tests/model_adapters/qwen_audio/test_cuda.py
step bench $PY -m qa_eval bench --random-weights --shape "$SHAPE" --device "$DEVICE" --dtype "$DTYPE" \
  --modes engine,engine-compiled,hf-batched --clips "$BENCH_CLIPS" --batch-size "$BATCH" --new-tokens 32 \
  --out "$OUT/bench.json"
step bench_single $PY -m qa_eval bench --random-weights --shape "$SHAPE" --device "$DEVICE" --dtype "$DTYPE" \
  --modes hf-single --clips 8 --batch-size 8 --new-tokens 32 --ref-clips 0 --out "$OUT/bench_single.json"
step e2e $PY -m qa_eval bench --random-weights --end-to-end --shape "$SHAPE" --clips "$CLIPS" --batch-size auto \
  --new-tokens 32 --device "$DEVICE" --dtype "$DTYPE" --workdir "$WORK/bench" --out "$OUT/e2e.json"
step oom $PY -m model_adapters.testing.oom --shape "$SHAPE" --device "$DEVICE" --dtype "$DTYPE" \
  --workdir "$WORK/bench" --out "$OUT/oom.json"
CKPT="$WORK/bench/checkpoint-$SHAPE-$DTYPE-0"
MANIFEST="$WORK/bench/audio-$CLIPS-0/manifest.jsonl"
RUN_ARGS=(run --task librispeech --model qwen-audio --checkpoint "$CKPT" --manifest "$MANIFEST" --limit 64
          --max-new-tokens 16 --device "$DEVICE" --dtype "$DTYPE" --batch-size 8 --no-leaderboard --no-progress
          --results "$WORK/runs")
step run_one $PY -m qa_eval "${RUN_ARGS[@]}" --out "$WORK/runs/one"
step run_torchrun $PY -m qa_eval "${RUN_ARGS[@]}" --out "$WORK/runs/two" --launcher torchrun --nproc-per-node 2
step torchrun_compare $PY -c "
import json
rows = lambda p: [(r['id'], r['prediction']) for r in map(json.loads, open(p))]
one, two = rows('$WORK/runs/one/predictions.jsonl'), rows('$WORK/runs/two/predictions.jsonl')
report = {'n': len(one), 'identical': one == two}
json.dump(report, open('$OUT/torchrun.json', 'w'), indent=2)
print(report)
raise SystemExit(0 if one == two and one else 1)"

$PY - "$OUT" <<'PYEOF'
import json, sys
out = sys.argv[1]
steps = [json.loads(line) for line in open(f"{out}/steps.jsonl")]
summary = {"ok": all(s["rc"] == 0 for s in steps), "steps": steps}
json.dump(summary, open(f"{out}/summary.json", "w"), indent=2)
print(json.dumps(summary))
sys.exit(0 if summary["ok"] else 1)
PYEOF
