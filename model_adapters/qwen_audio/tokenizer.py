"""Qwen-Audio tokenizer: tiktoken BPE from ``qwen.tiktoken`` plus the special tokens.

Id layout (vocabulary of the real checkpoint, 155163 = ``<audio>``):
    0 .. 151642         BPE ranks from qwen.tiktoken
    151643              <|endoftext|>   (eod; also the pad and end token)
    151644, 151645      <|im_start|>, <|im_end|>
    151646 .. 151850    <|extra_0|> .. <|extra_204|>
    151851 ..           audio specials: the audio pad token, task/language/timestamp tags,
                        midi tokens, ..., then <audio>, </audio> (155163, 155164)
Ids 155165 .. vocab_size-1 exist in the embedding tables but have no surface form.

Encoding: NFC normalisation; every special token written in the text becomes its id; each
closed ``<audio>PATH</audio>`` is replaced by ``<audio>``, span-2 pad ids, ``</audio>`` where the
span of every audio is given by the caller (from the audio length). Text between the tags never
reaches the ids.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import tiktoken

from qa_eval.errors import AdapterError

# The pre-tokenisation split pattern of Qwen's BPE (a fact of the vocabulary file).
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
AUDIO_START = "<audio>"
AUDIO_END = "</audio>"
AUDIO_PAD = "[[[AUDIO:modality]]]"
_LANGS = ("en", "zh", "de", "es", "ko", "fr", "ja", "it")
_AUDIO_URL_RE = re.compile(re.escape(AUDIO_START) + r"(.*?)" + re.escape(AUDIO_END))


def _tags(*names: str) -> list[str]:
    return [f"<|{n}|>" for n in names]


def audio_special_tokens() -> list[str]:
    """The audio special tokens in id order, starting at id 151851."""
    out = [AUDIO_PAD]
    out += _tags("startoftranscript", "startofanalysis")
    out += _tags("translate", "transcribe", "caption", "keyword")
    out += _tags("unknown", *_LANGS, "zh_tr")
    out += _tags("notimestamps", "sil", "timestamps")
    out += [f"<|{i // 100}.{i % 100:02d}|>" for i in range(3001)]  # <|0.00|> .. <|30.00|>
    out += _tags(
        "caption_audiocaps", "caption_clotho", "audioset_ontology", "caption_plain", "itn", "wo_itn",
        "startofentityvalue", "endofentityvalue", "startofentitytype", "endofentitytype",
        "named_entity_recognition", "audio_grounding", "startofword", "endofword", "delim",
        "emotion_recognition", "music_description", "note_analysis", "pitch",
    )
    out += [f"<|midi_pitch_{i}|>" for i in range(128)]
    out += _tags("velocity")
    out += [f"<|midi_velocity_{i}|>" for i in range(128)]
    out += _tags(
        "sonic", "instrument", "speaker_meta", "song_meta", "question", "answer", "choice", "scene",
        "event", "vocal_classification", "speech_understanding", "scenario", "action", "entities",
        "speech_edit",
    )
    out += [AUDIO_START, AUDIO_END]
    return out


def _read_ranks(path: Path) -> dict[bytes, int]:
    """Parse a tiktoken BPE file: one ``base64(token) rank`` pair per line."""
    if not path.is_file():
        raise AdapterError(f"{path}: tokenizer vocabulary qwen.tiktoken not found")
    ranks: dict[bytes, int] = {}
    for lineno, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            tok, rank = line.split()
            ranks[base64.b64decode(tok)] = int(rank)
        except ValueError:
            raise AdapterError(f"{path}:{lineno}: not a 'base64 rank' line") from None
    return ranks


class QwenAudioTokenizer:
    """Encode/decode Qwen-Audio prompts. Thread-safe after construction (tiktoken is)."""

    def __init__(self, vocab_file: str | Path) -> None:
        ranks = _read_ranks(Path(vocab_file))
        n = len(ranks)
        names = [ENDOFTEXT, IM_START, IM_END] + [f"<|extra_{i}|>" for i in range(205)]
        names += audio_special_tokens()
        self.special_tokens: dict[str, int] = {tok: n + i for i, tok in enumerate(names)}
        self._enc = tiktoken.Encoding(
            "qwen_audio", pat_str=SPLIT_PATTERN, mergeable_ranks=ranks, special_tokens=self.special_tokens
        )
        self.n_vocab = n + len(names)
        self.eod_id = self.special_tokens[ENDOFTEXT]
        self.im_start_id = self.special_tokens[IM_START]
        self.im_end_id = self.special_tokens[IM_END]
        self.audio_start_id = self.special_tokens[AUDIO_START]
        self.audio_end_id = self.special_tokens[AUDIO_END]
        self.audio_pad_id = self.special_tokens[AUDIO_PAD]

    @classmethod
    def from_dir(cls, checkpoint_dir: str | Path) -> "QwenAudioTokenizer":
        return _cached_tokenizer(str(Path(checkpoint_dir, "qwen.tiktoken").resolve()))

    # -- encoding ------------------------------------------------------------------------
    @staticmethod
    def audio_urls(text: str) -> list[str]:
        """The text inside each ``<audio>…</audio>`` pair, in order (as the reference extracts it)."""
        return _AUDIO_URL_RE.findall(text)

    def encode_raw(self, text: str) -> list[int]:
        """NFC(text) -> ids with every special token allowed; no audio-span expansion."""
        return self._enc.encode(unicodedata.normalize("NFC", text), allowed_special="all", disallowed_special=())

    def encode(self, text: str, audio_span_tokens: Sequence[int] = ()) -> list[int]:
        """Prompt ids with audio k's ``<audio>…</audio>`` replaced by a span of audio_span_tokens[k] ids.

        Raises AdapterError for an unclosed ``<audio>`` or a missing/too short span length.
        """
        ids = self.encode_raw(text)

        def pads(k: int) -> list[int]:
            if k >= len(audio_span_tokens):
                raise AdapterError(f"prompt has more <audio> tags than the {len(audio_span_tokens)} span lengths given")
            span = int(audio_span_tokens[k])
            if span < 3:
                raise AdapterError(f"audio {k}: span of {span} tokens is too short (needs >= 3)")
            return [self.audio_pad_id] * (span - 2)

        return self._replace_audio_spans(ids, pads, "unclosed <audio> tag in prompt (no </audio> after it)")

    def _replace_audio_spans(
        self, ids: list[int], inside: Callable[[int], list[int]], unclosed: str
    ) -> list[int]:
        """`ids` with what lies between the k-th ``<audio>`` id and the next ``</audio>`` id
        replaced by inside(k), the two tags kept. AdapterError(unclosed) for an unclosed tag."""
        out: list[int] = []
        pos = 0
        k = 0
        while (start := _find(ids, self.audio_start_id, pos)) >= 0:
            end = _find(ids, self.audio_end_id, start)
            if end < 0:
                raise AdapterError(unclosed)
            out += ids[pos:start] + [self.audio_start_id] + inside(k) + [self.audio_end_id]
            pos = end + 1
            k += 1
        return out + ids[pos:]

    # -- decoding ------------------------------------------------------------------------
    def decode(
        self,
        ids: Sequence[int],
        skip_special_tokens: bool = False,
        audio_urls: Sequence[str] | None = None,
    ) -> str:
        """Text of `ids` (invalid UTF-8 replaced by U+FFFD).

        A closed audio span in `ids` is written back as ``<audio>URL</audio>`` from `audio_urls`
        (AdapterError without them, as in the reference). skip_special_tokens drops every id
        >= 151643 (after that restoration). Ids without a surface form are dropped.
        """
        ids = [int(i) for i in ids]
        if _find(ids, self.audio_start_id, 0) >= 0:
            ids = self._restore_audio_urls(ids, audio_urls)
        if skip_special_tokens:
            ids = [i for i in ids if i < self.eod_id]
        ids = [i for i in ids if 0 <= i < self.n_vocab]
        return self._enc.decode(ids, errors="replace")

    def _restore_audio_urls(self, ids: list[int], urls: Sequence[str] | None) -> list[int]:
        def url(k: int) -> list[int]:
            if urls is None or k >= len(urls):
                raise AdapterError("ids contain an audio span; decoding it needs the audio urls")
            return self._enc.encode_ordinary(urls[k])

        return self._replace_audio_spans(ids, url, "unclosed audio span in ids (no </audio> id after <audio>)")

    def token_bytes(self, token_id: int) -> bytes:
        """Surface bytes of one id (special tokens as their UTF-8 text)."""
        return self._enc.decode_single_token_bytes(int(token_id))


def _find(ids: Sequence[int], value: int, start: int) -> int:
    for i in range(start, len(ids)):
        if ids[i] == value:
            return i
    return -1


@lru_cache(maxsize=4)
def _cached_tokenizer(vocab_path: str) -> QwenAudioTokenizer:
    return QwenAudioTokenizer(vocab_path)
