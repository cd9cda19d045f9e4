"""CoVoST 2 speech translation (corpus BLEU per language pair), the paper's seven pairs.

Official eval list: `covost2_eval.jsonl` (QwenLM/Qwen-Audio eval_audio/EVALUATION.md). Its source
names carry the pair: evaluate_st.py reads the audio language as `source.split("_")[-3]` and the
text language as `source.split("_")[-2]`, hence `covost2_<src>_<tgt>_test`.
Release layout (facebookresearch/covost): `covost_v2.<src>_<tgt>.tsv` (columns path, sentence,
translation, client_id, split) or the per-split `covost_v2.<src>_<tgt>.test.tsv`, with the Common
Voice (v4) clips under `<cv_root>/<src>/clips/<path>`. CoVoST names Chinese `zh-CN`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from qa_eval.intent import PromptIntent
from qa_eval.prepare import PrepareReport, Row, Skip, require_dir, write_manifest
from qa_eval.records import Sample
from qa_eval.task import TaskSpec
from tasks._common import first_file, pick_split, read_csv

PAIRS = ("en_de", "de_en", "en_zh", "zh_en", "es_en", "fr_en", "it_en")
SOURCES = {pair: f"covost2_{pair}_test" for pair in PAIRS}
PAPER_BLEU = {"en_de": 25.1, "de_en": 33.9, "en_zh": 41.5, "zh_en": 15.7, "es_en": 39.7, "fr_en": 38.5, "it_en": 36.0}
_COVOST_LANG = {"zh": "zh-CN"}  # our code -> CoVoST/Common Voice code


def pair_of(sample: Sample) -> tuple[str, str]:
    """(source language, target language) from the row's fields, else from its source name."""
    src, tgt = sample.fields.get("src_lang"), sample.fields.get("tgt_lang")
    if src and tgt:
        return str(src), str(tgt)
    parts = sample.source.split("_")
    return parts[-3], parts[-2]


def st_intent(sample: Sample) -> PromptIntent:
    src, tgt = pair_of(sample)
    return PromptIntent(kind="translate", audio_lang=src, output_lang=tgt, itn=True)


def _find_tsv(raw: Path, src: str, tgt: str) -> tuple[Path | None, bool]:
    """The pair's TSV and whether it still needs filtering on its `split` column."""
    stem = f"covost_v2.{_COVOST_LANG.get(src, src)}_{_COVOST_LANG.get(tgt, tgt)}"
    for name, needs_filter in ((f"{stem}.test.tsv", False), (f"{stem}.tsv", True)):
        hits = sorted(raw.rglob(name))
        if hits:
            return hits[0], needs_filter
    return None, False


def _clip_dirs(raw: Path, src: str) -> list[Path]:
    """Candidate Common Voice clip folders for a language, the language's own first."""
    cv = _COVOST_LANG.get(src, src)
    dirs = sorted(p for p in raw.rglob("clips") if p.is_dir())
    return sorted(dirs, key=lambda d: d.parent.name not in (cv, src))


def prepare_covost2(raw: Path, out: Path, split: str | None = None) -> PrepareReport:
    """CoVoST 2 TSVs + Common Voice clips -> manifest of the test split (rows keep src/tgt_lang)."""
    require_dir(raw, "CoVoST 2 TSVs and Common Voice clips")
    return write_manifest("covost2", out, _covost2_items(raw, pick_split(split, SOURCES, "covost2")))


def _covost2_items(raw: Path, wanted: dict[str, str]) -> Iterator[Row | Skip]:
    for pair, source in wanted.items():
        src, tgt = pair.split("_")
        tsv, needs_filter = _find_tsv(raw, src, tgt)
        if tsv is None:
            yield Skip("pair TSV not found", f"covost_v2.{pair} under {raw}")
            continue
        clip_dirs = _clip_dirs(raw, src)
        for lineno, row in enumerate(read_csv(tsv, "\t"), start=2):
            if needs_filter and row.get("split") != "test":
                continue
            clip = first_file(clip_dirs, row["path"])
            if not (row.get("translation") or "").strip():
                yield Skip("empty translation", f"{tsv}:{lineno}")
            elif clip is None:
                yield Skip("Common Voice clip missing", row["path"])
            else:
                yield Row(clip, row["translation"].strip(), source, {"src_lang": src, "tgt_lang": tgt})


COVOST2 = TaskSpec(
    name="covost2",
    description="CoVoST 2 speech translation (BLEU): en-de, de-en, en-zh, zh-en, es-en, fr-en, it-en",
    version="1",
    scorer="bleu",
    max_new_tokens=256,
    sources=tuple(SOURCES.values()),
    intent=st_intent,
    paper={SOURCES[p]: {"bleu": PAPER_BLEU[p]} for p in PAIRS},
    manifest_name="covost2_eval.jsonl",
    prepare=prepare_covost2,
    hf_columns={"audio": "audio", "gt": "translation"},
)
