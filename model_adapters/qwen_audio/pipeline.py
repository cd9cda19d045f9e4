"""End to end: prompt text + waveforms -> ids and audio features -> greedy ids -> text.

``QwenAudioPipeline`` owns the model, tokenizer and mel filterbank. ``prepare()`` checks one
sample (raises AdapterError for that sample only); ``run()`` decodes a list of prepared samples
as ONE left-padded batch: all mels in one batched STFT, all audios through the encoder on
their true lengths, each sample's audio features computed as the reference computes them for
that prompt alone (so batched ids equal single-sample ids).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from qa_eval.errors import AdapterError

from .config import QwenAudioConfig
from .features import AudioLengths, load_mel_filters, log_mel_batch
from .generate import GreedySettings, cut_at_end, greedy_generate, left_pad
from .model import QwenAudioModel
from .tokenizer import QwenAudioTokenizer
from .weights import LoadReport, load_checkpoint, resolve_dtype

MAX_PROMPT_TOKENS = 32767 - 1  # the reference's logn table covers positions < 32767


@dataclass
class PreparedPrompt:
    """One checked sample: expanded prompt ids, its audio lengths and waveforms (prompt order)."""

    input_ids: list[int]
    lengths: list[AudioLengths]
    waveforms: list[np.ndarray]
    audio_urls: list[str] = field(default_factory=list)

    @property
    def truncated_audio(self) -> bool:
        return any(a.truncated for a in self.lengths)


@dataclass
class GenerationResult:
    """token_ids: new tokens cut before the first end id; text: decoded, special tokens kept."""

    token_ids: list[int]
    text: str
    raw_ids: list[int]


class QwenAudioPipeline:
    def __init__(self, model: QwenAudioModel, tokenizer: QwenAudioTokenizer, mel_filters: torch.Tensor,
                 compile_step: bool = False) -> None:
        self.model = model
        self.load_report = LoadReport()  # what loading skipped (set by from_checkpoint)
        self.compile_step = compile_step  # torch.compile the decode step (see generate.py)
        self.tokenizer = tokenizer
        self.mel_filters = mel_filters.to(model.device)
        a = model.config.audio
        if (tokenizer.audio_start_id, tokenizer.audio_end_id) != (a.audio_start_id, a.audio_end_id):
            raise AdapterError(
                f"tokenizer <audio>/</audio> ids {tokenizer.audio_start_id}/{tokenizer.audio_end_id} differ from "
                f"config audio_start_id {a.audio_start_id}"
            )
        if tokenizer.n_vocab > model.config.vocab_size:
            raise AdapterError(f"tokenizer has {tokenizer.n_vocab} ids but vocab_size is {model.config.vocab_size}")

    @classmethod
    def from_checkpoint(
        cls, checkpoint_dir: str | Path, device: str = "cpu", dtype: str = "float32", allow_pickle: bool = False,
        compile_step: bool = False,
    ) -> "QwenAudioPipeline":
        cfg = QwenAudioConfig.from_file(Path(checkpoint_dir) / "config.json")
        model, report = load_checkpoint(checkpoint_dir, device, resolve_dtype(dtype), cfg, allow_pickle)
        pipe = cls(model, QwenAudioTokenizer.from_dir(checkpoint_dir), load_mel_filters(checkpoint_dir), compile_step)
        pipe.load_report = report
        return pipe

    @property
    def device(self) -> torch.device:
        return self.model.device

    def prepare(self, prompt: str, waveforms: Sequence[np.ndarray]) -> PreparedPrompt:
        """Check and tokenize one sample. Waveforms: float32 16 kHz mono, one per ``<audio>`` tag."""
        urls = self.tokenizer.audio_urls(prompt)
        if len(urls) != len(waveforms):
            raise AdapterError(f"prompt has {len(urls)} <audio>…</audio> tags but {len(waveforms)} waveforms were given")
        waves, lengths = [], []
        for k, w in enumerate(waveforms):
            w = np.asarray(w, dtype=np.float32)
            if w.ndim != 1:
                raise AdapterError(f"audio {k}: expected a 1-D mono waveform, got shape {w.shape}")
            if not np.isfinite(w).all():
                raise AdapterError(f"audio {k}: waveform contains NaN or infinite samples")
            lengths.append(AudioLengths.from_num_samples(w.shape[0]))
            waves.append(w)
        ids = self.tokenizer.encode(prompt, [a.span_tokens for a in lengths])
        if len(ids) > MAX_PROMPT_TOKENS:
            raise AdapterError(f"prompt of {len(ids)} tokens exceeds the supported {MAX_PROMPT_TOKENS}")
        return PreparedPrompt(ids, lengths, waves, urls)

    @torch.no_grad()
    def audio_features(self, prompts: Sequence[PreparedPrompt]) -> list[torch.Tensor]:
        """Span features [span, H] of every audio of every prompt, row-major prompt order."""
        lengths = [a for p in prompts for a in p.lengths]
        if not lengths:
            return []
        waves = [w for p in prompts for w in p.waveforms]
        ctx = [max(a.after_cnn_len for a in p.lengths) for p in prompts for _ in p.lengths]
        mels = log_mel_batch(waves, self.mel_filters, self.device)
        return self.model.transformer.audio.encode(mels, lengths, ctx)

    @torch.no_grad()
    def run(
        self,
        prompts: Sequence[PreparedPrompt],
        max_new_tokens: int,
        min_new_tokens: int = 1,
        end_ids: Sequence[int] | None = None,
        use_cache: bool = True,
    ) -> list[GenerationResult]:
        """Greedy-decode the prompts as one left-padded batch."""
        if not prompts:
            return []
        tok = self.tokenizer
        end = tuple(end_ids) if end_ids is not None else (tok.eod_id,)
        settings = GreedySettings(max_new_tokens, min_new_tokens, end, tok.eod_id, tok.eod_id)
        batch = left_pad([p.input_ids for p in prompts], tok.eod_id, self.device)
        feats = self.audio_features(prompts)
        ids = greedy_generate(self.model, batch, feats, settings, use_cache, compile_step=self.compile_step).tolist()
        out = []
        for row in ids:
            new = cut_at_end(row, end)
            out.append(GenerationResult(new, tok.decode(new, skip_special_tokens=False), row))
        return out

