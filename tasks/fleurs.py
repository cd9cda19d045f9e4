"""FLEURS ASR: Mandarin (the Qwen2-Audio report's Fleurs zh row).

One task per language of LANGUAGES (tasks/_asr_languages.py says why), scored with
`wer-normalized`, the normalisation of QwenLM/Qwen2-Audio eval_audio/evaluate_asr.py (dataset
`fluers_zh`, spelled so there, language zh: per character). Official eval list
(QwenLM/Qwen2-Audio eval_audio/EVALUATION.md): `fleurs_asr_zh_eval.jsonl`.

Release layout (huggingface.co/datasets/google/fleurs): `data/<config>/<split>.tsv` (Mandarin:
config `cmn_hans_cn`; splits train, dev, test), tab-separated without a header line: id, file
name, raw transcription, normalised transcription, words, number of samples, gender. The audio
is the archive `data/<config>/audio/<split>.tar.gz` (members `<split>/<file name>`), or that
archive already extracted (`audio/<split>/<file name>`); wav files taken from the archive are
written once next to the manifest (`<manifest stem>_audio/`). The reference is the raw
transcription (the scorer normalises case, punctuation and numbers itself). `--split` is test
(the default: the split the report gives), dev or train.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from qa_eval.prepare import PrepareReport, Row, Skip, require_dir, write_manifest
from tasks._asr_languages import ReleaseLanguage, language_split, language_task

DATASET = "fleurs"
SPLITS = ("test", "dev", "train")
FILE_NAME, RAW_TRANSCRIPTION = 1, 2  # columns of the TSV
# WER (fraction) from QwenLM/Qwen2-Audio README.md, Evaluation, first results table (the
# report's numbers): Fleurs zh 7.5 %.
LANGUAGES = (ReleaseLanguage("zh", "cmn_hans_cn", 0.075),)


def prepare_fleurs(language: ReleaseLanguage, raw: Path, out: Path, split: str | None = None) -> PrepareReport:
    """`<config>/<split>.tsv` + its audio (folder or archive) -> manifest (id = the file's stem,
    lang = the task's language); lines without a transcription or audio are skipped."""
    require_dir(raw, f"a FLEURS release (data/{language.folder}/)")
    tsv, name, source = language_split(raw, DATASET, language, split, SPLITS)
    audio_dir = Path(out).with_name(Path(out).stem + "_audio")
    return write_manifest(f"{DATASET}-{language.code}", out, _rows(tsv, name, source, language.code, audio_dir))


def _rows(tsv: Path, split: str, source: str, lang: str, audio_dir: Path) -> Iterator[Row | Skip]:
    lines = [(n, line.split("\t")) for n, line in enumerate(tsv.read_text(encoding="utf-8").splitlines(), 1)
             if line.strip()]
    wanted = {cols[FILE_NAME] for _, cols in lines if len(cols) > RAW_TRANSCRIPTION}
    audio = _audio_files(tsv.parent / "audio", split, wanted, audio_dir)
    for lineno, cols in lines:
        if len(cols) <= RAW_TRANSCRIPTION or not cols[RAW_TRANSCRIPTION].strip():
            yield Skip("no transcription", f"{tsv}:{lineno}")
        elif cols[FILE_NAME] not in audio:
            yield Skip("audio file missing", cols[FILE_NAME])
        else:
            wav = audio[cols[FILE_NAME]]
            yield Row(wav, cols[RAW_TRANSCRIPTION].strip(), source, {"id": wav.stem, "lang": lang})


def _audio_files(audio_root: Path, split: str, wanted: set[str], audio_dir: Path) -> dict[str, Path]:
    """file name -> its wav: from `audio/<split>/`, else from `audio/<split>.tar.gz`."""
    folder = audio_root / split
    found = {name: folder / name for name in wanted if (folder / name).is_file()}
    archive = audio_root / f"{split}.tar.gz"
    if wanted - set(found) and archive.is_file():
        found.update(_from_archive(archive, wanted - set(found), audio_dir))
    return found


def _from_archive(archive: Path, names: set[str], audio_dir: Path) -> dict[str, Path]:
    """Write the archive's files whose base name is in `names` into `audio_dir` (by base name, so
    no member writes outside it; a file written by an earlier run is reused)."""
    out: dict[str, Path] = {}
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            name = Path(member.name).name
            if not member.isfile() or name not in names or name in out:
                continue
            dest = audio_dir / name
            if not dest.is_file():
                audio_dir.mkdir(parents=True, exist_ok=True)
                part = dest.with_name(dest.name + ".part")  # renamed when complete
                with tar.extractfile(member) as src, open(part, "wb") as dst:  # type: ignore[union-attr]
                    dst.write(src.read())
                os.replace(part, dest)
            out[name] = dest
    return out


TASKS = {lang.code: language_task(DATASET, "FLEURS", lang, SPLITS, partial(prepare_fleurs, lang),
                                  gt_column="raw_transcription")
         for lang in LANGUAGES}
FLEURS_ZH = TASKS["zh"]
