"""qa_eval.radar: higher-is-better mapping without clipping, scaling against each axis' best,
no spokes for what a model did not run, PNG and SVG output."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qa_eval import radar
from qa_eval.radar import Axis, Series

WER = Axis("asr", "ASR", "one_minus")
AAS = Axis("srwt", "SRWT", "reciprocal")
ACC = Axis("cls", "Classification")


@pytest.mark.parametrize(("metric", "higher", "expected"), [
    ("wer", False, "one_minus"), ("cer", False, "one_minus"), ("aas_ms", False, "reciprocal"),
    ("acc", True, "identity"), ("bleu", True, "identity"),
])
def test_transform_for(metric, higher, expected):
    assert radar.transform_for(metric, higher) == expected


def test_best_value_of_each_axis_is_one_and_others_are_proportional():
    scaled = radar.scale([WER, AAS, ACC], [
        Series("a", {"asr": 0.02, "srwt": 50.0, "cls": 0.8}),
        Series("b", {"asr": 0.51, "srwt": 100.0, "cls": 0.4}),
    ])
    assert scaled["a"] == {"asr": 1.0, "srwt": 1.0, "cls": 1.0}
    assert scaled["b"] == pytest.approx({"asr": 0.49 / 0.98, "srwt": 0.5, "cls": 0.5})


def test_no_clipping_wer_above_one_gives_a_negative_value():
    scaled = radar.scale([WER], [Series("good", {"asr": 0.02}), Series("bad", {"asr": 1.5})])
    assert scaled["bad"]["asr"] == pytest.approx(-0.5 / 0.98)
    all_bad = radar.scale([WER], [Series("x", {"asr": 1.2}), Series("y", {"asr": 1.6})])
    assert all_bad["x"]["asr"] == 1.0  # best of the axis, though 1 - WER = -0.2
    assert all_bad["y"]["asr"] == pytest.approx(-1.0)  # 1 + (-0.6 - -0.2) / |-0.2|


def test_zero_aas_is_best_and_others_fall_to_zero():
    scaled = radar.scale([AAS], [Series("perfect", {"srwt": 0.0}), Series("other", {"srwt": 40.0})])
    assert scaled == {"perfect": {"srwt": 1.0}, "other": {"srwt": 0.0}}


def test_missing_values_are_left_out_not_zero():
    series = [Series("full", {"asr": 0.1, "srwt": 60.0, "cls": 0.5}), Series("partial", {"cls": 0.7})]
    scaled = radar.scale([WER, AAS, ACC], series)
    assert set(scaled["partial"]) == {"cls"}
    fig = radar.figure([WER, AAS, ACC], series)
    (ax,) = fig.axes
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "partial")
    r = np.asarray(line.get_ydata())
    assert np.isnan(r[:2]).all() and r[2] == 1.0  # ASR and SRWT: no point at all, not 0


def test_axes_nobody_ran_are_not_drawn_and_negative_values_stay_inside_the_plot():
    fig = radar.figure([WER, AAS, ACC], [Series("a", {"asr": 0.05, "cls": 0.9}), Series("b", {"asr": 2.0})])
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ASR", "Classification"]
    lowest = (1 - 2.0) / 0.95
    assert ax.get_ylim()[0] < lowest  # the centre lies below the lowest value: nothing clipped


def test_render_png_and_svg():
    images = radar.render([WER, ACC], [Series("a", {"asr": 0.05, "cls": 0.9})], title="t", note="n")
    assert images.png.startswith(b"\x89PNG\r\n\x1a\n") and len(images.png) > 10_000
    assert "<svg" in images.svg and "</svg>" in images.svg
    again = radar.render([WER, ACC], [Series("a", {"asr": 0.05, "cls": 0.9})], title="t", note="n")
    assert again.svg == images.svg  # deterministic (no date, fixed hash salt)


def test_nothing_to_draw():
    assert radar.render([WER], [Series("a", {})]) is None
    assert radar.higher_better(0.0, "reciprocal") == math.inf


def test_unknown_transform_is_refused():
    with pytest.raises(ValueError, match="unknown transform"):
        Axis("k", "K", "log")  # type: ignore[arg-type]
