"""Frozen, validated view of an original Qwen-Audio ``config.json`` (LLM + ``audio`` sub-config).

Only the keys the original implementation reads at inference are kept. Anything this
implementation cannot honour (partial features of the remote code that Qwen-Audio never uses)
is refused with a ConfigError naming the key, instead of silently computing something else.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from qa_eval.errors import ConfigError


REQUIRED = ...
Number = (int, float)


def _read(d: Mapping[str, Any], spec: Mapping[str, tuple[Any, Any]], where: str) -> dict[str, Any]:
    """key -> value for every key of `spec` ({key: (kind, default or REQUIRED)}), checked by _get."""
    return {key: _get(d, key, kind, where, default) for key, (kind, default) in spec.items()}


def _get(d: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = REQUIRED) -> Any:
    """d[key] checked against `kind` (bool is not accepted as int); `default` if given and missing."""
    if key not in d:
        if default is REQUIRED:
            raise ConfigError(f"{where}: required key '{key}' missing")
        return default
    value = d[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise ConfigError(f"{where}: '{key}' must be {kinds}, got bool {value!r}")
    if not isinstance(value, kinds):
        raise ConfigError(f"{where}: '{key}' must be {[k.__name__ for k in kinds]}, got {value!r}")
    return value


# config.json keys read at inference: key -> (JSON type, default or REQUIRED)
_AUDIO_KEYS: dict[str, tuple[Any, Any]] = {
    "n_mels": (int, REQUIRED), "n_ctx": (int, REQUIRED), "n_state": (int, REQUIRED), "n_head": (int, REQUIRED),
    "n_layer": (int, REQUIRED), "output_dim": (int, 512), "avg_pool": (bool, True),
    "add_audio_bos_eos_token": (bool, True), "audio_start_id": (int, REQUIRED),
}
_LLM_KEYS: dict[str, tuple[Any, Any]] = {
    "vocab_size": (int, REQUIRED), "hidden_size": (int, REQUIRED), "num_hidden_layers": (int, REQUIRED),
    "num_attention_heads": (int, REQUIRED), "kv_channels": (int, REQUIRED), "intermediate_size": (int, REQUIRED),
    "layer_norm_epsilon": (Number, 1e-6), "rotary_pct": (Number, 1.0), "rotary_emb_base": (Number, 10000),
    "seq_length": (int, 2048), "use_dynamic_ntk": (bool, True), "use_logn_attn": (bool, True),
    "no_bias": (bool, True), "tie_word_embeddings": (bool, False),
}


@dataclass(frozen=True, slots=True)
class AudioEncoderConfig:
    """``config["audio"]``: the Whisper-style encoder. Sequence length n_ctx is in post-conv frames."""

    n_mels: int = 80
    n_ctx: int = 1500
    n_state: int = 1280
    n_head: int = 20
    n_layer: int = 32
    output_dim: int = 4096
    avg_pool: bool = True
    add_audio_bos_eos_token: bool = True
    audio_start_id: int = 155163

    @property
    def audio_end_id(self) -> int:
        """The reference takes ``</audio>`` as audio_start_id + 1."""
        return self.audio_start_id + 1

    @property
    def head_dim(self) -> int:
        return self.n_state // self.n_head

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "config.json:audio") -> "AudioEncoderConfig":
        if not isinstance(d, Mapping):
            raise ConfigError(f"{where}: expected an object, got {type(d).__name__}")
        cfg = cls(**_read(d, _AUDIO_KEYS, where))
        cfg.validate(where)
        return cfg

    def validate(self, where: str = "audio config") -> None:
        for name in ("n_mels", "n_ctx", "n_state", "n_head", "n_layer", "output_dim"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{where}: '{name}' must be > 0, got {getattr(self, name)}")
        if self.n_mels != 80:
            raise ConfigError(f"{where}: only n_mels 80 is supported (mel_filters.npz has mel_80), got {self.n_mels}")
        if self.n_state % self.n_head:
            raise ConfigError(f"{where}: n_state {self.n_state} not divisible by n_head {self.n_head}")
        if not self.avg_pool:
            raise ConfigError(f"{where}: avg_pool false is not supported (the token span formula assumes it)")
        if not self.add_audio_bos_eos_token:
            raise ConfigError(f"{where}: add_audio_bos_eos_token false is not supported")
        if self.n_ctx < 1500:
            raise ConfigError(f"{where}: n_ctx {self.n_ctx} < 1500 cannot hold a 30 s clip")


@dataclass(frozen=True, slots=True)
class QwenAudioConfig:
    """The LLM part of ``config.json`` plus its ``audio`` sub-config.

    Shapes: wte [vocab_size, hidden_size]; c_attn [3*hidden, hidden]; w1/w2 [intermediate/2, hidden];
    head_dim = kv_channels = hidden_size / num_attention_heads; rotary dim = kv_channels * rotary_pct.
    """

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    kv_channels: int
    intermediate_size: int
    layer_norm_epsilon: float
    rotary_pct: float
    rotary_emb_base: float
    seq_length: int
    use_dynamic_ntk: bool
    use_logn_attn: bool
    no_bias: bool
    audio: AudioEncoderConfig
    tie_word_embeddings: bool = False

    @property
    def head_dim(self) -> int:
        return self.kv_channels

    @property
    def rotary_dim(self) -> int:
        return self.kv_channels if self.rotary_pct == 1.0 else int(self.kv_channels * self.rotary_pct)

    @property
    def mlp_width(self) -> int:
        """Outputs of each of mlp.w1 / mlp.w2 (the reference halves intermediate_size)."""
        return self.intermediate_size // 2

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "config.json") -> "QwenAudioConfig":
        if not isinstance(d, Mapping):
            raise ConfigError(f"{where}: expected a JSON object")
        if d.get("model_type", "qwen") != "qwen":
            raise ConfigError(f"{where}: model_type {d.get('model_type')!r} is not 'qwen'")
        if "audio" not in d:
            raise ConfigError(f"{where}: no 'audio' sub-config; this is not a Qwen-Audio checkpoint")
        if d.get("use_cache_quantization") or d.get("use_cache_kernel"):
            raise ConfigError(f"{where}: use_cache_quantization/use_cache_kernel are not supported")
        values = _read(d, _LLM_KEYS, where)
        values.update(layer_norm_epsilon=float(values["layer_norm_epsilon"]), rotary_pct=float(values["rotary_pct"]))
        cfg = cls(**values, audio=AudioEncoderConfig.from_dict(d["audio"], f"{where}:audio"))
        cfg.validate(where)
        return cfg

    @classmethod
    def from_file(cls, path: str | Path) -> "QwenAudioConfig":
        path = Path(path)
        if path.is_dir():
            path = path / "config.json"
        if not path.is_file():
            raise ConfigError(f"{path}: config.json not found")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(data, str(path))

    def validate(self, where: str = "config") -> None:
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "kv_channels", "intermediate_size", "seq_length"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{where}: '{name}' must be > 0, got {getattr(self, name)}")
        if self.kv_channels * self.num_attention_heads != self.hidden_size:
            raise ConfigError(
                f"{where}: kv_channels ({self.kv_channels}) x num_attention_heads "
                f"({self.num_attention_heads}) must equal hidden_size ({self.hidden_size})"
            )
        if self.intermediate_size % 2:
            raise ConfigError(f"{where}: intermediate_size must be even, got {self.intermediate_size}")
        if not 0.0 < self.rotary_pct <= 1.0:
            raise ConfigError(f"{where}: rotary_pct must be in (0, 1], got {self.rotary_pct}")
        if self.rotary_dim % 2 or self.rotary_dim < 4:
            raise ConfigError(f"{where}: rotary dim {self.rotary_dim} must be even and >= 4")
        if self.tie_word_embeddings:
            raise ConfigError(f"{where}: tie_word_embeddings true is not supported (Qwen-Audio unties them)")
        if self.audio.output_dim != self.hidden_size:
            raise ConfigError(
                f"{where}: audio.output_dim ({self.audio.output_dim}) must equal hidden_size ({self.hidden_size})"
            )
        if not self.audio.audio_end_id < self.vocab_size:
            raise ConfigError(f"{where}: audio_start_id + 1 ({self.audio.audio_end_id}) outside the vocabulary")

    def to_dict(self) -> dict[str, Any]:
        """Back to the original config.json layout (used by model_adapters.testing.qwen_audio)."""
        out = asdict(self)
        out["model_type"] = "qwen"
        out["architectures"] = ["QWenLMHeadModel"]
        out["fp32"], out["bf16"], out["fp16"] = True, False, False
        out["use_flash_attn"] = False
        out["emb_dropout_prob"] = 0.0
        out["attn_dropout_prob"] = 0.0
        out["max_position_embeddings"] = 8192
        out["scale_attn_weights"] = True
        out["tokenizer_type"] = "QWenTokenizer"
        return out
