"""Shared scorer machinery: entry points, the no-torch guard, the bootstrap helper."""

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from qa_eval.scoring.base import Scorer, bootstrap_sums, ratio_ci

ROOT = Path(__file__).resolve().parents[2]
SCORER_MODULES = ["wer", "bleu", "caption", "exact", "nsynth", "aas", "text", "base"]
# What `qa-eval score` imports besides the scorers.
SCORE_PATH_MODULES = ["qa_eval.store", "qa_eval.metrics", "qa_eval.report", "qa_eval.compare", "qa_eval.leaderboard"]


def _entry_points():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return meta["project"]["entry-points"]["qa_eval.scorers"]


@pytest.mark.parametrize("name,target", sorted(_entry_points().items()))
def test_entry_point_resolves_to_named_scorer(name, target):
    module, attr = target.split(":")
    scorer = getattr(importlib.import_module(module), attr)
    assert isinstance(scorer, Scorer)
    # wer-normalized is at version 2 since it reproduces the official Qwen2-Audio code (issue 12)
    assert scorer.name == name and scorer.version == ("2" if name == "wer-normalized" else "1")
    assert scorer.intervals is not None and scorer.higher_is_better
    assert isinstance(scorer.info(), dict)


def test_scoring_never_imports_torch():
    code = (
        "import sys\n"
        + "".join(f"import qa_eval.scoring.{m}\n" for m in SCORER_MODULES)
        + "".join(f"import {m}\n" for m in SCORE_PATH_MODULES)
        + "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize("n_distinct", [3, 10_000])
def test_bootstrap_sums_both_paths(n_distinct):
    """Few distinct rows -> exact multinomial path; many -> index path. Either way each
    resample sums n rows, the mean over resamples is close to the full sum, and a seed fixes it."""
    rng = np.random.default_rng(0)
    n = 10_000
    stats = np.stack([rng.integers(0, n_distinct, n), np.ones(n)], axis=1)
    sums = bootstrap_sums(stats, seed=7, n_resamples=200)
    assert sums.shape == (200, 2)
    assert np.all(sums[:, 1] == n)
    assert sums[:, 0].mean() == pytest.approx(stats[:, 0].sum(), rel=0.01)
    assert np.array_equal(sums, bootstrap_sums(stats, seed=7, n_resamples=200))
    lo, hi = ratio_ci(sums)
    assert lo < stats[:, 0].mean() < hi
