"""NSynth note analysis. The oracle `_official` re-states the official
`evaluate_note_analysis.py` metric steps with sklearn (MultiLabelBinarizer on reference +
prediction labels, macro average_precision_score with 0/1 scores, accuracy_score)."""

import warnings

import numpy as np
import pytest

from qa_eval.errors import ScorerError
from qa_eval.records import Prediction
from qa_eval.scoring.nsynth import NSYNTH, binary_ap_from_counts, parse_note


def pred(i, ref, hyp, error=None):
    return Prediction(str(i), "nsynth", ref, hyp, error)


def note(p, v, inst, sonic):
    return f"<|pitch|><|midi_pitch_{p}|><|velocity|><|midi_velocity_{v}|><|instrument|>{inst}<|sonic|>{sonic}"


def test_parse_full_note():
    assert parse_note(note(60, 100, "keyboard", "bright, percussive")) == {
        "pitch": 60, "velocity": 100, "instrument": "keyboard", "qualities": ["bright", "percussive"],
    }


def test_parse_edge_cases():
    """Missing or non-integer pitch/velocity -> 128; instrument cut at the first '<';
    qualities split on ', ' exactly and filtered to the ten NSynth names."""
    d = parse_note("<|pitch|><|midi_pitch_x|><|instrument|>guitar<|endoftext|><|sonic|>dark, loud,reverb, reverb")
    assert d == {"pitch": 128, "velocity": 128, "instrument": "guitar", "qualities": ["dark", "reverb"]}
    assert parse_note("") == {"pitch": 128, "velocity": 128, "instrument": "", "qualities": []}
    assert parse_note("<|sonic|>bright,dark")["qualities"] == []  # no ", " -> one unknown label


def test_hand_worked_golden():
    """Row 1: pitch 60=60, velocity 100 vs 75, keyboard=keyboard, {bright,percussive} vs {bright}.
    Row 2: pitch 62 vs 61, velocity 100=100, guitar=guitar, {dark} vs {dark,reverb}.
    instrument 2/2, pitch 1/2, velocity 1/2. Labels = union {bright,dark,percussive,reverb}:
    AP bright 1 (exact), dark 1, percussive: never predicted -> AP = positives/n = 1/2,
    reverb: no reference positive -> 0. MAP = (1+1+0.5+0)/4 = 0.625."""
    rows = [
        pred(1, note(60, 100, "keyboard", "bright, percussive"), note(60, 75, "keyboard", "bright")),
        pred(2, note(62, 100, "guitar", "dark"), note(61, 100, "guitar", "dark, reverb")),
    ]
    m = NSYNTH.score(rows)["nsynth"]
    assert m.values == {"instrument_acc": 1.0, "map": 0.625, "pitch_acc": 0.5, "velocity_acc": 0.5}
    assert m.details["labels_without_reference_positive"] == ["reverb"]
    assert set(m.ci95) == {"instrument_acc", "map", "pitch_acc", "velocity_acc"}


def test_missing_pitch_on_both_sides_matches():
    """The official parse maps a missing pitch to class 128 on both sides, which then match."""
    m = NSYNTH.score([pred(1, "<|instrument|>organ", "<|instrument|>organ")], bootstrap=False)["nsynth"]
    assert m.values["pitch_acc"] == 1.0 and m.values["map"] is None


def _official(refs, hyps):
    from sklearn.metrics import accuracy_score, average_precision_score
    from sklearn.preprocessing import MultiLabelBinarizer

    r, h = [parse_note(x) for x in refs], [parse_note(x) for x in hyps]
    mul = MultiLabelBinarizer().fit_transform([d["qualities"] for d in r + h])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ap = average_precision_score(mul[: len(r)], mul[len(r):], average="macro")
    return {
        "instrument_acc": accuracy_score([d["instrument"] for d in r], [d["instrument"] for d in h]),
        "map": ap,
        "pitch_acc": accuracy_score([d["pitch"] for d in r], [d["pitch"] for d in h]),
        "velocity_acc": accuracy_score([d["velocity"] for d in r], [d["velocity"] for d in h]),
    }


def test_matches_official_logic_on_random_notes():
    rng = np.random.default_rng(0)
    q = ["bright", "dark", "distortion", "fast_decay", "reverb", "percussive"]
    inst = ["keyboard", "guitar", "bass"]

    def rand_note():
        k = rng.integers(0, 3)
        return note(rng.integers(58, 62), rng.choice([25, 50, 75]), rng.choice(inst), ", ".join(rng.choice(q, k, replace=False)))

    refs = [rand_note() for _ in range(80)]
    hyps = [rand_note() for _ in range(80)]
    m = NSYNTH.score([pred(i, r, h) for i, (r, h) in enumerate(zip(refs, hyps))], bootstrap=False)
    for k, v in _official(refs, hyps).items():
        assert m["nsynth"].values[k] == pytest.approx(v), k


def test_closed_form_ap_equals_sklearn():
    """binary_ap_from_counts (used by the bootstrap) vs sklearn on random 0/1 columns."""
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(1, 12))
        y, s = rng.integers(0, 2, n), rng.integers(0, 2, n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expect = average_precision_score(y, s) if y.any() else 0.0
        got = binary_ap_from_counts(np.array((y * s).sum()), np.array(s.sum()), np.array(y.sum()), np.array(n))
        assert float(got) == pytest.approx(expect)


def test_list_reference_rejected_and_failed_counted():
    with pytest.raises(ScorerError):
        NSYNTH.score([pred(1, ("a",), "a")])
    m = NSYNTH.score([pred(1, note(60, 100, "organ", ""), note(60, 100, "organ", "")), pred(2, "x", None, "err")])
    assert (m["nsynth"].n, m["nsynth"].n_failed) == (2, 1)
