"""The reference decoders (ffmpeg recipes of Whisper/Qwen-Audio and Qwen2-Audio), the soundfile
fallback, and how a run picks one. Real files and the real ffmpeg; no decoder is faked."""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from qa_eval.audio import (
    DECODER_ENV,
    DECODERS,
    FFMPEG_F32LE_PIPE,
    FFMPEG_S16LE,
    SAMPLE_RATE,
    SOUNDFILE_SOXR,
    choose_decoder,
    decoder_info,
    decoder_name,
    load_audio,
    probe_duration,
)
from qa_eval.errors import AudioError, ConfigError, PrerequisiteError

TESTS = Path(__file__).resolve().parent.parent
DATA = TESTS / "data"
FIXTURE = TESTS / "fixtures" / "qwen_audio_tiny"
FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed")
FFMPEG_DECODERS = (FFMPEG_S16LE, FFMPEG_F32LE_PIPE)


def whisper_reference(path: Path) -> np.ndarray:
    """openai/whisper audio.load_audio (= QwenLM/Qwen-Audio audio.load_audio), run here by hand."""
    cmd = ["ffmpeg", "-nostdin", "-threads", "0", "-i", str(path), "-f", "s16le", "-ac", "1",
           "-acodec", "pcm_s16le", "-ar", "16000", "-"]
    out = subprocess.run(cmd, capture_output=True, check=True).stdout
    return np.frombuffer(out, np.int16).flatten().astype(np.float32) / 32768.0


