"""Tokenizer vs the official tokenizer's recorded outputs (tokenizer_cases.jsonl, cases.jsonl)."""

from __future__ import annotations

import pytest

from model_adapters.qwen_audio.tokenizer import QwenAudioTokenizer
from qa_eval.errors import AdapterError

from .conftest import CASES, FIXTURE, load_tokenizer_cases

TOK_CASES = load_tokenizer_cases()


@pytest.fixture(scope="module")
def tok() -> QwenAudioTokenizer:
    return QwenAudioTokenizer.from_dir(FIXTURE)


def test_special_token_ids(tok):
    sp = tok.special_tokens
    assert tok.eod_id == 151643 and tok.im_start_id == 151644 and tok.im_end_id == 151645
    assert sp["<|extra_0|>"] == 151646 and sp["<|extra_204|>"] == 151850
    assert tok.audio_pad_id == 151851
    assert sp["<|0.00|>"] == 151871 and sp["<|30.00|>"] == 154871
    assert tok.audio_start_id == 155163 and tok.audio_end_id == 155164
    assert tok.n_vocab == 155165


@pytest.mark.parametrize("case", TOK_CASES, ids=[c["id"] for c in TOK_CASES])
def test_tokenizer_case(tok, case):
    info = case.get("audio_info_used") or {}
    spans = info.get("audio_span_tokens", [])
    urls = info.get("audio_urls")
    if case.get("error"):
        with pytest.raises(AdapterError, match="unclosed <audio>"):
            tok.encode(case["text"], spans)
        return
    assert tok.encode_raw(case["text"]) == case["raw_tiktoken_ids"]
    ids = tok.encode(case["text"], spans)
    assert ids == case["input_ids"]
    surface = [t["bytes_hex"] if isinstance(t, dict) else t.encode().hex() for t in case["tokens"]]
    assert [tok.token_bytes(i).hex() for i in ids] == surface
    assert tok.decode(ids, skip_special_tokens=False, audio_urls=urls) == case["decoded"]
    assert tok.decode(ids, skip_special_tokens=True, audio_urls=urls) == case["decoded_skip_special"]
    if case.get("decode_without_audio_info_error"):
        with pytest.raises(AdapterError, match="audio urls"):
            tok.decode(ids)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_prompt_ids(tok, case):
    spans = [a["audio_span_tokens"] for a in case["audios"]]
    ids = tok.encode(case["prompt"], spans)
    assert ids == case["input_ids"]
    assert [i for i, t in enumerate(ids) if t == tok.audio_start_id] == case["audio_start_positions"]
    assert [i for i, t in enumerate(ids) if t == tok.audio_end_id] == case["audio_end_positions"]
    assert tok.audio_urls(case["prompt"]) == [a["path"] for a in case["audios"]]
    assert tok.decode(case["greedy_ids_single"]) == case["text_single"]


def test_span_errors(tok):
    with pytest.raises(AdapterError, match="more <audio> tags"):
        tok.encode("<audio>a</audio><audio>b</audio>", [5])
    with pytest.raises(AdapterError, match="too short"):
        tok.encode("<audio>a</audio>", [2])
    # a lone closing tag is just a token, as in the reference
    assert tok.encode("</audio>") == [tok.audio_end_id]


def test_unknown_ids_are_dropped_on_decode(tok):
    assert tok.decode([9707, 155900, 1879]) == "Hello world"
