"""Tiny random audio-LM checkpoints of three families, built offline, that transformers loads like
the real ones: Qwen2.5-Omni (the full thinker+talker layout, talker disabled, as the hub ships
it), Qwen3-Omni (MoE thinker) and Qwen3-ASR.

Each folder holds config.json, random weights (fixed seed, tiny widths, a few hundred kB; the
audio encoder drawn with a larger spread, 0.5, so that its output follows the audio's content
and not only the positional embedding: changing the audio changes the greedy tokens),
generation_config.json (end tokens <|im_end|> and <|endoftext|>), the family's feature
extractor, a tokenizer and a chat template. The tokenizer is the locally trained byte-level BPE
of the tiny Qwen2-Audio checkpoint (model_adapters.testing.qwen2_audio) plus the family's
special tokens, registered under the names the processors read (`audio_token`, ...). The chat
templates are ours, ChatML as the Qwen families use it, with the family's audio placeholder;
they are not copies of the hub templates. Building one takes well under a second.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

from qa_eval.audio import SAMPLE_RATE

SEED = 0
_TEXT = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "max_position_embeddings": 4096, "tie_word_embeddings": False}
_AUDIO = {"d_model": 32, "encoder_attention_heads": 2, "encoder_ffn_dim": 64, "encoder_layers": 2,
          "num_mel_bins": 128, "output_dim": 32, "initializer_range": 0.5}

_QWEN3_AUDIO = {**_AUDIO, "downsample_hidden_size": 16, "n_window": 50, "n_window_infer": 400}
QWEN3_AUDIO_PLACEHOLDER = "<|audio_start|><|audio_pad|><|audio_end|>"

QWEN25_OMNI_TOKENS = {
    "audio_token": "<|AUDIO|>", "audio_bos_token": "<|audio_bos|>", "audio_eos_token": "<|audio_eos|>",
    "image_token": "<|IMAGE|>", "video_token": "<|VIDEO|>",
    "vision_bos_token": "<|vision_bos|>", "vision_eos_token": "<|vision_eos|>",
}
QWEN3_TOKENS = {
    "audio_token": "<|audio_pad|>", "audio_bos_token": "<|audio_start|>", "audio_eos_token": "<|audio_end|>",
    "image_token": "<|image_pad|>", "video_token": "<|video_pad|>",
    "vision_bos_token": "<|vision_start|>", "vision_eos_token": "<|vision_end|>",
}


def chatml_template(audio_placeholder: str) -> str:
    """A ChatML chat template: string or typed-list content, each audio item -> the placeholder."""
    return (
        "{%- for message in messages -%}"
        "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
        "{%- if message['content'] is string -%}{{- message['content'] -}}"
        "{%- else -%}{%- for item in message['content'] -%}"
        "{%- if item['type'] == 'audio' -%}{{- '" + audio_placeholder + "' -}}"
        "{%- elif item['type'] == 'text' -%}{{- item['text'] -}}{%- endif -%}"
        "{%- endfor -%}{%- endif -%}"
        "{{- '<|im_end|>\\n' -}}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
    )


def build_tokenizer(named: dict[str, str], extra: tuple[str, ...] = ()) -> Any:
    """The tiny Qwen2 BPE tokenizer with `named` special tokens (name -> token) and `extra` ones."""
    from transformers import AutoTokenizer

    from model_adapters.testing.qwen2_audio import build_tokenizer as qwen2_bpe

    base = qwen2_bpe()
    new = [t for t in (*named.values(), *extra) if t not in base.get_vocab()]
    base.add_tokens(list(dict.fromkeys(new)), special_tokens=True)
    with tempfile.TemporaryDirectory() as tmp:
        base.save_pretrained(tmp)
        tokenizer = AutoTokenizer.from_pretrained(tmp, model_specific_special_tokens=named)
    tokenizer.padding_side = "left"
    return tokenizer


def _save(model_cls: Any, config: Any, tokenizer: Any, extractor: Any, audio_placeholder: str,
          out_dir: str | Path) -> Path:
    """Random weights (fixed seed), end tokens, tokenizer, feature extractor and a ChatML chat
    template with `audio_placeholder`, saved into `out_dir`."""
    import torch
    from transformers import GenerationConfig

    out = Path(out_dir)
    torch.manual_seed(SEED)
    model = model_cls(config).eval()
    ends = [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
    model.generation_config = GenerationConfig(eos_token_id=ends, pad_token_id=tokenizer.pad_token_id)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    extractor.save_pretrained(out)
    (out / "chat_template.jinja").write_text(chatml_template(audio_placeholder), encoding="utf-8")
    return out


def _whisper_features() -> Any:
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(feature_size=128, sampling_rate=SAMPLE_RATE, return_attention_mask=True)


def _ids(tokenizer: Any, named: dict[str, str]) -> dict[str, int]:
    return {k: tokenizer.convert_tokens_to_ids(v) for k, v in named.items()}


def make_tiny_qwen25_omni(out_dir: str | Path) -> Path:
    """Qwen2.5-Omni: a full Qwen2_5OmniConfig (talker disabled, so only thinker weights exist)."""
    from transformers import Qwen2_5OmniConfig, Qwen2_5OmniForConditionalGeneration

    tokenizer = build_tokenizer(QWEN25_OMNI_TOKENS)
    ids = _ids(tokenizer, QWEN25_OMNI_TOKENS)
    thinker = {
        "audio_config": {**_AUDIO, "max_source_positions": 1500, "n_window": 100},
        "vision_config": {"depth": 1, "embed_dim": 16, "hidden_size": 32, "num_heads": 2, "intermediate_size": 32,
                          "out_hidden_size": 32, "fullatt_block_indexes": [0]},
        "text_config": {**_TEXT, "vocab_size": len(tokenizer),
                        "rope_scaling": {"mrope_section": [2, 1, 1], "rope_type": "default", "type": "default"}},
        "audio_token_index": ids["audio_token"], "image_token_index": ids["image_token"],
        "video_token_index": ids["video_token"], "audio_start_token_id": ids["audio_bos_token"],
        "audio_end_token_id": ids["audio_eos_token"], "vision_start_token_id": ids["vision_bos_token"],
        "vision_end_token_id": ids["vision_eos_token"],
    }
    # enable_audio_output=False: no talker or token2wav weights (transformers still validates their
    # default configs and logs that their token ids lie outside the talker's vocabulary: harmless)
    config = Qwen2_5OmniConfig(thinker_config=thinker, enable_audio_output=False)
    return _save(Qwen2_5OmniForConditionalGeneration, config, tokenizer, _whisper_features(),
                 "<|audio_bos|><|AUDIO|><|audio_eos|>", out_dir)


def make_tiny_qwen3_omni(out_dir: str | Path) -> Path:
    """Qwen3-Omni: a Qwen3OmniMoeThinkerConfig (MoE text model, 4 experts, 2 per token)."""
    from transformers import Qwen3OmniMoeThinkerConfig, Qwen3OmniMoeThinkerForConditionalGeneration

    tokenizer = build_tokenizer(QWEN3_TOKENS)
    ids = _ids(tokenizer, QWEN3_TOKENS)
    config = Qwen3OmniMoeThinkerConfig(
        audio_config=_QWEN3_AUDIO,
        vision_config={"depth": 1, "hidden_size": 32, "intermediate_size": 32, "num_heads": 2,
                       "out_hidden_size": 32, "deepstack_visual_indexes": [0], "num_position_embeddings": 16},
        text_config={**_TEXT, "vocab_size": len(tokenizer), "moe_intermediate_size": 16, "num_experts": 4,
                     "num_experts_per_tok": 2, "head_dim": 8,
                     "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0,
                                         "mrope_section": [2, 1, 1], "mrope_interleaved": True}},
        audio_token_id=ids["audio_token"], image_token_id=ids["image_token"], video_token_id=ids["video_token"],
        audio_start_token_id=ids["audio_bos_token"], vision_start_token_id=ids["vision_bos_token"],
    )
    return _save(Qwen3OmniMoeThinkerForConditionalGeneration, config, tokenizer, _whisper_features(),
                 QWEN3_AUDIO_PLACEHOLDER, out_dir)


def make_tiny_qwen3_asr(out_dir: str | Path) -> Path:
    """Qwen3-ASR: a Qwen3ASRConfig with a Qwen3 text model; `<asr_text>` is a special token."""
    from transformers import Qwen3ASRConfig, Qwen3ASRFeatureExtractor, Qwen3ASRForConditionalGeneration

    named = {k: QWEN3_TOKENS[k] for k in ("audio_token", "audio_bos_token", "audio_eos_token")}
    tokenizer = build_tokenizer(named, extra=("<asr_text>",))
    ends = [tokenizer.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|im_end|>")]
    config = Qwen3ASRConfig(
        audio_config=_QWEN3_AUDIO,
        text_config={**_TEXT, "vocab_size": len(tokenizer), "head_dim": 8},
        audio_token_id=tokenizer.convert_tokens_to_ids(named["audio_token"]),
        timestamp_token_id=tokenizer.convert_tokens_to_ids("<asr_text>"),
        pad_token_id=tokenizer.pad_token_id, eos_token_id=ends, tie_word_embeddings=False,
    )
    return _save(Qwen3ASRForConditionalGeneration, config, tokenizer, Qwen3ASRFeatureExtractor(),
                 QWEN3_AUDIO_PLACEHOLDER, out_dir)


BUILDERS: dict[str, Callable[[str | Path], Path]] = {
    "qwen2.5-omni": make_tiny_qwen25_omni,
    "qwen3-omni": make_tiny_qwen3_omni,
    "qwen3-asr": make_tiny_qwen3_asr,
}


def build_tiny(family: str, workdir: str | Path) -> Path:
    """The tiny checkpoint of `family` in workdir/<family> (built once per folder)."""
    from qa_eval.errors import PrerequisiteError

    if family not in BUILDERS:
        raise PrerequisiteError(f"no tiny {family} checkpoint can be built offline here (its processor needs "
                                f"packages this suite does not install); tiny families: {', '.join(BUILDERS)}")
    out = Path(workdir) / family
    if not (out / "config.json").is_file():
        out.mkdir(parents=True, exist_ok=True)
        BUILDERS[family](out)
    return out
