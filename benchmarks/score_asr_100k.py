"""Benchmark: paper WER (with 1000-resample bootstrap CIs) on 100,000 ASR predictions, one core.

    python benchmarks/score_asr_100k.py [--n 100000] [--check]

Synthetic LibriSpeech-like rows (seeded): 5-40 words from a 5,000-word vocabulary, cased
references with punctuation, predictions wrapped in Qwen-Audio special tokens with ~8 % word
errors, spaces before punctuation, 1 % failed rows. The process is pinned to one CPU and
BLAS/OpenMP threads are set to 1. Reports the time to read predictions.jsonl and the time of
`PAPER_WER.score` (per-source metrics + bootstrap). With --check, exits 1 if scoring takes
10 s or more.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

TARGET_S = 10.0


def _pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"cpu {cpu}"
    return "not pinned (no sched_setaffinity)"


def make_rows(n: int, seed: int = 0) -> list[dict]:
    rnd = random.Random(seed)
    vocab = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9))) for _ in range(5000)]
    rows = []
    for i in range(n):
        words = [rnd.choice(vocab) for _ in range(rnd.randint(5, 40))]
        ref = " ".join(words).capitalize() + rnd.choice([".", "?", "!"])
        hyp = []
        for w in words:
            r = rnd.random()
            if r < 0.05:
                hyp.append(rnd.choice(vocab))  # substitution
            elif r < 0.065:
                continue  # deletion
            else:
                hyp.append(w)
            if r > 0.985:
                hyp.append(rnd.choice(vocab))  # insertion
        text = "<|en|>" + " ".join(hyp) + " ." + "<|endoftext|>"
        failed = rnd.random() < 0.01
        rows.append({
            "id": f"utt{i}", "source": f"librispeech_{['dev_clean', 'test_clean', 'test_other'][i % 3]}",
            "reference": ref, "prediction": None if failed else text,
            "error": "synthetic failure" if failed else None, "lang": "en",
        })
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--check", action="store_true", help=f"fail if scoring takes >= {TARGET_S} s")
    args = ap.parse_args()
    pinned = _pin_one_core()

    from qa_eval.store import read_predictions
    from qa_eval.scoring.wer import PAPER_WER

    rows = make_rows(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "predictions.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        t0 = time.perf_counter()
        preds = read_predictions(path)
        t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    metrics = PAPER_WER.score(preds, seed=0, bootstrap=True)
    t_score = time.perf_counter() - t0

    print(f"rows: {len(preds)}  ({pinned})")
    print(f"read predictions.jsonl: {t_read:.2f} s")
    print(f"PAPER_WER.score (3 sources, 1000-resample bootstrap): {t_score:.2f} s  (target < {TARGET_S:.0f} s)")
    for source, m in metrics.items():
        lo, hi = m.ci95["wer"]
        print(f"  {source}: wer {m.values['wer']:.4f} [{lo:.4f}, {hi:.4f}]  n {m.n}  n_failed {m.n_failed}")
    return 1 if args.check and t_score >= TARGET_S else 0


if __name__ == "__main__":
    sys.exit(main())
