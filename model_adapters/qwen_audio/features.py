"""Audio front end: length arithmetic and the batched 80-bin log-mel (Whisper recipe).

The reference computes each mel over the waveform zero-padded (or cut) to 30 s, so the
``max - 8`` floor sees the whole 30 s window; we do the same, batched, on the model's device.
The encoder then reads only the first ``2 * after_cnn_len`` (+1, see model.AudioEncoder) frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from qa_eval.audio import SAMPLE_RATE
from qa_eval.errors import AdapterError

N_FFT = 400
HOP_LENGTH = 160
N_MELS = 80
MAX_SAMPLES = 30 * SAMPLE_RATE  # 480000: longer audio is cut to its first 30 s
N_FRAMES = MAX_SAMPLES // HOP_LENGTH  # 3000


@dataclass(frozen=True, slots=True)
class AudioLengths:
    """Lengths of one audio through the pipeline (all integers, as the reference computes them).

    mel_len = used_samples // 160; after_cnn_len = 1 + (mel_len - 1) // 2 (conv2 stride 2);
    audio_token_num = (after_cnn_len - 2) // 2 + 1 (AvgPool1d(2, 2)); span = tokens + 2 (bos/eos).
    """

    num_samples: int
    num_samples_used: int
    mel_len: int
    after_cnn_len: int
    audio_token_num: int
    span_tokens: int

    @property
    def truncated(self) -> bool:
        return self.num_samples > self.num_samples_used

    @classmethod
    def from_num_samples(cls, num_samples: int) -> "AudioLengths":
        used = min(int(num_samples), MAX_SAMPLES)
        mel_len = used // HOP_LENGTH
        if mel_len < 3:
            raise AdapterError(
                f"audio too short: {num_samples} samples gives {mel_len} mel frames (needs >= 3, i.e. >= 480 samples)"
            )
        after_cnn = 1 + (mel_len - 1) // 2
        tokens = (after_cnn - 2) // 2 + 1
        return cls(int(num_samples), used, mel_len, after_cnn, tokens, tokens + 2)


def load_mel_filters(checkpoint_dir: str | Path, n_mels: int = N_MELS) -> torch.Tensor:
    """The [n_mels, 201] float32 filterbank stored as ``mel_{n_mels}`` in ``mel_filters.npz``."""
    path = Path(checkpoint_dir, "mel_filters.npz")
    if not path.is_file():
        raise AdapterError(f"{path}: mel_filters.npz not found in the checkpoint directory")
    with np.load(path) as f:
        key = f"mel_{n_mels}"
        if key not in f.files:
            raise AdapterError(f"{path}: no '{key}' array (has {f.files})")
        filters = np.asarray(f[key], dtype=np.float32)
    if filters.shape != (n_mels, N_FFT // 2 + 1):
        raise AdapterError(f"{path}: {key} has shape {filters.shape}, expected {(n_mels, N_FFT // 2 + 1)}")
    return torch.from_numpy(filters)


def pad_or_trim_batch(waveforms: Sequence[np.ndarray | torch.Tensor], device: torch.device | str) -> torch.Tensor:
    """Stack 1-D waveforms into a float32 [B, 480000] tensor on `device` (zero padded / cut to 30 s)."""
    out = torch.zeros(len(waveforms), MAX_SAMPLES, dtype=torch.float32, device=device)
    for i, w in enumerate(waveforms):
        t = torch.as_tensor(np.asarray(w, dtype=np.float32) if not torch.is_tensor(w) else w)
        if t.ndim != 1:
            raise AdapterError(f"waveform {i}: expected a 1-D mono array, got shape {tuple(t.shape)}")
        n = min(t.shape[0], MAX_SAMPLES)
        out[i, :n] = t[:n].to(device=device, dtype=torch.float32)
    return out


def log_mel_batch(
    waveforms: Sequence[np.ndarray | torch.Tensor],
    filters: torch.Tensor,
    device: torch.device | str = "cpu",
    chunk: int = 16,
) -> torch.Tensor:
    """Log-mel of each waveform over its 30 s window: float32 [B, 80, 3000] on `device`.

    STFT with n_fft 400, hop 160, periodic Hann window, centre reflect padding; power spectrum
    with the last frame dropped; mel projection; log10 clamped at 1e-10; floor at (per-audio
    max over all 3000 frames) - 8; then (x + 4) / 4. Processed `chunk` audios at a time.
    """
    filters = filters.to(device=device, dtype=torch.float32)
    window = torch.hann_window(N_FFT, device=device, dtype=torch.float32)
    outs = []
    for s in range(0, len(waveforms), chunk):
        audio = pad_or_trim_batch(waveforms[s : s + chunk], device)
        spec = torch.stft(audio, N_FFT, HOP_LENGTH, window=window, return_complex=True)  # [b, 201, 3001]
        power = spec[..., :-1].abs() ** 2
        mel = filters @ power  # [b, 80, 3000]
        log_spec = torch.clamp(mel, min=1e-10).log10()
        floor = log_spec.amax(dim=(1, 2), keepdim=True) - 8.0
        outs.append((torch.maximum(log_spec, floor) + 4.0) / 4.0)
    if not outs:
        return torch.zeros(0, N_MELS, N_FRAMES, device=device)
    return torch.cat(outs, dim=0)
