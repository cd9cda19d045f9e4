"""`two_model_results`: a results folder scored by qa-eval's own scorers (no model needed).

Model "alpha" (LibriSpeech, CoVoST2 in all seven directions, VocalSound; an older LibriSpeech run
beside the newer one) and "beta" (LibriSpeech test-clean with WER > 1, VocalSound), plus files
Table 3 does not know (the committed librispeech-sample baseline and a third-party task), which
must be ignored.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from paper_helpers import BASELINE, REF, covost2, librispeech, vocalsound, write


@pytest.fixture(scope="session")
def two_model_results(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    t = 1_700_000_000.0
    write(root / "alpha" / "librispeech-old", librispeech("alpha", "rev-a", {
        "librispeech_test_clean": "a quick brown fox jumps over a lazy cat"}), t)
    write(root / "alpha" / "librispeech", librispeech("alpha", "rev-a", {
        "librispeech_dev_clean": REF,
        "librispeech_dev_other": "the quick brown fox jumps over the dog",
        "librispeech_test_clean": "the quick brown fox jumped over the lazy dog",
        "librispeech_test_other": "quick brown fox jumps over lazy dog"}), t + 100)
    write(root / "alpha" / "covost2", covost2("alpha", "rev-a"), t + 100)
    write(root / "alpha" / "vocalsound", vocalsound("alpha", "rev-a", right=3, wrong=1), t + 100)
    write(root / "beta" / "librispeech", librispeech("beta", "rev-b", {
        "librispeech_test_clean": " ".join(["uh"] * 25)}), t + 50)
    write(root / "beta" / "vocalsound", vocalsound("beta", "rev-b", right=1, wrong=3), t + 50)
    (root / "baseline").mkdir()
    shutil.copy(BASELINE, root / "baseline" / "metrics.json")
    write(root / "third-party", {"task": "my-plugin-task", "model": "alpha",
                                 "per_source": {"x": {"acc": 0.5, "n": 2, "n_failed": 0}}, "meta": {}}, t)
    return root
