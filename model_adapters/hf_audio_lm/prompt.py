"""PromptIntent -> the chat messages of one sample, rendered as JSON (the run's prompt text).

The prompt an audio-LM run records and hashes is the JSON of the chat messages the model gets,
with each audio as a placeholder (`{"type": "audio"}`, or the family's audio token inside the
text): `{"messages": [{"role": "system", ...}, {"role": "user", "content": [{"type": "audio"},
{"type": "text", "text": "Transcribe ..."}]}]}`. It is pure (no checkpoint file is read), and
complete: the adapter rebuilds the model input from it alone (chat template of the checkpoint
applied at generation time; the checkpoint's revision is in the run fingerprint too). A family
that prefills the answer (Qwen3-ASR's `language English<asr_text>`) ends with that assistant
message, continued by the model.

Options: `system_prompt` (None: the family's default; "": no system message; else the text)
and `style` ("family": the family's wording where the table has one, else NEUTRAL; "neutral":
NEUTRAL for every family, so that several families are asked the same words).
"""

from __future__ import annotations

import json
from typing import Any

from qa_eval.errors import AdapterError, ConfigError
from qa_eval.intent import LANGUAGE_NAMES, PromptIntent, option_lines

from .families import NEUTRAL, Family, Wording

STYLES = ("family", "neutral")


def _lang(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def check_supported(family: Family, intent: PromptIntent) -> None:
    """AdapterError naming the kind when the family cannot express what the intent asks."""
    if intent.timestamps:
        raise AdapterError(f"{family.name} cannot do word-level timestamps (task kind 'transcribe' with "
                           "timestamps): its output has no timestamp tokens for the SRWT scorer")
    if intent.kind == "analyze_note":
        raise AdapterError(f"{family.name} cannot do NSynth note analysis (task kind 'analyze_note'): the scorer "
                           "needs Qwen-Audio's <|pitch|>/<|midi_pitch_N|> tags")
    if intent.kind not in family.kinds:
        raise AdapterError(f"{family.name} cannot do task kind {intent.kind!r}: it only does "
                           f"{', '.join(sorted(family.kinds))}")


def pick_wording(family: Family, intent: PromptIntent, style: str) -> Wording:
    """The wording for an intent in a style (family table first, then NEUTRAL)."""
    if style not in STYLES:
        raise ConfigError(f"instruction_style must be one of {', '.join(STYLES)}, got {style!r}")
    key = intent.key
    tables = [family.wordings, NEUTRAL] if style == "family" else [NEUTRAL]
    for table in tables:
        for k in (key, intent.kind):
            if k in table:
                return table[k]
    raise AdapterError(f"{family.name}: no instruction for task kind {intent.kind!r} with label set "
                       f"{intent.label_set!r}")


def fill(wording: Wording, intent: PromptIntent) -> str:
    labels = tuple(getattr(intent, "labels", ()) or ())
    return wording.text.format(
        lang=_lang(intent.audio_lang), src=_lang(intent.audio_lang), tgt=_lang(intent.output_lang),
        question=(intent.question or "").strip(),
        choices=f" Choose one of: {', '.join(labels)}." if labels else "",
        options=option_lines(intent.choices),
    )


def messages(family: Family, intent: PromptIntent, n_audio: int, system_prompt: str | None = None,
             style: str = "family") -> list[dict[str, Any]]:
    """The chat messages of one sample (audio placeholders, no data)."""
    check_supported(family, intent)
    if n_audio < 1:
        raise AdapterError(f"{family.name}: a prompt needs at least one audio, got {n_audio}")
    text = fill(pick_wording(family, intent, style), intent)
    if system_prompt is None:
        system_prompt = family.system_prompt.text if family.system_prompt else ""
    prefix = family.assistant_prefix.get(intent.kind)
    out: list[dict[str, Any]] = []
    if system_prompt:
        out.append({"role": "system", "content": _content(family, system_prompt)})
    if family.audio_token:
        out.append({"role": "user", "content": family.audio_token * n_audio + text})
    else:
        items: list[dict[str, str]] = [{"type": "audio"} for _ in range(n_audio)]
        out.append({"role": "user", "content": items + ([{"type": "text", "text": text}] if text else [])})
    if prefix is not None:
        out.append({"role": "assistant", "content": _content(family, fill(prefix, intent))})
    return out


def _content(family: Family, text: str) -> Any:
    return text if family.audio_token else [{"type": "text", "text": text}]


def render_prompt(family: Family, intent: PromptIntent, n_audio: int = 1, system_prompt: str | None = None,
                  style: str = "family") -> str:
    """The JSON prompt text of one sample (see the module docstring)."""
    return json.dumps({"messages": messages(family, intent, n_audio, system_prompt, style)}, ensure_ascii=False)


def parse_prompt(prompt: str) -> list[dict[str, Any]]:
    """The messages of a rendered prompt; AdapterError when it is not one."""
    try:
        msgs = json.loads(prompt)["messages"]
    except (ValueError, KeyError, TypeError) as exc:
        raise AdapterError(f"not an audio-LM chat prompt (expected the JSON render_prompt writes): "
                           f"{prompt[:80]!r}") from exc
    if not isinstance(msgs, list) or not msgs:
        raise AdapterError(f"audio-LM prompt without messages: {prompt[:80]!r}")
    return msgs


def count_audio(msgs: list[dict[str, Any]], audio_token: str | None) -> int:
    """How many audio placeholders the messages hold."""
    n = 0
    for m in msgs:
        content = m.get("content")
        if isinstance(content, str):
            n += content.count(audio_token) if audio_token else 0
        elif isinstance(content, list):
            n += sum(1 for item in content if isinstance(item, dict) and item.get("type") == "audio")
    return n


def continues_answer(msgs: list[dict[str, Any]]) -> bool:
    """Whether the last message is an assistant prefill the model continues."""
    return msgs[-1].get("role") == "assistant"
