"""Tiny random audio-LM checkpoints of four families, built offline, that transformers loads like
the real ones: Qwen2.5-Omni (the full thinker+talker layout, talker disabled, as the hub ships
it), Qwen3-Omni (MoE thinker), Qwen3-ASR and Voxtral (needs mistral-common).

Each folder holds config.json, random weights (fixed seed, tiny widths, a few hundred kB; the
audio encoder drawn with a larger spread, 0.5, so that its output follows the audio's content
and not only the positional embedding: changing the audio changes the greedy tokens),
generation_config.json (end tokens <|im_end|> and <|endoftext|>), the family's feature
extractor, a tokenizer and a chat template. The tokenizer is the locally trained byte-level BPE
of the tiny Qwen2-Audio checkpoint (model_adapters.testing.qwen2_audio) plus the family's
special tokens, registered under the names the processors read (`audio_token`, ...). The chat
templates are ours, ChatML as the Qwen families use it, with the family's audio placeholder;
they are not copies of the hub templates. Voxtral's tokenizer is mistral-common's Tekken format
instead (tekken.json): the 256 bytes as its vocabulary, mistral-common's special tokens, and the
audio settings of the released checkpoints (16 kHz, 12.5 audio tokens per second, 128 mel bins,
30 s chunks). Building one takes well under a second.
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

# for_vllm: every attention head 32-dimensional (vLLM's CPU attention needs multiples of 32)
_VLLM_TEXT = {**_TEXT, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 2, "num_key_value_heads": 1}
_VLLM_AUDIO = {**_AUDIO, "d_model": 64, "encoder_ffn_dim": 128, "output_dim": 64}

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


def make_tiny_qwen25_omni(out_dir: str | Path, for_vllm: bool = False) -> Path:
    """Qwen2.5-Omni: a full Qwen2_5OmniConfig (talker disabled, so only thinker weights exist);
    `for_vllm`: 32-dimensional attention heads everywhere (vLLM's CPU build)."""
    from transformers import Qwen2_5OmniConfig, Qwen2_5OmniForConditionalGeneration

    tokenizer = build_tokenizer(QWEN25_OMNI_TOKENS)
    ids = _ids(tokenizer, QWEN25_OMNI_TOKENS)
    text, audio, width = (_VLLM_TEXT, _VLLM_AUDIO, 64) if for_vllm else (_TEXT, _AUDIO, 32)
    mrope = [8, 4, 4] if for_vllm else [2, 1, 1]  # halves of the head dimension
    thinker = {
        "audio_config": {**audio, "max_source_positions": 1500, "n_window": 100},
        "vision_config": {"depth": 1, "embed_dim": width, "hidden_size": width, "num_heads": 2,
                          "intermediate_size": 32, "out_hidden_size": width, "fullatt_block_indexes": [0]},
        "text_config": {**text, "vocab_size": len(tokenizer),
                        "rope_scaling": {"mrope_section": mrope, "rope_type": "default", "type": "default"}},
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


def tekken_json(n_special: int = 64) -> dict[str, Any]:
    """A tiny Tekken tokenizer file: byte vocabulary, mistral-common's special tokens in their
    enum order (ranks 0, 1, 2: <unk>, <s>, </s>), Voxtral's audio settings."""
    import base64

    from mistral_common.tokens.tokenizers.base import SpecialTokens

    specials = [t.value for t in SpecialTokens]
    return {
        "config": {"pattern": r"\s*[\p{L}\p{N}]+|[^\s\p{L}\p{N}]+|\s+", "num_vocab_tokens": 256,
                   "default_vocab_size": 256 + n_special, "default_num_special_tokens": n_special, "version": "v7"},
        "vocab": [{"rank": i, "token_bytes": base64.b64encode(bytes([i])).decode(), "token_str": None}
                  for i in range(256)],
        "special_tokens": [{"rank": i, "token_str": t, "is_control": True} for i, t in enumerate(specials)],
        "audio": {"sampling_rate": SAMPLE_RATE, "frame_rate": 12.5, "chunk_length_s": 30.0,
                  "audio_encoding_config": {"num_mel_bins": 128, "hop_length": 160, "window_size": 400}},
    }


def make_tiny_voxtral(out_dir: str | Path, for_vllm: bool = False) -> Path:
    """Voxtral: a VoxtralConfig (Whisper-style encoder whose frames are stacked by 4 for the
    projector, a Llama text model) with a Tekken tokenizer (tekken_json). `for_vllm`:
    32-dimensional attention heads, the encoder's sinusoidal position table (as in the real
    checkpoints), and the same weights in Mistral's format beside (mistral_format.py)."""
    import json

    import torch
    from transformers import GenerationConfig, VoxtralConfig, VoxtralForConditionalGeneration
    from transformers.models.whisper.modeling_whisper import sinusoids

    from model_adapters.testing.mistral_format import save_mistral_format

    out = Path(out_dir)
    tekken = tekken_json()
    (out / "tekken.json").write_text(json.dumps(tekken), encoding="utf-8")
    ids = {t["token_str"]: t["rank"] for t in tekken["special_tokens"]}
    vocab = tekken["config"]["default_vocab_size"]
    # for_vllm: weights large enough that attention is far from uniform, so the parity test sees
    # where every query and key row went (the rotary layout in mistral_format.py)
    text, audio, head_dim = (_TEXT, _AUDIO, 8)
    if for_vllm:
        text, audio, head_dim = {**_VLLM_TEXT, "initializer_range": 0.2}, _VLLM_AUDIO, 32
    # encoder_ffn_dim is also the projector's input: 4 stacked frames of d_model
    audio = {k: v for k, v in audio.items() if k != "output_dim"} | {"encoder_ffn_dim": 4 * audio["d_model"],
                                                                     "max_source_positions": 1500}
    config = VoxtralConfig(audio_config=audio, text_config={
        **text, "model_type": "llama", "vocab_size": vocab, "head_dim": head_dim, "bos_token_id": ids["<s>"],
        "eos_token_id": ids["</s>"], "pad_token_id": ids["<pad>"]}, audio_token_id=ids["[AUDIO]"])
    torch.manual_seed(SEED)
    model = VoxtralForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(bos_token_id=ids["<s>"], eos_token_id=ids["</s>"],
                                               pad_token_id=ids["<pad>"])
    features = _whisper_features()
    if for_vllm:
        positions = model.get_submodule("model.audio_tower.embed_positions").weight
        with torch.no_grad():
            positions.copy_(sinusoids(*positions.shape))
        save_mistral_format(model, features, out)
    model.save_pretrained(out)
    features.save_pretrained(out)
    return out


BUILDERS: dict[str, Callable[[str | Path], Path]] = {
    "qwen2.5-omni": make_tiny_qwen25_omni,
    "qwen3-omni": make_tiny_qwen3_omni,
    "qwen3-asr": make_tiny_qwen3_asr,
    "voxtral": make_tiny_voxtral,  # needs mistral-common (families.py `requires`)
}


VLLM_BUILDERS: dict[str, Callable[[str | Path], Path]] = {
    "qwen2.5-omni": lambda out: make_tiny_qwen25_omni(out, for_vllm=True),
    "voxtral": lambda out: make_tiny_voxtral(out, for_vllm=True),
}


def build_tiny(family: str, workdir: str | Path, for_vllm: bool = False) -> Path:
    """The tiny checkpoint of `family` in workdir/<family> (built once per folder); `for_vllm`:
    the shape vLLM's CPU build runs, in workdir/<family>-vllm."""
    from qa_eval.errors import PrerequisiteError

    from model_adapters.hf_audio_lm.families import FAMILIES
    from model_adapters.hf_audio_lm.processor import check_requirements

    builders = VLLM_BUILDERS if for_vllm else BUILDERS
    if family in builders:
        check_requirements(FAMILIES[family])  # PrerequisiteError naming the pip package (Voxtral: mistral-common)
    if family not in builders:
        raise PrerequisiteError(f"no tiny {family} checkpoint can be built offline here (its processor needs "
                                f"packages this suite does not install); tiny families: {', '.join(builders)}")
    out = Path(workdir) / (f"{family}-vllm" if for_vllm else family)
    if not (out / "config.json").is_file():
        out.mkdir(parents=True, exist_ok=True)
        builders[family](out)
    return out
