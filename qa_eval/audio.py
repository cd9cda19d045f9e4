"""Audio I/O: decode any audio file to 16 kHz mono float32, and read durations cheaply.

Three decoders; a run picks one (`choose_decoder`) and records it in metrics.json (`decoder_info`):

- ``ffmpeg-s16le``: the recipe of openai/whisper and QwenLM/Qwen-Audio (`audio.load_audio`), flag
  for flag: ``ffmpeg -nostdin -threads 0 -i FILE -f s16le -ac 1 -acodec pcm_s16le -ar 16000 -``,
  samples = int16 / 32768. The default wherever ffmpeg is on PATH.
- ``ffmpeg-f32le-pipe``: the recipe of QwenLM/Qwen2-Audio's eval scripts (transformers'
  `ffmpeg_read`): the file's bytes on stdin, ``ffmpeg -i pipe:0 -ac 1 -ar 16000 -f f32le ...
  pipe:1``, float32 as ffmpeg writes it. It differs from the above: no int16 rounding, stereo is
  mixed as 0.707·(L+R) instead of 0.5·(L+R), and an mp3 read from a pipe keeps its end padding.
- ``soundfile-soxr``: libsndfile, mean of the channels, soxr HQ resampling. The fallback without
  ffmpeg; equal to ffmpeg on 16-bit 16 kHz mono wav/flac, close but not equal on mp3 or resampled audio.

$QA_EVAL_AUDIO_DECODER forces one of them (a missing ffmpeg is then an error, not a fallback).
No torch here: this runs in data-loading worker processes.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa_eval.errors import AudioError, ConfigError, PrerequisiteError

SAMPLE_RATE = 16_000  # every model sees 16 kHz mono

FFMPEG_S16LE = "ffmpeg-s16le"  # openai/whisper, QwenLM/Qwen-Audio
FFMPEG_F32LE_PIPE = "ffmpeg-f32le-pipe"  # QwenLM/Qwen2-Audio eval (transformers ffmpeg_read)
SOUNDFILE_SOXR = "soundfile-soxr"  # fallback without ffmpeg
DECODERS = (FFMPEG_S16LE, FFMPEG_F32LE_PIPE, SOUNDFILE_SOXR)
DECODER_ENV = "QA_EVAL_AUDIO_DECODER"

_FFMPEG_HINT = "install ffmpeg (apt-get install ffmpeg, brew install ffmpeg or conda install -c conda-forge ffmpeg)"
_FFMPEG_TIMEOUT_S = 600.0
_log = logging.getLogger(__name__)


class DecoderFallbackWarning(UserWarning):
    """ffmpeg is missing: the run decodes with soundfile + soxr instead of the reference recipe."""


@dataclass(frozen=True, slots=True)
class DecoderChoice:
    """The decoder a run uses, and why."""

    name: str  # one of DECODERS: what load_audio runs
    requested: str  # what was asked for: $QA_EVAL_AUDIO_DECODER, the model's preference, or the default
    forced: bool  # requested through $QA_EVAL_AUDIO_DECODER
    warning: str | None = None  # one line to show when the request could not be honoured


def choose_decoder(preferred: str | None = None) -> DecoderChoice:
    """$QA_EVAL_AUDIO_DECODER when set (PrerequisiteError if it needs a missing ffmpeg), else
    `preferred` (a model family's reference recipe; default ffmpeg-s16le). Without ffmpeg on PATH
    an ffmpeg recipe falls back to soundfile-soxr with a one-line `warning`. No side effects."""
    forced = os.environ.get(DECODER_ENV, "").strip()
    if forced and forced != "auto":
        _check_name(forced, f"${DECODER_ENV}")
        if forced != SOUNDFILE_SOXR and _ffmpeg() is None:
            raise PrerequisiteError(f"${DECODER_ENV}={forced} needs the ffmpeg program on PATH: {_FFMPEG_HINT}")
        return DecoderChoice(forced, forced, True)
    wanted = preferred or FFMPEG_S16LE
    _check_name(wanted, "audio decoder")
    if wanted == SOUNDFILE_SOXR or _ffmpeg() is not None:
        return DecoderChoice(wanted, wanted, False)
    warning = (f"audio: ffmpeg not found, decoding with {SOUNDFILE_SOXR} instead of the reference's {wanted} "
               f"(mp3 and resampled audio differ slightly from the paper's runs); {_FFMPEG_HINT}")
    return DecoderChoice(SOUNDFILE_SOXR, wanted, False, warning)


def decoder_name(preferred: str | None = None) -> str:
    """Name of the decoder `choose_decoder(preferred)` picks."""
    return choose_decoder(preferred).name


def decoder_info(name: str | None = None) -> dict[str, str]:
    """What metrics.json records about decoder `name` (default: the one load_audio uses without
    one): its name, recipe and reference, and the ffmpeg version or soundfile/libsndfile/soxr versions."""
    name = name or _default_decoder(os.environ.get(DECODER_ENV, ""), os.environ.get("PATH", ""))
    _check_name(name, "audio decoder")
    if name == SOUNDFILE_SOXR:
        sf, soxr = _soundfile_soxr()
        return {"name": name, "recipe": "soundfile float32, mean of channels, soxr.resample quality HQ",
                "soundfile": sf.__version__, "libsndfile": sf.__libsndfile_version__, "soxr": soxr.__version__}
    exe = _require_ffmpeg(name)
    if name == FFMPEG_S16LE:
        recipe = " ".join(_s16le_command("ffmpeg", "FILE")) + "; samples = int16 / 32768"
        reference = "openai/whisper and QwenLM/Qwen-Audio audio.load_audio"
    else:
        recipe = " ".join(_f32le_pipe_command("ffmpeg")) + " < FILE; samples = float32"
        reference = "transformers.pipelines.audio_utils.ffmpeg_read (QwenLM/Qwen2-Audio eval_audio)"
    return {"name": name, "recipe": recipe, "reference": reference, "ffmpeg": _ffmpeg_version(exe)}


def probe_duration(path: str | Path) -> float:
    """Duration in seconds from the file header (no decoding): libsndfile, else ffprobe for
    formats only ffmpeg reads. Raises AudioError. An mp3's header length may differ from its
    decoded length by a frame or two; durations only sort batches."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    try:
        info = _soundfile_soxr()[0].info(str(path))
    except Exception as exc:  # libsndfile raises a bare RuntimeError for unknown formats (or is missing)
        seconds = _ffprobe_duration(path)
        if seconds is None:
            raise AudioError(f"{path}: not a readable audio file ({_reason(exc)})") from None
        return seconds
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioError(f"{path}: audio file is empty (0 samples)")
    return info.frames / info.samplerate


def load_audio(path: str | Path, decoder: str | None = None) -> np.ndarray:
    """Decode `path` to a 1-D float32 array at 16 kHz, several channels mixed down to mono.

    `decoder`: one of DECODERS; None takes `choose_decoder()` (logging its fallback warning once
    per process). Raises AudioError for missing, empty, corrupt or non-finite audio (never returns
    silence in place of a failure), PrerequisiteError for an ffmpeg recipe without ffmpeg.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    name = decoder or _default_decoder(os.environ.get(DECODER_ENV, ""), os.environ.get("PATH", ""))
    _check_name(name, "audio decoder")
    if name == SOUNDFILE_SOXR:
        return _decode_soundfile(path)
    exe = _require_ffmpeg(name)
    _refuse_nonfinite_float_pcm(path)
    if name == FFMPEG_S16LE:  # an absolute path, so no name is read as an ffmpeg protocol ("concat:...")
        raw = _run_ffmpeg(path, _s16le_command(exe, str(path.absolute())), None)
        wav = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
    else:
        raw = _run_ffmpeg(path, _f32le_pipe_command(exe), path.read_bytes())
        wav = np.frombuffer(raw[: len(raw) // 4 * 4], dtype="<f4").astype(np.float32)
    return _checked(path, wav)


# -- ffmpeg ------------------------------------------------------------------------------------


def _s16le_command(exe: str, file: str) -> list[str]:
    """openai/whisper's (and Qwen-Audio's) decode command, flag for flag."""
    return [exe, "-nostdin", "-threads", "0", "-i", file, "-f", "s16le", "-ac", "1", "-acodec", "pcm_s16le",
            "-ar", str(SAMPLE_RATE), "-"]


def _f32le_pipe_command(exe: str) -> list[str]:
    """transformers' ffmpeg_read command, flag for flag except '-loglevel error' for 'quiet' (so a
    failure says why; log verbosity does not change samples)."""
    return [exe, "-i", "pipe:0", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "-hide_banner",
            "-loglevel", "error", "pipe:1"]


def _ffmpeg() -> str | None:
    return shutil.which("ffmpeg")


def _require_ffmpeg(decoder: str) -> str:
    exe = _ffmpeg()
    if exe is None:
        raise PrerequisiteError(f"audio decoder {decoder} needs the ffmpeg program on PATH: {_FFMPEG_HINT}")
    return exe


@lru_cache(maxsize=None)
def _ffmpeg_version(exe: str) -> str:
    """First line of `ffmpeg -version`, without the copyright ("ffmpeg version 5.1.9-0+deb12u1")."""
    try:
        out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({type(exc).__name__})"
    first = out.splitlines()[0] if out.strip() else "unknown"
    return first.split(" Copyright")[0].strip()


def _run_ffmpeg(path: Path, command: list[str], stdin: bytes | None) -> bytes:
    """ffmpeg's stdout; AudioError naming `path` when it fails or hangs."""
    try:
        proc = subprocess.run(command, input=stdin, capture_output=True, timeout=_FFMPEG_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AudioError(f"{path}: ffmpeg did not finish decoding within {_FFMPEG_TIMEOUT_S:.0f} s") from None
    except OSError as exc:
        raise PrerequisiteError(f"cannot run {command[0]} ({exc.strerror}): {_FFMPEG_HINT}") from None
    if proc.returncode != 0:
        raise AudioError(f"{path}: cannot decode audio (ffmpeg: {_ffmpeg_reason(proc.stderr)})")
    return proc.stdout


def _ffmpeg_reason(stderr: bytes) -> str:
    """The last message ffmpeg printed, without the input name it starts with."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").replace("\r", "\n").splitlines() if ln.strip()]
    if not lines:
        return "no message"
    head, sep, tail = lines[-1].rpartition(": ")
    return (tail if sep and ("/" in head or head.startswith("pipe:")) else lines[-1])[:300]


def _ffprobe_duration(path: Path) -> float | None:
    """Container duration from ffprobe (header only), or None when ffprobe is absent or fails."""
    exe = shutil.which("ffprobe")
    if exe is None:
        return None
    cmd = [exe, "-v", "error", "-show_entries", "format=duration", "-of", "default=noprint_wrappers=1:nokey=1",
           str(path.absolute())]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        seconds = float(proc.stdout.strip().splitlines()[0]) if proc.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    return seconds if seconds is not None and np.isfinite(seconds) and seconds > 0 else None


def _refuse_nonfinite_float_pcm(path: Path) -> None:
    """ffmpeg's int16 conversion turns NaN and inf into -32768 without a word, so float PCM files
    that libsndfile reads are scanned first. Other files go to ffmpeg unchecked."""
    try:
        sf = _soundfile_soxr()[0]
        if sf.info(str(path)).subtype not in ("FLOAT", "DOUBLE"):
            return
        for block in sf.blocks(str(path), blocksize=1 << 16, dtype="float64", always_2d=True):
            if not np.isfinite(block).all():
                raise AudioError(f"{path}: audio contains NaN or infinite samples")
    except AudioError:
        raise
    except Exception:  # unreadable for libsndfile: ffmpeg decides
        return


# -- soundfile + soxr --------------------------------------------------------------------------


def _soundfile_soxr():
    """(soundfile, soxr), imported when first needed: with ffmpeg present the run needs neither."""
    try:
        import soundfile
        import soxr
    except ImportError:
        raise PrerequisiteError(f"decoding audio needs ffmpeg or the soundfile and soxr packages: {_FFMPEG_HINT}, "
                                "or pip install soundfile soxr") from None
    return soundfile, soxr


def _decode_soundfile(path: Path) -> np.ndarray:
    sf, soxr = _soundfile_soxr()
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


# -- shared ------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _default_decoder(forced: str, search_path: str) -> str:
    """choose_decoder() once per ($QA_EVAL_AUDIO_DECODER, $PATH); logs its warning (one line) once."""
    choice = choose_decoder()
    if choice.warning:
        _log.warning(choice.warning)
    return choice.name


def _check_name(name: str, what: str) -> None:
    if name not in DECODERS:
        raise ConfigError(f"{what}: unknown audio decoder {name!r}; choose one of {', '.join(DECODERS)}")


def _checked(path: Path, wav: np.ndarray) -> np.ndarray:
    if wav.size == 0:
        raise AudioError(f"{path}: audio file is empty (0 samples)")
    if not np.isfinite(wav).all():
        raise AudioError(f"{path}: audio contains NaN or infinite samples")
    return np.ascontiguousarray(wav, dtype=np.float32)


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
