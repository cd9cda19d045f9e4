"""Random-weight Qwen-Audio checkpoints in the ORIGINAL on-disk format, at any size.

Used by tests and benchmarks: ``write_random_checkpoint(out_dir, config_dict)`` writes
``config.json``, (sharded) ``model*.safetensors`` with the original key names, and copies the
tokenizer/mel assets (``qwen.tiktoken``, ``mel_filters.npz``, ``tokenizer_config.json``) that
ship with the adapter (``model_adapters/qwen_audio/assets``) or from another checkpoint folder.
``materialize_random`` fills a meta-device model in memory the same way (no files). Tensors
are generated one shard at a time directly in the storage dtype, so memory stays around one
shard.

Initialisation (not the real model's; chosen so random models give non-degenerate outputs):
matrices/convolutions N(0, 1/fan_in); biases N(0, 0.05^2); norm weights 1 + N(0, 0.1^2);
``wte`` and ``audio_bos_eos_token`` N(0, 0.7^2); ``lm_head`` N(0, (2/sqrt(hidden))^2) with the
rows of ids that have no surface form (>= 155165) scaled by 0.02; ``positional_embedding`` the
Whisper sinusoids.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any, Mapping

import torch

from model_adapters.qwen_audio.config import QwenAudioConfig
from model_adapters.qwen_audio.model import QwenAudioModel
from model_adapters.qwen_audio.weights import assign_tensor, build_meta_model, expected_tensors, resolve_dtype

ASSETS = Path(__file__).resolve().parent.parent / "qwen_audio" / "assets"  # shipped tokenizer + mel filters

FIRST_UNNAMED_ID = 155165  # ids from here on have no tokenizer entry
ASSET_FILES = ("qwen.tiktoken", "mel_filters.npz", "tokenizer_config.json", "generation_config.json")

# The real Qwen/Qwen-Audio config.json values (the hub copy: layer_norm_epsilon 1e-6; the GitHub copy says 1e-5).
FULL_CONFIG: dict[str, Any] = {
    "vocab_size": 155947, "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
    "kv_channels": 128, "intermediate_size": 22016, "layer_norm_epsilon": 1e-06, "rotary_pct": 1.0,
    "rotary_emb_base": 10000, "seq_length": 2048, "use_dynamic_ntk": True, "use_logn_attn": True,
    "no_bias": True, "tie_word_embeddings": False, "model_type": "qwen",
    "audio": {"n_mels": 80, "n_ctx": 1500, "n_state": 1280, "n_head": 20, "n_layer": 32,
              "output_dim": 4096, "avg_pool": True, "add_audio_bos_eos_token": True, "audio_start_id": 155163},
}


def config_dict(**overrides: Any) -> dict[str, Any]:
    """A config.json dict: the full-size values with `overrides` (``audio`` merged key by key)."""
    out = json.loads(json.dumps(FULL_CONFIG))
    audio = overrides.pop("audio", {})
    out.update(overrides)
    out["audio"].update(audio)
    return out


def tiny_config_dict(hidden: int = 32, layers: int = 2, heads: int = 4, enc_state: int = 32,
                     enc_layers: int = 2, enc_heads: int = 4, **overrides: Any) -> dict[str, Any]:
    """Toy sizes like the fixture (the real vocabulary, so every special token id exists)."""
    audio = {"n_state": enc_state, "n_head": enc_heads, "n_layer": enc_layers, "output_dim": hidden}
    audio.update(overrides.pop("audio", {}))
    return config_dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                       kv_channels=hidden // heads, intermediate_size=4 * hidden, audio=audio, **overrides)


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """[length, channels] float32: sin then cos of pos * exp(-i * log(max_timescale)/(channels/2 - 1))."""
    half = channels // 2
    inv = torch.exp(-math.log(max_timescale) / (half - 1) * torch.arange(half, dtype=torch.float32))
    t = torch.arange(length, dtype=torch.float32)[:, None] * inv[None, :]
    return torch.cat([t.sin(), t.cos()], dim=1)


def random_tensor(key: str, shape: tuple[int, ...], config: QwenAudioConfig, dtype: torch.dtype,
                  device: torch.device | str, gen: torch.Generator) -> torch.Tensor:
    """One random tensor for checkpoint key `key`, created directly in `dtype` on `device`."""
    if key.endswith("positional_embedding"):
        return sinusoids(*shape).to(device=device, dtype=dtype)
    t = torch.empty(shape, dtype=dtype, device=device)
    leaf = key.rsplit(".", 1)[-1]
    is_norm = any(n in key for n in ("ln_", "_ln", "ln_post", "ln_f"))
    if is_norm and leaf == "weight":
        return t.normal_(1.0, 0.1, generator=gen)
    if leaf == "bias":
        return t.normal_(0.0, 0.05, generator=gen)
    if key in ("transformer.wte.weight", "transformer.audio.audio_bos_eos_token.weight"):
        return t.normal_(0.0, 0.7, generator=gen)
    if key == "lm_head.weight":
        t.normal_(0.0, 2.0 / math.sqrt(shape[1]), generator=gen)
        if shape[0] > FIRST_UNNAMED_ID:
            t[FIRST_UNNAMED_ID:].mul_(0.02)
        return t
    fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
    return t.normal_(0.0, 1.0 / math.sqrt(fan_in), generator=gen)


def write_random_checkpoint(
    out_dir: str | Path,
    config: Mapping[str, Any] | QwenAudioConfig,
    assets_from: str | Path = ASSETS,
    seed: int = 0,
    dtype: str | torch.dtype = "bfloat16",
    max_shard_bytes: int = 4 << 30,
) -> Path:
    """Write a random checkpoint (config.json, safetensors shards [+ index], assets) to out_dir."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg_dict = config.to_dict() if isinstance(config, QwenAudioConfig) else dict(config)
    cfg = QwenAudioConfig.from_dict(cfg_dict, "random config")
    (out / "config.json").write_text(json.dumps(cfg_dict, indent=2) + "\n", encoding="utf-8")
    for name in ASSET_FILES:
        src = Path(assets_from, name)
        if src.is_file():
            shutil.copyfile(src, out / name)
    dt = resolve_dtype(dtype)
    shapes = sorted(expected_tensors(build_meta_model(cfg)).items())
    shards: list[list[tuple[str, tuple[int, ...]]]] = [[]]
    size = 0
    for key, shape in shapes:
        nbytes = math.prod(shape) * dt.itemsize
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append((key, tuple(shape)))
        size += nbytes
    gen = torch.Generator().manual_seed(seed)
    names = ["model.safetensors"] if len(shards) == 1 else [
        f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))
    ]
    weight_map: dict[str, str] = {}
    for name, shard in zip(names, shards):
        tensors = {k: random_tensor(k, s, cfg, dt, "cpu", gen).contiguous() for k, s in shard}
        save_file(tensors, str(out / name), metadata={"format": "pt"})
        weight_map.update({k: name for k in tensors})
        del tensors
    if len(shards) > 1:
        total = sum(math.prod(s) * dt.itemsize for _, s in shapes)
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    return out


def materialize_random(
    model: QwenAudioModel, device: torch.device | str, dtype: str | torch.dtype, seed: int = 0
) -> QwenAudioModel:
    """Fill a meta skeleton with random weights directly in `dtype` on `device`, one tensor at a time."""
    dtype = resolve_dtype(dtype)
    gen = torch.Generator(device=torch.device(device).type).manual_seed(seed)
    for key, shape in sorted(expected_tensors(model).items()):
        assign_tensor(model, key, random_tensor(key, tuple(shape), model.config, dtype, device, gen))
    return model
