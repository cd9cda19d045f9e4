"""SRWT (speech recognition with word-level timestamps): AAS in ms, plus WER of the text.

Official facts (QwenLM/Qwen-Audio `evaluate_srwt.py`), reproduced here:
* Parsing a text: `<|startoftranscript|>` and `<|transcribe|>` are removed, and `<|en|>` (or,
  if there is none, `<|zh|>`); timestamps are tokens `<|D.D|>` (1-2 digits, a dot, digits);
  the words are the pieces strictly between consecutive timestamps, taken verbatim (other
  special tokens such as `<|sil|>` stay and count as words; spaces are not stripped), so word i
  spans [t_i, t_{i+1}]. Text before the first and after the last timestamp is ignored. A text
  without any timestamp cannot be parsed ("pattern error"): that utterance is left out of AAS
  and counted in `details["n_unparsed"]`.
* Alignment: reference words vs prediction words by Levenshtein distance with the
  `edit_distance` package's rules (unit costs; at each cell substitution/match wins ties, then
  insertion, then deletion; one back-trace from the end). Only "equal" pairs count; each adds
  |start_ref - start_hyp| + |end_ref - end_hyp|.
* AAS = total shift / matched words, summed over the source (utterances with no match add
  nothing). Timestamps are seconds; `aas_ms` = AAS x 1000 (the paper reports ms).
* `wer`: the paper WER (see `qa_eval.scoring.wer`) of the texts with all special tokens removed,
  Chinese per character; the language is the row's `lang` field, else the option `lang`.

The first-segment quirk. Qwen-Audio's SRWT prompt ends with `<|0.00|>`, so the model's output
starts with the first word, e.g. `<|sil|><|0.54|>面<|0.86|>...`; the official script parses
that output as is, so the first word (the span [0.00, t_1]) is silently dropped from the
prediction. Option `first_segment`:
  "official-drop" (DEFAULT)     - parse the prediction as stored; reproduces the paper's
                                  51.5 ms protocol, which is this project's goal;
  "prepend-prompt-timestamp"    - put the prompt's `<|0.00|>` back in front of the prediction
                                  (unless it already starts with a timestamp), so the first
                                  word is scored too. Use it to score the model, not the paper.

Statistics: per utterance, shift (s), matched words, parsed (0/1), WER edits and reference
tokens; AAS = summed shift / summed matches, WER = summed edits / summed tokens.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import numpy as np

from qa_eval.errors import ConfigError
from qa_eval.records import Prediction
from qa_eval.provenance import library_versions
from qa_eval.scoring.base import Metric, SampleStats, Scorer, ratio, require_str_references
from qa_eval.scoring.text import base_lang, paper_tokens
from qa_eval.scoring.wer import edit_counts

TIMESTAMP = re.compile(r"<\|\d{1,2}\.\d+\|>")
FIRST_SEGMENT_MODES = ("official-drop", "prepend-prompt-timestamp")
PROMPT_TIMESTAMP = "<|0.00|>"

Words = list[tuple[str, float, float]]  # (word, start_s, end_s)


def parse_timestamped(text: str) -> Words | None:
    """Words with their spans, or None when the text holds no timestamp."""
    body = text.replace("<|startoftranscript|>", "").replace("<|transcribe|>", "")
    if "<|en|>" in body:
        body = body.replace("<|en|>", "")
    elif "<|zh|>" in body:
        body = body.replace("<|zh|>", "")
    times = [float(t[2:-2]) for t in TIMESTAMP.findall(body)]
    if not times:
        return None
    pieces = TIMESTAMP.split(body)[1:-1]
    return [(w, times[i], times[i + 1]) for i, w in enumerate(pieces)]


def align_equal_pairs(ref: Sequence[str], hyp: Sequence[str]) -> list[tuple[int, int]]:
    """(i, j) index pairs aligned as "equal" by the `edit_distance` package's rules."""
    m, n = len(ref), len(hyp)
    # back-pointers: 0 = diagonal (equal or replace), 1 = insert (j-1), 2 = delete (i-1)
    back = [[1] * (n + 1)] + [[2] + [0] * n for _ in range(m)]
    prev = list(range(n + 1))
    for i in range(1, m + 1):
        cur = [i] + [0] * n
        row, r = back[i], ref[i - 1]
        for j in range(1, n + 1):
            sub = prev[j - 1] + (r != hyp[j - 1])
            ins = cur[j - 1] + 1
            dele = prev[j] + 1
            best = min(sub, ins, dele)
            if best == sub:
                cur[j], row[j] = sub, 0
            elif best == ins:
                cur[j], row[j] = ins, 1
            else:
                cur[j], row[j] = dele, 2
        prev = cur
    pairs = []
    i, j = m, n
    while i or j:
        op = back[i][j]
        if op == 0:
            i, j = i - 1, j - 1
            if ref[i] == hyp[j]:
                pairs.append((i, j))
        elif op == 1:
            j -= 1
        else:
            i -= 1
    pairs.reverse()
    return pairs


