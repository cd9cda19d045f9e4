"""Audio-LM prompts: the chat messages each family gets per task kind, the knobs, the refusals
and the wording table (no weights needed)."""

from __future__ import annotations

import json

import pytest

from model_adapters.hf_audio_lm import prompt as prompts
from model_adapters.hf_audio_lm.families import FAMILIES, GENERIC, NEUTRAL, VERIFIED, family_for, table
from qa_eval import registry
from qa_eval.adapter import ModelOptions
from qa_eval.errors import AdapterError, ConfigError
from qa_eval.intent import PromptIntent

ASR_EN = PromptIntent("transcribe", audio_lang="en", output_lang="en")
ST = PromptIntent("translate", audio_lang="en", output_lang="de", itn=True)
SCENE = PromptIntent("classify", label_set="scene")
AQA = PromptIntent("question", question="Is it raining?")
SRWT = PromptIntent("transcribe", audio_lang="en", output_lang="en", timestamps=True)
NOTE = PromptIntent("analyze_note", label_set="nsynth")


def render(family: str, intent: PromptIntent, n: int = 1, **kw) -> dict:
    spec = FAMILIES[family] if family in FAMILIES else GENERIC
    return json.loads(prompts.render_prompt(spec, intent, n, **kw))["messages"]


def test_qwen25_omni_asks_with_its_official_system_prompt_and_an_audio_item():
    msgs = render("qwen2.5-omni", ASR_EN)
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[0]["content"][0]["text"].startswith("You are Qwen, a virtual human developed by the Qwen Team")
    asked = NEUTRAL["transcribe"].text.format(lang="English")
    assert msgs[1]["content"] == [{"type": "audio"}, {"type": "text", "text": asked}]


def test_system_prompt_option_replaces_or_removes_the_default():
    replaced = render("qwen2.5-omni", ASR_EN, system_prompt="Be terse.")
    assert replaced[0]["content"] == [{"type": "text", "text": "Be terse."}]
    assert [m["role"] for m in render("qwen2.5-omni", ASR_EN, system_prompt="")] == ["user"]
    assert [m["role"] for m in render("qwen3-omni", ASR_EN, system_prompt="Hi.")] == ["system", "user"]


def test_granite_writes_its_audio_token_into_plain_text_with_the_verified_asr_wording():
    msgs = render("granite-speech", ASR_EN)
    assert msgs[0]["content"].startswith("Knowledge Cutoff Date") and msgs[0]["role"] == "system"
    assert msgs[1]["content"] == "<|audio|>can you transcribe the speech into a written format?"
    assert render("granite-speech", ASR_EN, style="neutral")[1]["content"].startswith("<|audio|>Transcribe the English")


def test_qwen3_asr_sends_the_audio_alone_and_prefills_the_language():
    msgs = render("qwen3-asr", PromptIntent("transcribe", audio_lang="zh", output_lang="zh"))
    assert msgs == [{"role": "user", "content": [{"type": "audio"}]},
                    {"role": "assistant", "content": [{"type": "text", "text": "language Chinese<asr_text>"}]}]
    assert prompts.continues_answer(msgs)


@pytest.mark.parametrize("intent", [ST, SCENE, AQA, PromptIntent("caption", label_set="clotho")])
def test_qwen3_asr_refuses_every_kind_but_transcription(intent):
    with pytest.raises(AdapterError, match=f"qwen3-asr cannot do task kind '{intent.kind}'"):
        render("qwen3-asr", intent)


@pytest.mark.parametrize("family", [*FAMILIES, "hf-audio-lm"])
def test_every_family_refuses_timestamps_and_note_analysis_by_kind(family):
    with pytest.raises(AdapterError, match="word-level timestamps.*'transcribe'"):
        render(family, SRWT)
    with pytest.raises(AdapterError, match="'analyze_note'"):
        render(family, NOTE)


def test_translation_names_both_languages_and_several_audios_get_one_item_each():
    msgs = render("qwen3-omni", ST, n=2)
    assert msgs[0]["content"][:2] == [{"type": "audio"}, {"type": "audio"}]
    assert "English speech" in msgs[0]["content"][2]["text"] and "into German" in msgs[0]["content"][2]["text"]
    assert prompts.count_audio(msgs, None) == 2
    assert prompts.count_audio(render("granite-speech", ST, n=3), "<|audio|>") == 3


