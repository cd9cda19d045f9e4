"""Captioning: PTB tokenizer (Java + the jar inside pycocoevalcap), CIDEr-D, SPICE null path.

CIDEr goldens are hand-worked from the CIDEr-D definition (tf-idf n-gram vectors, n = 1..4,
idf = log(#samples) - log(df), clipped cosine, Gaussian length penalty sigma 6, mean over n,
mean over references, x10); `_cider_d` re-derives them independently of pycocoevalcap.
"""

import math
import shutil
from collections import Counter

import pytest

from qa_eval.errors import PrerequisiteError, ScorerError
from qa_eval.records import Prediction
from qa_eval.scoring import caption
from qa_eval.scoring.caption import CAPTION, SpiceUnavailableWarning, ptb_tokenize

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="needs Java")


def pred(i, refs, hyp, error=None):
    return Prediction(str(i), "clotho", tuple(refs) if refs is not None else refs, hyp, error)


@pytest.fixture
def no_spice(tmp_path, monkeypatch):
    """An empty spice_dir and env var; skip if this machine has the jars in pycocoevalcap."""
    if (caption._pycocoevalcap_dir() / "spice" / "lib" / caption.CORENLP_JARS[0]).is_file():
        pytest.skip("CoreNLP 3.6.0 jars installed in pycocoevalcap")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(caption.SPICE_ENV, str(empty))
    return str(empty)


def test_ptb_tokenizer_rules():
    """Lowercased; punctuation tokens dropped; brackets come out as -lrb-/-rrb- and stay (the
    drop list has them upper-case); empty captions keep their line."""
    assert ptb_tokenize(["A dog barks, loudly!", "", "The rain (falls) on a tin-roof...", "It's done."]) == [
        "a dog barks loudly", "", "the rain -lrb- falls -rrb- on a tin-roof", "it 's done",
    ]


def test_ptb_runs_in_a_temporary_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ptb_tokenize(["a b"])
    assert list(tmp_path.iterdir()) == []


def _cider_d(hyps, refs, n=4, sigma=6.0):
    """Independent CIDEr-D over already tokenized strings. Note pycocoevalcap measures the
    length for the penalty in bigrams (its `n == 1` is the 2-gram slot); kept here."""
    def grams(s):
        w = s.split()
        return Counter(tuple(w[i:i + k]) for k in range(1, n + 1) for i in range(len(w) - k + 1))

    df = Counter(g for rs in refs for g in set().union(*[grams(r) for r in rs]))
    logn = math.log(len(refs))

    def vec(s):
        c = grams(s)
        v = [{g: tf * (logn - math.log(max(1.0, df[g]))) for g, tf in c.items() if len(g) == k + 1} for k in range(n)]
        length = sum(tf for g, tf in c.items() if len(g) == 2)
        return v, [math.sqrt(sum(x * x for x in d.values())) for d in v], length

    scores = []
    for h, rs in zip(hyps, refs):
        vh, nh, lh = vec(h)
        total = [0.0] * n
        for r in rs:
            vr, nr, lr = vec(r)
            for k in range(n):
                val = sum(min(x, vr[k].get(g, 0.0)) * vr[k].get(g, 0.0) for g, x in vh[k].items())
                if nh[k] and nr[k]:
                    val /= nh[k] * nr[k]
                total[k] += val * math.exp(-((lh - lr) ** 2) / (2 * sigma**2))
        scores.append(sum(total) / n / len(rs) * 10)
    return sum(scores) / len(scores)


def test_cider_hand_worked_single_reference(no_spice):
    """Two samples, hyp == ref after PTB ('Dog barks.' and 'dog barks!' -> 'dog barks'; note
    a single letter before a period would stay one token, 'b.', as an initial). Every n-gram
    occurs in one of the 2
    samples: idf = log 2 for all. Cosine 1 for 1- and 2-grams, 0 for 3-, 4-grams (none),
    equal lengths: per sample mean(1,1,0,0) x 10 = 5.0; CIDEr = 5.0."""
    with pytest.warns(SpiceUnavailableWarning):
        m = CAPTION.score([pred(1, ["dog barks!"], "Dog barks."), pred(2, ["c d"], "c d")])["clotho"]
    assert m.values["cider"] == pytest.approx(5.0)


def test_cider_hand_worked_multi_reference(no_spice):
    """Sample 1 has refs 'a b' and 'x y'; hyp 'a b' scores [1,1,0,0] against the first and 0
    against the second: (0.5 / 2 refs) x 10 = 2.5; sample 2 = 5.0; CIDEr = 3.75."""
    with pytest.warns(SpiceUnavailableWarning):
        m = CAPTION.score([pred(1, ["a b", "x y"], "a b"), pred(2, ["c d"], "c d")])["clotho"]
    assert m.values["cider"] == pytest.approx(3.75)
    assert m.details["refs_per_sample"] == [1, 2]


def test_cider_matches_independent_implementation(no_spice):
    refs = [
        ["a dog barks loudly", "a dog is barking in the distance", "dog barking"],
        ["rain falls on a tin roof", "heavy rain on a roof", "rain is falling"],
        ["birds chirp in the morning", "many birds are singing"],
        ["a car passes by on a wet road", "traffic noise from a street"],
    ]
    hyps = ["a dog is barking", "rain falls on the roof", "birds are singing", "a car drives by"]
    with pytest.warns(SpiceUnavailableWarning):
        m = CAPTION.score([pred(i, r, h) for i, (r, h) in enumerate(zip(refs, hyps))])["clotho"]
    assert m.values["cider"] == pytest.approx(_cider_d(hyps, refs))
    lo, hi = m.ci95["cider"]
    assert lo <= m.values["cider"] <= hi


def test_spice_missing_is_null_with_warning(no_spice):
    with pytest.warns(SpiceUnavailableWarning, match="stanford-corenlp-3.6.0.jar"):
        m = CAPTION.score([pred(1, ["a b"], "a b"), pred(2, ["c d"], "c d")], spice_dir=no_spice)["clotho"]
    assert m.values["spice"] is None and m.values["spider"] is None
    assert "stanford-corenlp-3.6.0-models.jar" in m.details["spice_status"]
    assert no_spice in m.details["spice_status"]
    assert set(m.ci95) == {"cider"}


def test_spice_failure_is_null_with_reason(tmp_path, no_spice):
    """Jars present but unusable (empty files): Java fails, the reason is reported."""
    bad = tmp_path / "bad"
    bad.mkdir()
    for j in caption.CORENLP_JARS:
        (bad / j).write_bytes(b"")
    with pytest.warns(SpiceUnavailableWarning, match="SPICE"):
        m = CAPTION.score([pred(1, ["a b"], "a b")], spice_dir=str(bad), bootstrap=False)["clotho"]
    assert m.values["spice"] is None and "failed" in m.details["spice_status"]


def test_string_reference_and_failed_rows(no_spice):
    with pytest.raises(ScorerError, match="list of captions"):
        CAPTION.score([Prediction("1", "clotho", "a dog", "a dog")])
    with pytest.warns(SpiceUnavailableWarning):
        m = CAPTION.score([pred(1, ["a b"], "a b"), pred(2, ["c d"], "c d"), pred(3, ["e"], None, "oom")])
    assert (m["clotho"].n, m["clotho"].n_failed) == (3, 1)


def test_no_java_is_a_prerequisite_error(monkeypatch):
    monkeypatch.setattr(caption.shutil, "which", lambda name: None)
    with pytest.raises(PrerequisiteError, match="Java"):
        CAPTION.score([pred(1, ["unique words here"], "nothing cached")])