def utterance_shift(ref: Words, hyp: Words) -> tuple[float, int]:
    """(total |Δstart| + |Δend| in seconds, matched words) of one utterance."""
    pairs = align_equal_pairs([w for w, _, _ in ref], [w for w, _, _ in hyp])
    shift = sum(abs(ref[i][1] - hyp[j][1]) + abs(ref[i][2] - hyp[j][2]) for i, j in pairs)
    return shift, len(pairs)


def _with_prompt_timestamp(pred: str) -> str:
    s = pred.lstrip()
    return pred if TIMESTAMP.match(s) else PROMPT_TIMESTAMP + pred


class SrwtScorer(Scorer):
    """AAS (ms) of word timestamps, and the WER of the words."""

    metrics = (
        Metric("aas_ms", higher_is_better=False, tolerance=5.0, unit="ms", decimals=2),
        Metric("wer", higher_is_better=False, tolerance=0.005),
    )
    option_defaults = {"first_segment": "official-drop", "lang": None}

    def check_options(self, options: Mapping[str, Any]) -> None:
        if options["first_segment"] not in FIRST_SEGMENT_MODES:
            raise ConfigError(f"scorer 'srwt': first_segment must be one of {FIRST_SEGMENT_MODES}, "
                              f"got {options['first_segment']!r}")

    def statistics(self, preds: Sequence[Prediction], options: Mapping[str, Any]) -> SampleStats:
        mode = options["first_segment"]
        refs = require_str_references(self.name, preds)
        rows = np.zeros((len(preds), 5))
        for k, (ref, p) in enumerate(zip(refs, preds)):
            hyp, lang = p.prediction or "", base_lang(p.get("lang") or options["lang"])
            if mode == "prepend-prompt-timestamp":
                hyp = _with_prompt_timestamp(hyp)
            rw, hw = parse_timestamped(ref), parse_timestamped(hyp)
            if rw is not None and hw is not None:
                shift, matched = utterance_shift(rw, hw)
                rows[k, :3] = shift, matched, 1
            r_tok, h_tok = paper_tokens(ref, lang), paper_tokens(hyp, lang)
            rows[k, 3] = sum(edit_counts(r_tok, h_tok)) if r_tok != h_tok else 0
            rows[k, 4] = len(r_tok)
        return SampleStats(rows, {"first_segment": mode, "n": len(preds)})

    def reduce(self, sums: np.ndarray, facts: Mapping[str, Any]) -> dict[str, float | None]:
        return {"aas_ms": ratio(sums[0], sums[1], 1000.0), "wer": ratio(sums[3], sums[4])}

    def details(self, sums: np.ndarray, facts: Mapping[str, Any]) -> dict[str, Any]:
        shift_s, matched, parsed, edits, ref_tok = sums
        out: dict[str, Any] = {
            "first_segment": facts["first_segment"],
            "matched_words": int(matched),
            "total_shift_s": float(shift_s),
            "n_unparsed": int(facts["n"] - parsed),
            "wer_edits": int(edits),
            "wer_ref_tokens": int(ref_tok),
        }
        if matched == 0:
            out["note"] = "no word matched between references and predictions; AAS undefined"
        return out

    def info(self) -> dict[str, Any]:
        return {"libraries": library_versions("rapidfuzz"), "alignment": "edit_distance rules, own code"}


SRWT = SrwtScorer("srwt")
