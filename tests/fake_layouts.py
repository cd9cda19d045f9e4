"""Small fake dataset releases, laid out as the real public ones (a few clips each).

One builder per task that `qa-eval data prepare` supports. A builder writes its release into the
folder it is given (creating it) and returns a `FakeRelease`: the folder to pass as `--from`, the
`--split` prepare needs (if any) and the sources the prepared manifest holds. Every layout also
holds a few items that preparation must skip (a transcript line without audio, a row with too
few captions, ...), so the skip reasons are exercised too.

Used by tests/tasks/test_prepare_layouts.py (the manifests line by line) and by
tests/integration/test_every_task_end_to_end.py (prepare -> run -> metrics -> leaderboard).
Audio is synthesized: short sine tones (wav/flac/mp3 by suffix, through soundfile) and, for
MELD, a real mp4 made by ffmpeg when ffmpeg is installed; FLEURS packs its test tones in a tar.gz
as the release does.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf


@dataclass(frozen=True)
class FakeRelease:
    task: str
    raw: Path  # the folder to pass as --from
    sources: tuple[str, ...]  # the sources of the prepared manifest, in manifest order
    split: str | None = None  # the --split prepare needs, if any

    def prepare_argv(self, out: Path) -> list[str]:
        """`qa-eval data prepare` arguments (without the program name) writing `out`."""
        argv = ["data", "prepare", self.task, "--from", str(self.raw), "--out", str(out)]
        return argv + (["--split", self.split] if self.split else [])


def tone(path: Path, seconds: float = 0.2, sr: int = 16000, freq: float = 440.0) -> Path:
    """A short sine tone; the format follows the suffix (.wav, .flac, .mp3, .ogg)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.1 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr)
    return path


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def mp4(path: Path, seconds: float = 1.5, sr: int = 44100) -> Path:
    """A small real video file made by ffmpeg: a stereo AAC sine tone and a 32x32 blue picture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        "ffmpeg", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate={sr}:duration={seconds}",
        "-f", "lavfi", "-i", f"color=c=blue:s=32x32:r=10:d={seconds}",
        "-ac", "2", "-c:a", "aac", "-b:a", "64k", "-c:v", "mpeg4", "-shortest", str(path),
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def librispeech_chapter(split_dir: Path, speaker: str, chapter: str, lines: dict[str, str],
                        no_audio: tuple[str, ...] = ()) -> Path:
    """`<split_dir>/<speaker>/<chapter>/` with its trans.txt and one flac per line (not for `no_audio`)."""
    folder = split_dir / speaker / chapter
    for i, utt in enumerate(lines):
        if utt not in no_audio:
            tone(folder / f"{utt}.flac", freq=300.0 + 50 * i)
    _write(folder / f"{speaker}-{chapter}.trans.txt", "".join(f"{utt} {text}\n" for utt, text in lines.items()))
    return folder


# --- one builder per task --------------------------------------------------------------------

def librispeech(root: Path) -> FakeRelease:
    """LibriSpeech/test-clean (two clips, a third transcript line without audio) and dev-other."""
    librispeech_chapter(root / "LibriSpeech" / "test-clean", "1089", "134686", {
        "1089-134686-0000": "HE HOPED THERE WOULD BE STEW",
        "1089-134686-0001": "STUFF IT INTO YOU",
        "1089-134686-0002": "NO AUDIO FOR THIS ONE",
    }, no_audio=("1089-134686-0002",))
    librispeech_chapter(root / "LibriSpeech" / "dev-other", "116", "288045",
                        {"116-288045-0000": "AS I APPROACHED THE CITY"})
    return FakeRelease("librispeech", root, ("librispeech_dev_other", "librispeech_test_clean"))


def librispeech_hf(root: Path) -> FakeRelease:
    """A Hugging Face `datasets` folder (save_to_disk) holding one test-other utterance."""
    import datasets

    wav = tone(root / "src" / "a.wav")
    ds = datasets.Dataset.from_dict({"audio": [str(wav)], "text": ["HELLO WORLD"]})
    ds.cast_column("audio", datasets.Audio(decode=False)).save_to_disk(str(root / "hf"))
    return FakeRelease("librispeech", root / "hf", ("librispeech_test_other",), split="librispeech_test_other")


def aishell1(root: Path) -> FakeRelease:
    """data_aishell: transcript + wav/<split>/<speaker>/ (one wav without a transcript line)."""
    _write(root / "transcript" / "aishell_transcript_v0.8.txt",
           "BAC009S0764W0121 甚至 出现 交易 几乎 停滞 的 情况\n"
           "BAC009S0724W0121 一二线 城市 虽然 也 处于 调整 中\n")
    tone(root / "wav" / "test" / "S0764" / "BAC009S0764W0121.wav", freq=300.0)
    tone(root / "wav" / "dev" / "S0724" / "BAC009S0724W0121.wav", freq=350.0)
    tone(root / "wav" / "test" / "S0764" / "BAC009S0764W0999.wav", freq=400.0)  # no transcript line
    return FakeRelease("aishell1", root, ("aishell1_dev", "aishell1_test"))


def aishell2(root: Path) -> FakeRelease:
    """AISHELL-DEV-TEST-SET: <Channel>/test/{wav.scp,trans.txt,wav/}, plus an ignored iOS/dev."""
    for channel, utt, text in (("iOS", "IT0011W0001", "换一首歌"), ("Android", "AT0011W0001", "播放音乐"),
                               ("Mic", "MT0011W0001", "打开空调")):
        test = root / channel / "test"
        tone(test / "wav" / "T0011" / f"{utt}.wav")
        _write(test / "wav.scp", f"{utt}\twav/T0011/{utt}.wav\n")
        _write(test / "trans.txt", f"{utt}\t{text}\n")
    _write(root / "iOS" / "dev" / "wav.scp", "ID0001\twav/x.wav\n")  # dev: ignored
    return FakeRelease("aishell2", root, ("aishell2_test_android", "aishell2_test_mic", "aishell2_test_ios"))


def covost2(root: Path) -> FakeRelease:
    """CoVoST 2 TSVs (en_de all splits in one file, zh-CN_en per split) + Common Voice mp3 clips."""
    _write(root / "covost" / "covost_v2.en_de.tsv",
           "path\tsentence\ttranslation\tclient_id\tsplit\n"
           "common_voice_en_1.mp3\tHello there.\tHallo zusammen.\tc1\ttest\n"
           "common_voice_en_2.mp3\tTraining row.\tTrainingszeile.\tc2\ttrain\n"
           "common_voice_en_3.mp3\tMissing clip.\tFehlt.\tc3\ttest\n")
    _write(root / "covost" / "covost_v2.zh-CN_en.test.tsv",
           "path\tsentence\ttranslation\tclient_id\n"
           "common_voice_zh-CN_9.mp3\t你好\tHello\tc9\n")
    tone(root / "cv" / "en" / "clips" / "common_voice_en_1.mp3", sr=48000, freq=300.0)
    tone(root / "cv" / "zh-CN" / "clips" / "common_voice_zh-CN_9.mp3", sr=48000, freq=500.0)
    return FakeRelease("covost2", root, ("covost2_en_de_test", "covost2_zh_en_test"))


def clotho(root: Path) -> FakeRelease:
    """clotho_captions_evaluation.csv + evaluation/ (one row with only four captions)."""
    tone(root / "evaluation" / "Santa Motor.wav", freq=200.0)
    tone(root / "evaluation" / "Short.wav", freq=600.0)
    _write(root / "clotho_captions_evaluation.csv",
           "file_name,caption_1,caption_2,caption_3,caption_4,caption_5\n"
           '"Santa Motor.wav",A machine whines.,"An engine, loud, hums.",A motor runs.,A car idles.,Noise hums.\n'
           "Short.wav,One,Two,Three,Four,\n")
    return FakeRelease("clotho", root, ("clotho",))


def clothoaqa(root: Path) -> FakeRelease:
    """clotho_aqa_test.csv + audio_files/ (one question about a missing file)."""
    tone(root / "audio_files" / "rain.wav")
    _write(root / "clotho_aqa_test.csv",
           "file_name,QuestionText,answer,confidence\n"
           "rain.wav,Is it raining?,yes,yes\n"
           "rain.wav,What is falling?,water,maybe\n"
           "gone.wav,Is it loud?,no,yes\n")
    return FakeRelease("clothoaqa", root, ("clothoaqa",))


def vocalsound(root: Path) -> FakeRelease:
    """audio_16k/<speaker>_<n>_<label>.wav (one file without a label) + datafiles/te.json."""
    for i, name in enumerate(("f0003_0_cough.wav", "m0012_1_throatclearing.wav", "f0100_2_laughter.wav",
                              "readme_notes.wav")):
        tone(root / "audio_16k" / name, freq=300.0 + 100 * i)
    _write(root / "datafiles" / "te.json",
           json.dumps({"data": [{"wav": "/x/audio_16k/f0003_0_cough.wav", "labels": "/m/01b_21"}]}))
    return FakeRelease("vocalsound", root, ("vocalsound",))


def cochlscene(root: Path) -> FakeRelease:
    """<split>/<Class>/*.wav: two Test clips and a Train clip (not prepared by default)."""
    tone(root / "Test" / "Bus" / "Bus_test_001.wav", freq=250.0)
    tone(root / "Test" / "ResidentialArea" / "ResidentialArea_test_001.wav", freq=500.0)
    tone(root / "Train" / "Cafe" / "Cafe_train_001.wav")
    return FakeRelease("cochlscene", root, ("cochlscene",))


def tut2017(root: Path) -> FakeRelease:
    """meta.txt ("audio/x.wav<TAB>label") + audio/ (one listed file missing)."""
    tone(root / "audio" / "1.wav", freq=250.0)
    tone(root / "audio" / "2.wav", freq=500.0)
    _write(root / "meta.txt", "audio/1.wav\tcafe/restaurant\naudio/2.wav\tcity_center\naudio/3.wav\tbeach\n")
    return FakeRelease("tut2017", root, ("tut2017",))


MELD_VIDEO_SECONDS = 1.5


def meld(root: Path) -> FakeRelease:
    """MELD.Raw: test_sent_emo.csv; dia0_utt0 already extracted (wav), dia0_utt1 only as mp4,
    dia1_utt0 missing. The mp4 is a real video made by ffmpeg when ffmpeg is installed, else a
    placeholder (prepare then skips it, naming ffmpeg)."""
    _write(root / "test_sent_emo.csv",
           "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"
           '1,"Why do all you\'re coffee mugs have numbers on the bottom?",Mark,surprise,positive,0,0,3,19,00:14:38,00:14:40\n'
           "2,Oh.,Rachel,neutral,neutral,0,1,3,19,00:14:41,00:14:42\n"
           "3,Hi.,Ross,joy,positive,1,0,3,19,00:14:43,00:14:44\n")
    tone(root / "audio" / "dia0_utt0.wav")
    video = root / "output_repeated_splits_test" / "dia0_utt1.mp4"
    if ffmpeg_available():
        mp4(video, seconds=MELD_VIDEO_SECONDS)
    else:
        video.parent.mkdir(parents=True, exist_ok=True)
        video.write_bytes(b"not really a video")
    return FakeRelease("meld", root, ("meld",))


def nsynth(root: Path) -> FakeRelease:
    """nsynth-test/examples.json + audio/<note>.wav (one note without audio)."""
    folder = root / "nsynth-test"
    tone(folder / "audio" / "keyboard_acoustic_004-060-100.wav", freq=261.6)
    tone(folder / "audio" / "bass_synthetic_033-022-050.wav", freq=58.3)
    _write(folder / "examples.json", json.dumps({
        "keyboard_acoustic_004-060-100": {"pitch": 60, "velocity": 100, "instrument_family_str": "keyboard",
                                          "qualities_str": ["dark", "reverb"]},
        "bass_synthetic_033-022-050": {"pitch": 22, "velocity": 50, "instrument_family_str": "bass", "qualities_str": []},
        "guitar_missing_000-050-025": {"pitch": 50, "velocity": 25, "instrument_family_str": "guitar", "qualities_str": []},
    }))
    return FakeRelease("nsynth", root, ("nsynth",))


def mmau_test_mini(root: Path) -> FakeRelease:
    """mmau-test-mini.json + test-mini-audios/ (as MMAU's fields spell them): three questions,
    one without a sub-category, one whose audio is missing, one with a single option."""
    def question(qid: str, task: str, sub: str | None, difficulty: str, q: str, choices: list[str], answer: str):
        row = {"id": qid, "audio_id": f"./test-mini-audios/{qid}.wav", "question": q, "choices": choices,
               "answer": answer, "dataset": "fake", "task": task, "split": "test-mini", "category": "Reasoning",
               "sub-category": sub, "difficulty": difficulty}
        return {k: v for k, v in row.items() if v is not None}

    questions = [
        question("mmau-0001", "sound", "Acoustic Source Inference", "easy", "What makes this sound?",
                 ["A dog", "A car", "A bell", "Rain"], "A bell"),
        question("mmau-0002", "music", "Instrumentation", "medium", "Which instrument plays?",
                 ["Piano", "Violin", "Drums", "Flute"], "Flute"),
        question("mmau-0003", "speech", None, "hard", "How many speakers are there?", ["one", "two", "three"], "one"),
        question("mmau-0004", "sound", "Counting", "easy", "How many beeps?", ["two", "three"], "two"),
        question("mmau-0005", "music", "Instrumentation", "easy", "Which one?", ["Only one"], "Only one"),
    ]
    for i, row in enumerate(questions[:3] + questions[4:]):
        tone(root / row["audio_id"], freq=300.0 + 150 * i)
    _write(root / "mmau-test-mini.json", json.dumps(questions, ensure_ascii=False, indent=1))
    return FakeRelease("mmau-test-mini", root, ("mmau_test_mini",))


# One sentence per Common Voice language: (locale folder, sentence).
CV_SENTENCES = {"en": ("en", "Hello there, how are you?"), "zh": ("zh-CN", "今天天气很好。"),
                "yue": ("yue", "我哋聽日去飲茶。"), "fr": ("fr", "Bonjour à tous.")}
CV_HEADER = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tvariant\tlocale\tsegment\n"


def _cv_row(clip: str, sentence: str, locale: str) -> str:
    return f"c0ffee\t{clip}\t{sentence}\t2\t0\t\t\t\t\t{locale}\t\n"


def common_voice(root: Path, lang: str) -> FakeRelease:
    """cv-corpus-15.0-2023-09-08/<locale>/: test.tsv (two clips, a row whose clip is missing, a
    row with an empty sentence), dev.tsv (one clip), clips/*.mp3; an `it` locale beside it."""
    locale, sentence = CV_SENTENCES[lang]
    corpus = root / "cv-corpus-15.0-2023-09-08"
    folder = corpus / locale
    for i in range(3):
        tone(folder / "clips" / f"common_voice_{locale}_{100 + i}.mp3", sr=48000, freq=300.0 + 80 * i)
    _write(folder / "test.tsv", CV_HEADER + _cv_row(f"common_voice_{locale}_100.mp3", sentence, locale)
           + _cv_row(f"common_voice_{locale}_101.mp3", sentence[::-1], locale)
           + _cv_row(f"common_voice_{locale}_999.mp3", sentence, locale)
           + _cv_row(f"common_voice_{locale}_102.mp3", "", locale))
    _write(folder / "dev.tsv", CV_HEADER + _cv_row(f"common_voice_{locale}_102.mp3", sentence, locale))
    tone(corpus / "it" / "clips" / "common_voice_it_1.mp3", sr=48000)
    _write(corpus / "it" / "test.tsv", CV_HEADER + _cv_row("common_voice_it_1.mp3", "Ciao a tutti.", "it"))
    return FakeRelease(f"cv15-{lang}", root, (f"cv15_{lang}_test",))


FLEURS_LINES = (("1001", "10004088536354799741.wav", "这并不是告别。"),
                ("1002", "1000631617766157745.wav", "他们在2011年去了北京，看了长城。"),
                ("1003", "gone.wav", "没有音频。"))


def _fleurs_line(sample_id: str, name: str, text: str) -> str:
    return f"{sample_id}\t{name}\t{text}\t{text.lower()}\t{' '.join(text)}\t32000\tFEMALE\n"


def fleurs_zh(root: Path) -> FakeRelease:
    """data/cmn_hans_cn/: test.tsv (two lines with audio in audio/test.tar.gz, one without audio,
    one without a transcription), dev.tsv with audio/dev/ already extracted; en_us beside it."""
    folder = root / "data" / "cmn_hans_cn"
    _write(folder / "test.tsv", "".join(_fleurs_line(*line) for line in FLEURS_LINES) + "1004\tempty.wav\n")
    archive = folder / "audio" / "test.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for i, (_, name, _) in enumerate(FLEURS_LINES[:2]):
            data = tone(root / "src" / name, seconds=0.3, freq=400.0 + 100 * i).read_bytes()
            info = tarfile.TarInfo(f"test/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    shutil.rmtree(root / "src")
    _write(folder / "dev.tsv", _fleurs_line("2001", "2001.wav", "谢谢。"))
    tone(folder / "audio" / "dev" / "2001.wav")
    _write(root / "data" / "en_us" / "test.tsv", _fleurs_line("3001", "3001.wav", "hello"))
    return FakeRelease("fleurs-zh", root, ("fleurs_zh_test",))


# task name -> builder of its release layout (every task with a `prepare`)
BUILDERS: dict[str, Callable[[Path], FakeRelease]] = {
    "librispeech": librispeech,
    "aishell1": aishell1,
    "aishell2": aishell2,
    "covost2": covost2,
    "clotho": clotho,
    "clothoaqa": clothoaqa,
    "vocalsound": vocalsound,
    "cochlscene": cochlscene,
    "tut2017": tut2017,
    "meld": meld,
    "nsynth": nsynth,
    "mmau-test-mini": mmau_test_mini,
    **{f"cv15-{lang}": partial(common_voice, lang=lang) for lang in CV_SENTENCES},
    "fleurs-zh": fleurs_zh,
}
