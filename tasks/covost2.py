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

from qa_eval.prepare import PrepareReport, Row, Skip, require_dir, write_manifest
from qa_eval.task import TaskSpec
from qa_eval.task_families import translation_intent
from tasks._common import first_file, missing_split, pick_split, read_csv

PAIRS = ("en_de", "de_en", "en_zh", "zh_en", "es_en", "fr_en", "it_en")
SOURCES = {pair: f"covost2_{pair}_test" for pair in PAIRS}
PAPER_BLEU = {"en_de": 25.1, "de_en": 33.9, "en_zh": 41.5, "zh_en": 15.7, "es_en": 39.7, "fr_en": 38.5, "it_en": 36.0}
_COVOST_LANG = {"zh": "zh-CN"}  # our code -> CoVoST/Common Voice code


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
    """CoVoST 2 TSVs + Common Voice clips -> manifest of the test split (rows keep src/tgt_lang;
    id = `<pair>/<clip name>`, as one clip may serve several pairs)."""
    require_dir(raw, "CoVoST 2 TSVs and Common Voice clips")
    wanted = pick_split(split, SOURCES, "covost2")
    if split is not None and _find_tsv(raw, *next(iter(wanted)).split("_"))[0] is None:
        raise missing_split(raw, f"covost_v2.{next(iter(wanted))}[.test].tsv", _pairs_present(raw))
    return write_manifest("covost2", out, _covost2_items(raw, wanted))


def _pairs_present(raw: Path) -> list[str]:
    """The language pairs of the CoVoST TSVs under `raw`, in our codes ("zh-CN_en" -> "zh_en")."""
    ours = {v: k for k, v in _COVOST_LANG.items()}
    pairs = (p.name.split(".")[1].split("_") for p in raw.rglob("covost_v2.*.tsv"))
    return ["_".join(ours.get(code, code) for code in pair) for pair in pairs]


def _split_problem(rows: list[dict[str, str]]) -> str | None:
    """Why a TSV holding every split yields no test row (None when it has some)."""
    if rows and "split" not in rows[0]:
        return ("TSV has no 'split' column, so its test rows are unknown "
                "(a test-only TSV is named covost_v2.<src>_<tgt>.test.tsv)")
    if not any(row.get("split") == "test" for row in rows):
        return "TSV has no row of the test split"
    return None


def _covost2_items(raw: Path, wanted: dict[str, str]) -> Iterator[Row | Skip]:
    for pair, source in wanted.items():
        src, tgt = pair.split("_")
        tsv, needs_filter = _find_tsv(raw, src, tgt)
        if tsv is None:
            yield Skip("pair TSV not found", f"covost_v2.{pair} under {raw}")
            continue
        rows = read_csv(tsv, "\t")
        problem = _split_problem(rows) if needs_filter else None
        if problem:
            yield Skip(problem, tsv)
            continue
        clip_dirs = _clip_dirs(raw, src)
        for lineno, row in enumerate(rows, start=2):
            if needs_filter and row.get("split") != "test":
                continue
            clip = first_file(clip_dirs, row["path"])
            if not (row.get("translation") or "").strip():
                yield Skip("empty translation", f"{tsv}:{lineno}")
            elif clip is None:
                yield Skip("Common Voice clip missing", row["path"])
            else:
                fields = {"id": f"{pair}/{Path(row['path']).stem}", "src_lang": src, "tgt_lang": tgt}
                yield Row(clip, row["translation"].strip(), source, fields)


COVOST2 = TaskSpec(
    name="covost2",
    description="CoVoST 2 speech translation (BLEU): en-de, de-en, en-zh, zh-en, es-en, fr-en, it-en",
    version="1",
    scorer="bleu",
    max_new_tokens=256,
    sources=tuple(SOURCES.values()),
    intent=translation_intent(),  # each row's pair: src/tgt_lang fields, else its source name
    paper={SOURCES[p]: {"bleu": PAPER_BLEU[p]} for p in PAIRS},
    manifest_name="covost2_eval.jsonl",
    prepare=prepare_covost2,
    hf_columns={"audio": "audio", "gt": "translation"},
    family="translation",
)