def transformers_ffmpeg_read():
    """Qwen2-Audio's decoder: transformers.pipelines.audio_utils.ffmpeg_read, loaded from its file
    (the module needs only numpy; importing transformers.pipelines would pull in torch)."""
    spec = importlib.util.find_spec("transformers")
    if spec is None or spec.origin is None:
        pytest.skip("transformers is not installed")
    path = Path(spec.origin).parent / "pipelines" / "audio_utils.py"
    mod_spec = importlib.util.spec_from_file_location("_hf_audio_utils", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module.ffmpeg_read


def fixture_decodes() -> list[tuple[Path, Path, int]]:
    """(original file in tests/data, the fixture's 16 kHz wav of what the official Qwen-Audio code's
    ffmpeg produced from it, its sample count), for the originals this repository holds."""
    out = {}
    for line in (FIXTURE / "cases.jsonl").read_text(encoding="utf-8").splitlines():
        for audio in json.loads(line)["audios"]:
            original = DATA / Path(audio["path"]).name
            if audio["decoded_wav"] and original.is_file():
                out[original] = (FIXTURE / audio["decoded_wav"], audio["num_samples"])
    return [(o, d, n) for o, (d, n) in sorted(out.items())]


@pytest.fixture()
def no_ffmpeg(tmp_path, monkeypatch):
    """A PATH on which neither ffmpeg nor ffprobe exists (as on a machine without them)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv(DECODER_ENV, raising=False)


def write_wav(path: Path, samples: np.ndarray, rate: int, subtype: str = "PCM_16") -> Path:
    sf.write(path, samples, rate, subtype=subtype)
    return path


# -- the recipes, bit for bit ------------------------------------------------------------------


@needs_ffmpeg
@pytest.mark.parametrize("original, decoded, n", fixture_decodes(), ids=lambda v: getattr(v, "name", None))
def test_default_decoder_reproduces_the_official_qwen_audio_decode(original: Path, decoded: Path, n: int) -> None:
    """The fixture recorded the samples the official Qwen-Audio code fed its model (mp3 48 kHz
    mono and stereo, flac): the default decoder returns exactly those from the original file."""
    ref, rate = sf.read(decoded, dtype="float32")
    assert rate == SAMPLE_RATE and len(ref) == n
    assert decoder_name() == FFMPEG_S16LE
    wav = load_audio(original)
    assert wav.dtype == np.float32 and np.array_equal(wav, ref)


@needs_ffmpeg
@pytest.mark.parametrize("name", ["es.mp3", "glass-breaking-151256.mp3", "1272-128104-0000.flac"])
def test_s16le_equals_ffmpeg_own_output(name: str) -> None:
    assert np.array_equal(load_audio(DATA / name, FFMPEG_S16LE), whisper_reference(DATA / name))


@needs_ffmpeg
@pytest.mark.parametrize("rate, channels", [(44100, 1), (44100, 2), (24000, 1), (8000, 2)])
def test_s16le_equals_ffmpeg_on_resampled_wav(tmp_path: Path, rate: int, channels: int) -> None:
    """Clotho-style 44.1 kHz wav (and others): ffmpeg's resampler and mix, not soxr's."""
    rng = np.random.default_rng(rate + channels)
    path = write_wav(tmp_path / "x.wav", 0.3 * rng.standard_normal((rate * 3 // 2, channels)), rate)
    wav = load_audio(path, FFMPEG_S16LE)
    assert np.array_equal(wav, whisper_reference(path))
    fallback = load_audio(path, SOUNDFILE_SOXR)
    assert abs(len(fallback) - len(wav)) <= 1 and not np.array_equal(fallback[: len(wav)], wav[: len(fallback)])


@needs_ffmpeg
@pytest.mark.parametrize("name", ["es.mp3", "glass-breaking-151256.mp3", "1272-128104-0000.flac"])
def test_f32le_pipe_equals_transformers_ffmpeg_read(name: str) -> None:
    ffmpeg_read = transformers_ffmpeg_read()
    ref = ffmpeg_read((DATA / name).read_bytes(), SAMPLE_RATE)
    assert np.array_equal(load_audio(DATA / name, FFMPEG_F32LE_PIPE), ref)


@needs_ffmpeg
def test_the_two_ffmpeg_recipes_mix_stereo_differently(tmp_path: Path) -> None:
    """Qwen2-Audio's float pipe keeps ffmpeg's unnormalised 0.707·(L+R); the int16 recipe (and
    the fallback) give 0.5·(L+R). Same file, same ffmpeg, different model input."""
    left = np.full(SAMPLE_RATE, 0.5)
    path = write_wav(tmp_path / "stereo.wav", np.stack([left, 0 * left], axis=1), SAMPLE_RATE)
    assert load_audio(path, FFMPEG_S16LE).mean() == pytest.approx(0.25, abs=1e-4)
    assert load_audio(path, SOUNDFILE_SOXR).mean() == pytest.approx(0.25, abs=1e-4)
    assert load_audio(path, FFMPEG_F32LE_PIPE).mean() == pytest.approx(0.5 / np.sqrt(2), abs=1e-4)


@needs_ffmpeg
@pytest.mark.parametrize("path", [FIXTURE / "audio" / "music.wav", FIXTURE / "audio" / "short_0p555s.wav",
                                  FIXTURE / "audio" / "es.16k.wav", DATA / "1272-128104-0000.flac"],
                         ids=lambda p: p.name)
def test_every_decoder_agrees_on_16k_mono_16bit(path: Path) -> None:
    """No resampling, no mixing, no codec rounding: all three decoders give identical samples."""
    wavs = [load_audio(path, name) for name in DECODERS]
    assert all(np.array_equal(wavs[0], w) for w in wavs[1:])


@needs_ffmpeg
def test_ten_minutes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "long.flac"
    sf.write(path, (0.05 * rng.standard_normal(600 * SAMPLE_RATE)).astype(np.float32), SAMPLE_RATE)
    wav = load_audio(path, FFMPEG_S16LE)
    assert wav.shape == (600 * SAMPLE_RATE,) and np.array_equal(wav, load_audio(path, SOUNDFILE_SOXR))
    assert probe_duration(path) == 600.0


@needs_ffmpeg
def test_stereo_ogg_is_mixed_to_mono_with_ffmpegs_vorbis_length(tmp_path: Path) -> None:
    """ffmpeg's own Vorbis decoder trims an Ogg file's last block differently from libvorbis
    (15744 instead of 16000 samples here); the reference recipe gets ffmpeg's length."""
    left = np.full(SAMPLE_RATE, 0.5, dtype=np.float32)
    path = tmp_path / "stereo.ogg"
    sf.write(path, np.stack([left, 0 * left], axis=1), SAMPLE_RATE)
    wav = load_audio(path, FFMPEG_S16LE)
    assert np.array_equal(wav, whisper_reference(path))
    assert abs(len(wav) - SAMPLE_RATE) <= 512 and abs(float(wav.mean()) - 0.25) < 0.02


@needs_ffmpeg
def test_formats_only_ffmpeg_reads(tmp_path: Path) -> None:
    """AAC in MP4 (libsndfile cannot read it): the duration comes from ffprobe, samples from ffmpeg."""
    path = tmp_path / "tone.m4a"
    subprocess.run([FFMPEG, "-nostdin", "-f", "lavfi", "-i", "sine=frequency=440:duration=2:sample_rate=44100",
                    "-c:a", "aac", str(path)], capture_output=True, check=True)
    with pytest.raises(RuntimeError):
        sf.info(str(path))
    assert probe_duration(path) == pytest.approx(2.0, abs=0.05)
    wav = load_audio(path)
    assert abs(len(wav) - 2 * SAMPLE_RATE) < 0.05 * SAMPLE_RATE
    assert abs(np.argmax(np.abs(np.fft.rfft(wav[: SAMPLE_RATE]))) - 440) <= 1
    with pytest.raises(AudioError, match="tone.m4a"):
        load_audio(path, SOUNDFILE_SOXR)


# -- bad input, for every decoder --------------------------------------------------------------


@pytest.mark.parametrize("decoder", [d for d in DECODERS if FFMPEG or d == SOUNDFILE_SOXR])
def test_bad_files_raise_audio_error_naming_the_file(tmp_path: Path, decoder: str) -> None:
    with pytest.raises(AudioError, match="not found"):
        load_audio(tmp_path / "nope.wav", decoder)
    empty = write_wav(tmp_path / "empty.wav", np.zeros(0), SAMPLE_RATE)
    with pytest.raises(AudioError, match="empty"):
        load_audio(empty, decoder)
    fake = tmp_path / "fake.wav"
    fake.write_text("this is not audio\n")
    with pytest.raises(AudioError, match=r"fake\.wav.*cannot decode"):
        load_audio(fake, decoder)
    cut = tmp_path / "cut.flac"
    cut.write_bytes((DATA / "1272-128104-0000.flac").read_bytes()[:200])
    with pytest.raises(AudioError, match=r"cut\.flac"):
        load_audio(cut, decoder)
    x = np.zeros(1600, dtype=np.float32)
    x[10], x[20] = np.nan, np.inf
    nan = write_wav(tmp_path / "nan.wav", x, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav.*NaN"):  # ffmpeg alone would turn these into -32768
        load_audio(nan, decoder)


@needs_ffmpeg
def test_file_names_are_never_read_as_ffmpeg_protocols(tmp_path: Path, monkeypatch) -> None:
    rng = np.random.default_rng(2)
    write_wav(tmp_path / "a.wav", 0.1 * rng.standard_normal(1600), SAMPLE_RATE)
    write_wav(tmp_path / "concat:a.wav", 0.1 * rng.standard_normal(3200), SAMPLE_RATE)
    monkeypatch.chdir(tmp_path)
    for name in FFMPEG_DECODERS:
        assert np.array_equal(load_audio("concat:a.wav", name), load_audio("concat:a.wav", SOUNDFILE_SOXR))


# -- choosing a decoder ------------------------------------------------------------------------


@needs_ffmpeg
def test_choice_with_ffmpeg(monkeypatch) -> None:
    monkeypatch.delenv(DECODER_ENV, raising=False)
    assert choose_decoder().name == FFMPEG_S16LE and choose_decoder().warning is None
    assert choose_decoder(FFMPEG_F32LE_PIPE).name == FFMPEG_F32LE_PIPE
    monkeypatch.setenv(DECODER_ENV, SOUNDFILE_SOXR)
    choice = choose_decoder(FFMPEG_F32LE_PIPE)  # the user's choice beats the model's preference
    assert (choice.name, choice.forced) == (SOUNDFILE_SOXR, True)
    mp3 = DATA / "es.mp3"
    assert np.array_equal(load_audio(mp3), load_audio(mp3, SOUNDFILE_SOXR))
    monkeypatch.setenv(DECODER_ENV, "sox")
    with pytest.raises(ConfigError, match=f"{DECODER_ENV}.*'sox'.*{FFMPEG_S16LE}"):
        choose_decoder()
    with pytest.raises(ConfigError, match="unknown audio decoder"):
        load_audio(mp3, "ffmpeg")


@needs_ffmpeg
def test_decoder_info_names_the_recipe_and_versions(monkeypatch) -> None:
    monkeypatch.delenv(DECODER_ENV, raising=False)
    info = decoder_info()
    assert info["name"] == FFMPEG_S16LE and info["ffmpeg"].startswith("ffmpeg version ")
    assert "Copyright" not in info["ffmpeg"]
    assert "-nostdin -threads 0 -i FILE -f s16le -ac 1 -acodec pcm_s16le -ar 16000 -" in info["recipe"]
    assert "pipe:0" in decoder_info(FFMPEG_F32LE_PIPE)["recipe"]
    fallback = decoder_info(SOUNDFILE_SOXR)
    assert fallback["soundfile"] == sf.__version__ and {"libsndfile", "soxr"} <= set(fallback)
    json.dumps(info)  # goes into metrics.json as is


def test_without_ffmpeg_falls_back_with_one_line_warning(no_ffmpeg, caplog) -> None:
    choice = choose_decoder()
    assert (choice.name, choice.requested, choice.forced) == (SOUNDFILE_SOXR, FFMPEG_S16LE, False)
    assert choice.warning and "\n" not in choice.warning and "ffmpeg" in choice.warning
    with caplog.at_level(logging.WARNING, logger="qa_eval.audio"):
        first = load_audio(DATA / "es.mp3")
        load_audio(DATA / "1272-128104-0000.flac")
    assert [r.getMessage() for r in caplog.records] == [choice.warning]  # once per process, one line
    assert first.dtype == np.float32 and abs(len(first) / SAMPLE_RATE - 8.32) < 0.01
    assert decoder_info()["name"] == SOUNDFILE_SOXR


def test_without_ffmpeg_a_forced_ffmpeg_recipe_is_an_error(no_ffmpeg, monkeypatch) -> None:
    with pytest.raises(PrerequisiteError, match="install ffmpeg"):
        load_audio(DATA / "es.mp3", FFMPEG_S16LE)
    monkeypatch.setenv(DECODER_ENV, FFMPEG_F32LE_PIPE)
    with pytest.raises(PrerequisiteError, match=f"{DECODER_ENV}={FFMPEG_F32LE_PIPE}.*ffmpeg"):
        choose_decoder()


def test_without_ffprobe_unreadable_headers_still_fail_cleanly(no_ffmpeg, tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp3"
    fake.write_bytes(b"ID3" + bytes(100))
    with pytest.raises(AudioError, match=r"fake\.mp3.*not a readable audio file"):
        probe_duration(fake)
