"""Audio decoding on real files: codecs, rates, channels, and every way a file can be bad."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from qa_eval.audio import DECODER_ENV, SAMPLE_RATE, SOUNDFILE_SOXR, load_audio, probe_duration
from qa_eval.errors import AudioError

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.mark.parametrize(
    "name, seconds",
    [("1272-128104-0000.flac", 5.855), ("es.mp3", 8.32), ("glass-breaking-151256.mp3", 4.03)],
)
def test_real_files_decode_to_16k_mono(name: str, seconds: float) -> None:
    wav = load_audio(DATA / name)
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert abs(len(wav) / SAMPLE_RATE - seconds) < 0.1
    assert abs(probe_duration(DATA / name) - seconds) < 0.1
    assert np.abs(wav).max() > 0.01  # real signal, not silence


@pytest.mark.parametrize("rate", [8000, 22050, 48000])
def test_resampling_keeps_duration_and_pitch(tmp_path: Path, rate: int) -> None:
    t = np.arange(rate) / rate
    path = tmp_path / f"tone_{rate}.wav"
    sf.write(path, 0.5 * np.sin(2 * np.pi * 440 * t), rate)
    wav = load_audio(path)
    assert len(wav) == SAMPLE_RATE
    spectrum = np.abs(np.fft.rfft(wav))
    assert abs(np.argmax(spectrum) - 440) <= 1  # 1 s of audio: bin index == Hz


@pytest.fixture()
def soundfile_decoder(monkeypatch):
    """Decode with soundfile + soxr, whatever is installed."""
    monkeypatch.setenv(DECODER_ENV, SOUNDFILE_SOXR)


# Exactly 16000 samples is libvorbis's length for this Ogg file; ffmpeg's Vorbis decoder (the
# reference recipe) returns 15744: tests/core/test_audio_ffmpeg.py checks that path.
@pytest.mark.usefixtures("soundfile_decoder")
def test_stereo_is_mixed_to_mono(tmp_path: Path) -> None:
    left = np.full(16000, 0.5, dtype=np.float32)
    path = tmp_path / "stereo.ogg"
    sf.write(path, np.stack([left, -left * 0.0], axis=1), 16000)
    wav = load_audio(path)
    assert wav.shape == (16000,)
    assert abs(float(wav.mean()) - 0.25) < 0.02


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not found"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="not found"):
        probe_duration(tmp_path / "nope.wav")


def test_zero_length_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="empty"):
        load_audio(path)
    with pytest.raises(AudioError, match="empty"):
        probe_duration(path)


def test_text_file_named_wav(tmp_path: Path) -> None:
    path = tmp_path / "fake.wav"
    path.write_text("this is not audio\n")
    with pytest.raises(AudioError, match="fake.wav"):
        load_audio(path)
    with pytest.raises(AudioError, match="fake.wav"):
        probe_duration(path)


def test_truncated_flac(tmp_path: Path) -> None:
    data = (DATA / "1272-128104-0000.flac").read_bytes()
    path = tmp_path / "cut.flac"
    path.write_bytes(data[:200])
    with pytest.raises(AudioError):
        load_audio(path)


def test_nan_and_inf_samples_are_refused(tmp_path: Path) -> None:
    x = np.zeros(1600, dtype=np.float32)
    x[10], x[20] = np.nan, np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(path)
