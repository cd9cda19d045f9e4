"""Audio I/O: decode any wav/flac/ogg/mp3 to 16 kHz mono float32, and read durations cheaply.

Decoding uses soundfile (libsndfile, which reads mp3 since 1.1) and resampling uses soxr
(high quality). No torch here: this runs in data-loading worker processes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from qa_eval.errors import AudioError

SAMPLE_RATE = 16_000  # every model sees 16 kHz mono


def probe_duration(path: str | Path) -> float:
    """Duration in seconds from the file header (no decoding). Raises AudioError."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # libsndfile raises a bare RuntimeError for unknown formats
        raise AudioError(f"{path}: not a readable audio file ({_reason(exc)})") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioError(f"{path}: audio file is empty (0 samples)")
    return info.frames / info.samplerate


def load_audio(path: str | Path) -> np.ndarray:
    """Decode `path` to a 1-D float32 array at 16 kHz, stereo mixed down to mono.

    Raises AudioError for missing, empty, corrupt or non-finite audio (never returns silence
    in place of a failure).
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(f"{path}: cannot decode audio ({_reason(exc)})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: audio file is empty (0 samples)")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(mono).all():
        raise AudioError(f"{path}: audio contains NaN or infinite samples")
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


def decoder_info() -> dict[str, str]:
    """Which decoder turns files into samples (recorded in metrics.json, part of the fingerprint)."""
    return {"name": "soundfile+soxr", "soundfile": sf.__version__, "libsndfile": sf.__libsndfile_version__}
