"""Common Voice 15 ASR: English, Mandarin, Cantonese and French (the Qwen2-Audio report's rows).

One task per language of LANGUAGES (tasks/_asr_languages.py says why), scored with
`wer-normalized`, the normalisation of QwenLM/Qwen2-Audio eval_audio/evaluate_asr.py (datasets
cv15_en, cv15_zh, cv15_yue, cv15_fr, languages en, zh, yue, fr). Official eval lists
(QwenLM/Qwen2-Audio eval_audio/EVALUATION.md): `cv15_asr_<lang>_eval.jsonl`.

Release layout (commonvoice.mozilla.org, `cv-corpus-15.0-<date>/`): one folder per locale (`en`,
`zh-CN`, `yue`, `fr`) holding the tab-separated `test.tsv` and `dev.tsv` (a header line; the
columns used are `path`, the clip's file name, and `sentence`) and the mp3 clips under `clips/`.
`--split` is test (the default: the split the report gives) or dev.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

from qa_eval.prepare import PrepareReport, Row, Skip, require_dir, write_manifest
from tasks._asr_languages import ReleaseLanguage, language_split, language_task
from tasks._common import read_csv

DATASET = "cv15"
SPLITS = ("test", "dev")
# WER (fraction) from QwenLM/Qwen2-Audio README.md, Evaluation, first results table (the
# report's numbers): Common Voice 15 en | zh | yue | fr  8.6 | 6.9 | 5.9 | 9.6 %.
LANGUAGES = (
    ReleaseLanguage("en", "en", 0.086),
    ReleaseLanguage("zh", "zh-CN", 0.069),
    ReleaseLanguage("yue", "yue", 0.059),
    ReleaseLanguage("fr", "fr", 0.096),
)


def prepare_common_voice(language: ReleaseLanguage, raw: Path, out: Path, split: str | None = None) -> PrepareReport:
    """`<locale>/<split>.tsv` + `<locale>/clips/` -> manifest (id = the clip's stem, lang = the
    task's language); rows with an empty sentence or a missing clip are skipped."""
    require_dir(raw, f"a Common Voice 15 release (its {language.folder}/ folder)")
    tsv, _, source = language_split(raw, DATASET, language, split, SPLITS)
    return write_manifest(f"{DATASET}-{language.code}", out, _rows(tsv, source, language.code))


def _rows(tsv: Path, source: str, lang: str) -> Iterator[Row | Skip]:
    clips = tsv.parent / "clips"
    for lineno, row in enumerate(read_csv(tsv, "\t"), start=2):
        name, sentence = (row.get("path") or "").strip(), (row.get("sentence") or "").strip()
        if not sentence:
            yield Skip("empty sentence", f"{tsv}:{lineno}")
        elif not name or not (clips / name).is_file():
            yield Skip("clip missing", clips / name)
        else:
            yield Row(clips / name, sentence, source, {"id": Path(name).stem, "lang": lang})


TASKS = {lang.code: language_task(DATASET, "Common Voice 15", lang, SPLITS, partial(prepare_common_voice, lang),
                                  gt_column="sentence")
         for lang in LANGUAGES}
CV15_EN, CV15_ZH, CV15_YUE, CV15_FR = (TASKS[code] for code in ("en", "zh", "yue", "fr"))
