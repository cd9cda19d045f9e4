"""Audio captioning (Clotho): CIDEr (CIDEr-D), SPICE and SPIDEr, COCO-caption style.

Official facts (QwenLM/Qwen-Audio `evaluate_caption.py` + `metrics.py`): predictions and the
reference lists go through the COCO PTB tokenizer (Stanford CoreNLP 3.4.1 `PTBTokenizer
-preserveLines -lowerCase`, then the tokens `'' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;`
are dropped; note that with -lowerCase the brackets come out as `-lrb-`/`-rrb-` and so are
kept, as in every COCO evaluation); CIDEr is pycocoevalcap's `Cider` (CIDEr-D: n = 1..4,
sigma 6, clipping, x10), SPICE is `spice-1.0.jar` with `-subset`, SPIDEr = (CIDEr + SPICE) / 2.
`reference` must be a list of captions (multi-reference).

Differences in *how*, not *what*: the PTB tokenizer and SPICE run here in a temporary
directory (the pycocoevalcap wrappers write into their own package folder), all captions go
through one tokenizer call (it is line-by-line, so this is the same), and any line-break
character inside a caption becomes a space (the official code does this for "\\n" only; other
line breaks would shift its line alignment).

SPICE needs Stanford CoreNLP 3.6.0 (`stanford-corenlp-3.6.0.jar` and
`stanford-corenlp-3.6.0-models.jar`), which pycocoevalcap downloads on first use. qa-eval never
downloads: it looks in the scorer option `spice_dir`, then `$QA_EVAL_SPICE_DIR`, then
pycocoevalcap's own `spice/lib`. When they are missing or SPICE fails, `spice` and `spider` are
None, `details["spice_status"]` says why, and a `SpiceUnavailableWarning` names the missing
files - the number is never dropped silently and never invented. CIDEr needs only Java and the
tokenizer jar shipped inside pycocoevalcap; without Java the scorer raises PrerequisiteError.

Statistics: per sample, its CIDEr and SPICE scores from the full-corpus run, and one. CIDEr
is their mean, added pairwise as numpy's mean adds (pycocoevalcap's `np.mean`), so the value is
the official one to the last bit. Bootstrap resamples reuse the per-sample scores (an
approximation for CIDEr: its IDF weights stay those of the full corpus).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import warnings
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from qa_eval.errors import PrerequisiteError, ScorerError
from qa_eval.records import Prediction
from qa_eval.provenance import library_versions
from qa_eval.scoring.base import Metric, SampleStats, Scorer, where

SPICE_ENV = "QA_EVAL_SPICE_DIR"
CORENLP_JARS = ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")
PTB_JAR = "stanford-corenlp-3.4.1.jar"
PTB_DROP = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"]
)
_LINE_BREAKS = str.maketrans({c: " " for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"})
JAVA_HINT = "install a Java runtime (e.g. apt-get install openjdk-17-jre-headless) and put `java` on PATH"


class SpiceUnavailableWarning(UserWarning):
    """SPICE (and so SPIDEr) could not be computed; the metrics are None, see details."""


def _pycocoevalcap_dir() -> Path:
    spec = find_spec("pycocoevalcap")
    if spec is None or not spec.submodule_search_locations:
        raise PrerequisiteError("caption scoring needs pycocoevalcap: pip install pycocoevalcap")
    return Path(list(spec.submodule_search_locations)[0])


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise PrerequisiteError(f"caption scoring (PTB tokenizer, SPICE) needs Java: {JAVA_HINT}")
    return java


def ptb_tokenize(captions: Sequence[str]) -> list[str]:
    """COCO PTB tokenization of each caption (lowercased, punctuation tokens dropped)."""
    jar = _pycocoevalcap_dir() / "tokenizer" / PTB_JAR
    if not jar.is_file():
        raise PrerequisiteError(f"PTB tokenizer jar missing: {jar}; reinstall pycocoevalcap")
    text = "\n".join(c.translate(_LINE_BREAKS) for c in captions)
    with tempfile.TemporaryDirectory(prefix="qa-eval-ptb-") as tmp:
        (Path(tmp) / "captions.txt").write_text(text, encoding="utf-8")
        proc = subprocess.run(
            [_java(), "-cp", str(jar), "edu.stanford.nlp.process.PTBTokenizer",
             "-preserveLines", "-lowerCase", "captions.txt"],
            cwd=tmp, capture_output=True,
        )
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace")[-500:]
        raise PrerequisiteError(f"PTB tokenizer (Java) failed with exit code {proc.returncode}: {tail}")
    lines = proc.stdout.decode("utf-8").split("\n")
    if len(lines) < len(captions):
        raise ScorerError(f"PTB tokenizer returned {len(lines)} lines for {len(captions)} captions")
    return [" ".join(w for w in line.rstrip().split(" ") if w not in PTB_DROP) for line in lines[: len(captions)]]


def spice_classpath(spice_dir: str | None) -> tuple[list[str] | None, str]:
    """(class path, where the CoreNLP jars were found) or (None, why SPICE cannot run)."""
    pkg = _pycocoevalcap_dir() / "spice"
    candidates = [(d, origin) for d, origin in (
        (spice_dir, "option spice_dir"),
        (os.environ.get(SPICE_ENV), f"${SPICE_ENV}"),
        (str(pkg / "lib"), "pycocoevalcap/spice/lib"),
    ) if d]
    spice_jar = pkg / "spice-1.0.jar"
    if not spice_jar.is_file():
        return None, f"spice-1.0.jar missing from {pkg}"
    for d, origin in candidates:
        jars = [Path(d) / j for j in CORENLP_JARS]
        if all(j.is_file() for j in jars):
            cp = [str(spice_jar), str(pkg / "lib" / "*")] + [str(j) for j in jars]
            return cp, f"{d} ({origin})"
    searched = "; ".join(f"{d} ({o})" for d, o in candidates)
    return None, (
        f"Stanford CoreNLP 3.6.0 jars not found ({', '.join(CORENLP_JARS)}); searched: {searched}. "
        f"Put them in a folder and set ${SPICE_ENV} or the scorer option spice_dir"
    )


def run_spice(classpath: list[str], hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> tuple[np.ndarray | None, str]:
    """Per-sample SPICE F-scores, or (None, why not)."""
    data = [{"image_id": i, "test": h, "refs": list(r)} for i, (h, r) in enumerate(zip(hyps, refs))]
    with tempfile.TemporaryDirectory(prefix="qa-eval-spice-") as tmp:
        (Path(tmp) / "input.json").write_text(json.dumps(data), encoding="utf-8")
        proc = subprocess.run(
            [_java(), "-Xmx8G", "-cp", os.pathsep.join(classpath), "edu.anu.spice.SpiceScorer",
             "input.json", "-out", "output.json", "-subset", "-silent"],
            cwd=tmp, capture_output=True,
        )
        if proc.returncode != 0:
            tail = proc.stderr.decode("utf-8", "replace")[-800:]
            return None, f"SPICE (Java) failed with exit code {proc.returncode}: {tail}"
        results = json.loads((Path(tmp) / "output.json").read_text(encoding="utf-8"))
    by_id = {r["image_id"]: r["scores"]["All"]["f"] for r in results}
    scores = np.array([_float(by_id.get(i)) for i in range(len(hyps))])
    n_nan = int(np.isnan(scores).sum())
    if n_nan:
        return None, f"SPICE gave no score for {n_nan} of {len(hyps)} samples"
    return scores, "ok"


def _float(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def corpus_scores(hyps: Sequence[str], refs: Sequence[Sequence[str]], spice_dir: str | None):
    """(per-sample CIDEr, per-sample SPICE or None, SPICE status, where the jars were found)."""
    from pycocoevalcap.cider.cider_scorer import CiderScorer

    sizes = [len(r) for r in refs]
    tokens = ptb_tokenize(list(hyps) + [c for r in refs for c in r])
    tok_hyps, flat = tokens[: len(hyps)], tokens[len(hyps):]
    tok_refs, k = [], 0
    for s in sizes:
        tok_refs.append(flat[k : k + s])
        k += s
    cider = CiderScorer(n=4, sigma=6.0)
    for h, r in zip(tok_hyps, tok_refs):
        cider += (h, r)
    _, cider_scores = cider.compute_score()
    cider_scores = np.asarray(cider_scores, dtype=np.float64)
    cp, found = spice_classpath(spice_dir)
    if cp is None:
        return cider_scores, None, found, None
    spice_scores, status = run_spice(cp, tok_hyps, tok_refs)
    return cider_scores, spice_scores, status, found


class CaptionScorer(Scorer):
    """CIDEr-D, SPICE and SPIDEr per source (SPICE None, with the reason, when it cannot run)."""

    metrics = (
        Metric("cider", higher_is_better=True, tolerance=0.02),
        Metric("spice", higher_is_better=True, tolerance=0.01),
        Metric("spider", higher_is_better=True, tolerance=0.015),
    )
    option_defaults = {"spice_dir": None}
    location_options = ("spice_dir",)

    def statistics(self, preds: Sequence[Prediction], options: Mapping[str, Any]) -> SampleStats:
        refs = []
        for p in preds:
            if not isinstance(p.reference, tuple):
                raise ScorerError(f"{where(p)}: scorer 'caption' expects 'reference' to be a list of captions, got a string")
            if not p.reference:
                raise ScorerError(f"{where(p)}: scorer 'caption' needs at least one reference caption")
            refs.append(p.reference)
        hyps = [(p.prediction or "").strip() for p in preds]
        cider, spice, status, found = corpus_scores(hyps, refs, options["spice_dir"])
        facts: dict[str, Any] = {
            "tokenizer": f"PTB ({PTB_JAR})",
            "refs_per_sample": [min(len(r) for r in refs), max(len(r) for r in refs)],
            "spice_status": status,
        }
        if spice is None:
            warnings.warn(f"SPICE/SPIDEr not computed for source {preds[0].source!r}: {status}",
                          SpiceUnavailableWarning, stacklevel=2)
            return SampleStats(np.stack([cider, np.ones_like(cider)], axis=1), facts)
        facts["spice_jars"] = found
        return SampleStats(np.stack([cider, np.ones_like(cider), spice], axis=1), facts)

    def column_sums(self, rows: np.ndarray) -> np.ndarray:
        """Each column added pairwise, as np.mean adds (see the module docstring)."""
        return np.array([np.add.reduce(np.ascontiguousarray(rows[:, j])) for j in range(rows.shape[1])])

    def reduce(self, sums: np.ndarray, facts: Mapping[str, Any]) -> dict[str, float | None]:
        n = sums[1]
        cider = float(sums[0] / n)
        if len(sums) < 3:
            return {"cider": cider, "spice": None, "spider": None}
        spice = float(sums[2] / n)
        return {"cider": cider, "spice": spice, "spider": (cider + spice) / 2.0}

    def info(self) -> dict[str, Any]:
        try:
            cp, found = spice_classpath(None)
        except PrerequisiteError as exc:
            cp, found = None, str(exc)
        return {
            "libraries": library_versions("pycocoevalcap"),
            "java": shutil.which("java"),
            "ptb_jar": PTB_JAR,
            "spice": found if cp is not None else f"unavailable: {found}",
        }


CAPTION = CaptionScorer("caption")
