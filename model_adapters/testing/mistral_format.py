"""A transformers Voxtral model written in Mistral's own checkpoint format: `params.json` and
`consolidated.safetensors`.

The official Voxtral repositories ship these files beside the transformers ones, and they are
the only ones vLLM loads Voxtral from (`tokenizer_mode`, `config_format` and `load_format`
"mistral"). The tiny test checkpoint therefore holds both formats of the same weights, as the
real repositories do.

The mapping is the inverse of transformers' Voxtral conversion: each tensor under its Mistral
name, and the text model's query and key rows moved back from transformers' rotary layout
(each head's two halves) to Mistral's (interleaved pairs). Mistral's format has no position
table for the audio encoder (it is sinusoidal, and vLLM computes it), so the transformers model
must hold those sinusoids for the two formats to agree.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_ENCODER = "mm_whisper_embeddings.whisper_encoder"
_ENCODER_LAYER = _ENCODER + r".transformer.layers.\1"

# (transformers state-dict name, Mistral name); None: not stored in Mistral's format
_NAMES: tuple[tuple[str, str | None], ...] = (
    (r"lm_head\.weight", "output.weight"),
    (r"model\.language_model\.norm\.weight", "norm.weight"),
    (r"model\.language_model\.embed_tokens\.weight", "tok_embeddings.weight"),
    (r"model\.language_model\.layers\.(\d+)\.input_layernorm\.weight", r"layers.\1.attention_norm.weight"),
    (r"model\.language_model\.layers\.(\d+)\.post_attention_layernorm\.weight", r"layers.\1.ffn_norm.weight"),
    (r"model\.language_model\.layers\.(\d+)\.self_attn\.([qkvo])_proj\.weight", r"layers.\1.attention.w\2.weight"),
    (r"model\.language_model\.layers\.(\d+)\.mlp\.gate_proj\.weight", r"layers.\1.feed_forward.w1.weight"),
    (r"model\.language_model\.layers\.(\d+)\.mlp\.down_proj\.weight", r"layers.\1.feed_forward.w2.weight"),
    (r"model\.language_model\.layers\.(\d+)\.mlp\.up_proj\.weight", r"layers.\1.feed_forward.w3.weight"),
    (r"model\.audio_tower\.conv1\.(weight|bias)", _ENCODER + r".conv_layers.0.\1"),
    (r"model\.audio_tower\.conv2\.(weight|bias)", _ENCODER + r".conv_layers.1.\1"),
    (r"model\.audio_tower\.layer_norm\.(weight|bias)", _ENCODER + r".transformer.norm.\1"),
    (r"model\.audio_tower\.embed_positions\.weight", None),
    (r"model\.audio_tower\.layers\.(\d+)\.self_attn\.([qkv])_proj\.(weight|bias)",
     _ENCODER_LAYER + r".attention.w\2.\3"),
    (r"model\.audio_tower\.layers\.(\d+)\.self_attn\.out_proj\.(weight|bias)", _ENCODER_LAYER + r".attention.wo.\2"),
    (r"model\.audio_tower\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)", _ENCODER_LAYER + r".attention_norm.\2"),
    (r"model\.audio_tower\.layers\.(\d+)\.fc([12])\.(weight|bias)", _ENCODER_LAYER + r".feed_forward.w\2.\3"),
    (r"model\.audio_tower\.layers\.(\d+)\.final_layer_norm\.(weight|bias)", _ENCODER_LAYER + r".ffn_norm.\2"),
    (r"model\.multi_modal_projector\.linear_1\.weight", "mm_whisper_embeddings.audio_language_projection.0.weight"),
    (r"model\.multi_modal_projector\.linear_2\.weight", "mm_whisper_embeddings.audio_language_projection.2.weight"),
)


def mistral_name(name: str) -> str | None:
    """The Mistral name of a transformers Voxtral tensor (None: Mistral's format has none)."""
    for pattern, target in _NAMES:
        if re.fullmatch(pattern, name):
            return None if target is None else re.sub(pattern, target, name)
    raise ValueError(f"no Mistral name for Voxtral tensor {name!r}")


def interleave_rotary(weight: Any, n_heads: int) -> Any:
    """Query or key rows from transformers' rotary layout (per head: the first halves of all
    pairs, then the second halves) to Mistral's (per head: pair by pair)."""
    rows, cols = weight.shape
    return weight.reshape(n_heads, 2, rows // n_heads // 2, cols).transpose(1, 2).reshape(rows, cols)


def params_json(config: Any, extractor: Any) -> dict[str, Any]:
    """Mistral's `params.json` for a VoxtralConfig and its Whisper feature extractor."""
    text, audio = config.text_config, config.audio_config
    rope = (getattr(text, "rope_parameters", None) or {}).get("rope_theta") or getattr(text, "rope_theta")
    encoder = {
        "dim": audio.d_model, "n_layers": audio.encoder_layers, "hidden_dim": audio.encoder_ffn_dim,
        "n_heads": audio.encoder_attention_heads, "head_dim": audio.d_model // audio.encoder_attention_heads,
        "vocab_size": audio.vocab_size, "max_source_positions": audio.max_source_positions,
        "audio_encoding_args": {"sampling_rate": extractor.sampling_rate, "num_mel_bins": audio.num_mel_bins,
                                "hop_length": extractor.hop_length, "window_size": extractor.n_fft},
    }
    return {
        "dim": text.hidden_size, "n_layers": text.num_hidden_layers, "hidden_dim": text.intermediate_size,
        "n_heads": text.num_attention_heads, "n_kv_heads": text.num_key_value_heads, "head_dim": text.head_dim,
        "rope_theta": rope, "norm_eps": text.rms_norm_eps, "vocab_size": text.vocab_size,
        "max_position_embeddings": text.max_position_embeddings, "tied_embeddings": bool(text.tie_word_embeddings),
        "multimodal": {"whisper_model_args": {
            "encoder_args": encoder,
            # the projector takes this many consecutive encoder frames at once
            "downsample_args": {"downsample_factor": audio.encoder_ffn_dim // audio.d_model},
        }},
    }


def save_mistral_format(model: Any, extractor: Any, out_dir: str | Path) -> None:
    """Write `model`'s weights and configuration as Mistral's `consolidated.safetensors` and
    `params.json` into `out_dir`."""
    from safetensors.torch import save_file

    text = model.config.text_config
    heads = {"wq": text.num_attention_heads, "wk": text.num_key_value_heads}
    tensors = {}
    for name, tensor in model.state_dict().items():
        target = mistral_name(name)
        if target is None:
            continue
        kind = target.split(".")[-2]
        if target.startswith("layers.") and kind in heads:
            tensor = interleave_rotary(tensor, heads[kind])
        tensors[target] = tensor.detach().contiguous().clone()
    save_file(tensors, str(Path(out_dir) / "consolidated.safetensors"))
    params = params_json(model.config, extractor)
    (Path(out_dir) / "params.json").write_text(json.dumps(params, indent=2), encoding="utf-8")