def test_question_and_closed_set_wordings():
    assert render("hf-audio-lm", AQA)[0]["content"][1]["text"].startswith("Is it raining? Answer with")
    scene = render("hf-audio-lm", SCENE)[0]["content"][1]["text"]
    assert "acoustic scene" in scene and "Choose one of" not in scene


def test_label_choices_are_listed_when_the_intent_carries_them():
    with_labels = PromptIntent("classify", "en", "en", label_set="emotion", labels=("joy", "anger"))
    text = prompts.fill(prompts.pick_wording(GENERIC, with_labels, "family"), with_labels)
    assert text.endswith("Choose one of: joy, anger.")


def test_a_multiple_choice_question_lists_its_options_without_letters():
    mcq = PromptIntent("choose", question="Who speaks?", choices=("Man", "Woman"))
    text = render("qwen2.5-omni", mcq)[1]["content"][1]["text"]
    assert text == "Who speaks?\nOptions:\n- Man\n- Woman\nAnswer with the text of one option only."
    assert NEUTRAL["choose"].status == "ours"
    with pytest.raises(AdapterError, match="qwen3-asr cannot do task kind 'choose'"):
        render("qwen3-asr", mcq)


def test_unknown_label_set_and_bad_style_are_errors():
    with pytest.raises(AdapterError, match="no instruction for task kind 'classify' with label set 'nsynth'"):
        render("hf-audio-lm", PromptIntent("classify", label_set="nsynth"))
    with pytest.raises(ConfigError, match="instruction_style"):
        render("hf-audio-lm", ASR_EN, style="fancy")


def test_prompts_are_deterministic_text():
    a = prompts.render_prompt(FAMILIES["qwen2.5-omni"], ST, 1)
    assert a == prompts.render_prompt(FAMILIES["qwen2.5-omni"], ST, 1)
    assert prompts.parse_prompt(a) == json.loads(a)["messages"]
    with pytest.raises(AdapterError, match="not an audio-LM chat prompt"):
        prompts.parse_prompt("<|audio_bos|>Transcribe")


def test_the_wording_table_marks_every_entry_and_cites_every_verified_one():
    rows = table()
    assert {r["status"] for r in rows} <= {"verified", "ours"}
    assert all(r["source"] for r in rows if r["status"] == VERIFIED)
    assert {r["family"] for r in rows if r["status"] == VERIFIED} >= {"qwen2.5-omni", "granite-speech", "qwen3-asr"}


def test_family_lookup_by_model_type():
    assert family_for("qwen2_5_omni").name == family_for("qwen2_5_omni_thinker").name == "qwen2.5-omni"
    assert family_for("voxtral").name == "voxtral"
    assert family_for("some_new_audio_lm") is GENERIC


def test_adapter_options_are_checked(registered):
    cls = registered.load("model", "qwen2.5-omni")

    def options(**given: str) -> ModelOptions:
        return ModelOptions(None, "cpu", "float32", adapter_options=given)

    adapter = cls(options(system_prompt="", instruction_style="neutral"))
    assert json.loads(adapter.render_prompt(ASR_EN))["messages"][0]["role"] == "user"
    with pytest.raises(ConfigError, match="unknown model option.*temperature"):
        cls(options(temperature="0.7"))
    with pytest.raises(ConfigError, match="instruction_style must be one of family, neutral"):
        cls(options(instruction_style="fancy"))


def test_named_adapters_are_listed_with_their_default_checkpoints(registered):
    names = registry.names("model")
    for name in ("hf-audio-lm", "qwen2.5-omni", "voxtral", "granite-speech", "gemma-3n", "qwen3-asr"):
        assert name in names
    cls = registered.load("model", "voxtral")
    assert cls(ModelOptions(None, "cpu", "float32")).checkpoint() == "mistralai/Voxtral-Mini-3B-2507"
    assert cls.description and "mistral-common" in cls.description
    with pytest.raises(ConfigError, match="give a checkpoint"):
        registered.load("model", "hf-audio-lm")(ModelOptions(None, "cpu", "float32")).checkpoint()


def test_the_options_are_declared_by_the_adapter_not_the_core_cli(registered, capsys):
    """`qa-eval models` lists each adapter's options; the core CLI has no flag of one plugin's."""
    from qa_eval.cli import build_parser, main

    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["run", "--task", "librispeech", "--model", "qwen2.5-omni", "--system-prompt", "x"])
    assert exc.value.code == 2
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert "--model-option instruction_style (family|neutral):" in listing
    assert "--model-option system_prompt:" in listing
