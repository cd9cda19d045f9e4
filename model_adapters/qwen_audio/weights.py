"""Checkpoint loading: build the model on the ``meta`` device, then materialise it tensor by tensor.

Supported layouts of a checkpoint directory (original key names, e.g. ``transformer.h.0.ln_1.weight``):
    model.safetensors                                   single file
    model.safetensors.index.json + shards               sharded (HF ``weight_map``)
    pytorch_model.bin[.index.json] + shards             pickle; refused unless allow_pickle=True

Each tensor is read on its own (safetensors ``safe_open``), converted straight to the target
dtype on the target device and assigned into the skeleton, so peak memory is the model in the
target dtype plus one tensor: never a float32 copy of the whole model.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn

from qa_eval.errors import AdapterError

from .config import QwenAudioConfig
from .model import QwenAudioModel

# Checkpoint tensors the reference (QwenLM/Qwen-Audio modeling_qwen.py) recomputes, so a stored copy
# is never read; they are skipped with a note (LoadReport). Group 1 is the layer index, if any.
#   transformer.rotary_emb.inv_freq          RotaryEmbedding buffer (persistent=False), from rotary_emb_base
#   transformer.h.N.attn.logn_tensor         QWenAttention buffer (persistent=False), log_seq_length(i) table
#   transformer.h.N.attn.masked_bias         QWenAttention buffer (persistent=False), the constant -1e4
#   transformer.h.N.attn.rotary_emb.inv_freq the per-layer name in the reference's _keys_to_ignore_on_load_missing
#   transformer.h.N.attn.bias                a causal-mask buffer of older Qwen exports; the reference builds
#                                            the causal mask with torch.tril at every call
_RECOMPUTED = re.compile(
    r"transformer\.(?:rotary_emb\.inv_freq|h\.(\d+)\.attn\.(?:logn_tensor|masked_bias|bias|rotary_emb\.inv_freq))"
)

_log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise AdapterError(f"unsupported dtype {dtype!r}; expected one of {sorted(DTYPES)}")
    return DTYPES[dtype]


def build_meta_model(config: QwenAudioConfig) -> QwenAudioModel:
    """The model skeleton with every parameter/buffer on the meta device (no memory)."""
    with torch.device("meta"):
        model = QwenAudioModel(config)
    return model.eval().requires_grad_(False)


def expected_tensors(model: nn.Module) -> dict[str, torch.Size]:
    """Checkpoint key -> shape for every parameter and persistent buffer of `model`."""
    return {k: v.shape for k, v in model.state_dict(keep_vars=True).items()}


def assign_tensor(model: nn.Module, name: str, value: torch.Tensor) -> None:
    """Replace parameter/buffer `name` of `model` by `value` (no copy; params get requires_grad False)."""
    owner_name, _, leaf = name.rpartition(".")
    owner = model.get_submodule(owner_name) if owner_name else model
    if leaf in dict(owner.named_parameters(recurse=False)):
        setattr(owner, leaf, nn.Parameter(value, requires_grad=False))
    elif leaf in dict(owner.named_buffers(recurse=False)):
        setattr(owner, leaf, value)  # nn.Module keeps it a buffer (persistent or not, as declared)
    else:  # pragma: no cover - guarded by expected_tensors
        raise AdapterError(f"{name}: no such parameter or buffer in the model")


def checkpoint_files(checkpoint_dir: str | Path, allow_pickle: bool = False) -> tuple[str, list[Path]]:
    """(format, files) of a checkpoint dir; format is "safetensors" or "pickle"."""
    d = Path(checkpoint_dir)
    if not d.is_dir():
        raise AdapterError(f"{d}: checkpoint directory not found")
    for fmt, single, index in (
        ("safetensors", "model.safetensors", "model.safetensors.index.json"),
        ("pickle", "pytorch_model.bin", "pytorch_model.bin.index.json"),
    ):
        files: list[Path] = []
        if (d / index).is_file():
            try:
                weight_map = json.loads((d / index).read_text(encoding="utf-8"))["weight_map"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise AdapterError(f"{d / index}: not a valid shard index ({exc})") from None
            files = [d / f for f in sorted(set(weight_map.values()))]
        elif (d / single).is_file():
            files = [d / single]
        else:
            continue
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise AdapterError(f"{d}: shard file(s) listed in the index are missing: {missing}")
        if fmt == "pickle" and not allow_pickle:
            raise AdapterError(
                f"{d}: only a pickle checkpoint ({files[0].name}) was found; pickle files can run code on load. "
                "Convert it to safetensors, or pass allow_pickle=True if you trust it."
            )
        return fmt, files
    raise AdapterError(f"{d}: no model.safetensors, model.safetensors.index.json or pytorch_model.bin found")


def iter_checkpoint(
    checkpoint_dir: str | Path, device: torch.device | str = "cpu", allow_pickle: bool = False
) -> Iterator[tuple[str, Callable[[], torch.Tensor]]]:
    """Yield (key, load) per stored tensor, shard by shard; load() reads that one tensor."""
    fmt, files = checkpoint_files(checkpoint_dir, allow_pickle)
    if fmt == "safetensors":
        from safetensors import safe_open

        dev = str(device)
        for path in files:
            try:
                handle = safe_open(str(path), framework="pt", device=dev)
            except Exception as exc:
                raise AdapterError(f"{path}: cannot open safetensors file ({exc})") from None
            with handle as f:
                for key in f.keys():
                    yield key, (lambda f=f, key=key: f.get_tensor(key))
    else:
        for path in files:
            state = torch.load(str(path), map_location="cpu", mmap=True, weights_only=True)
            for key in list(state):
                yield key, (lambda state=state, key=key: state.pop(key))
            del state


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What loading did besides filling the model."""

    skipped: tuple[str, ...] = ()  # checkpoint tensors the model recomputes (not read), sorted

    def summary(self) -> list[str]:
        """`skipped` with layer indices folded: ["transformer.h.N.attn.logn_tensor (x32)", ...]."""
        counts: dict[str, int] = {}
        for key in self.skipped:
            name = re.sub(r"\.h\.\d+\.", ".h.N.", key)
            counts[name] = counts.get(name, 0) + 1
        return [name if n == 1 else f"{name} (x{n})" for name, n in sorted(counts.items())]

    def note(self) -> str | None:
        """One line for the log, or None when nothing was skipped."""
        if not self.skipped:
            return None
        return (f"checkpoint: skipped {len(self.skipped)} stored tensor(s) the model recomputes: "
                f"{', '.join(self.summary())}")


def _recomputed(key: str, config: QwenAudioConfig) -> bool:
    """True for a checkpoint key the reference recomputes (a layer that exists, a known buffer)."""
    m = _RECOMPUTED.fullmatch(key)
    return m is not None and (m.group(1) is None or int(m.group(1)) < config.num_hidden_layers)


def load_checkpoint(
    checkpoint_dir: str | Path,
    device: torch.device | str = "cpu",
    dtype: str | torch.dtype = "float32",
    config: QwenAudioConfig | None = None,
    allow_pickle: bool = False,
) -> tuple[QwenAudioModel, LoadReport]:
    """Build the model from `checkpoint_dir` in `dtype` on `device`, one tensor at a time, and
    report the stored tensors it skipped because the model recomputes them (non-persistent
    buffers such as rotary_emb.inv_freq and attn.logn_tensor).

    Raises AdapterError naming the tensor for any other unexpected key, a shape mismatch or a
    tensor missing from the checkpoint."""
    dtype = resolve_dtype(dtype)
    device = torch.device(device)
    config = config or QwenAudioConfig.from_file(Path(checkpoint_dir) / "config.json")
    model = build_meta_model(config)
    expected = expected_tensors(model)
    seen: set[str] = set()
    skipped: list[str] = []
    for key, load in iter_checkpoint(checkpoint_dir, device, allow_pickle):
        if key not in expected:
            if _recomputed(key, config):
                skipped.append(key)
                continue
            raise AdapterError(f"{checkpoint_dir}: unexpected tensor '{key}' in the checkpoint")
        tensor = load()
        if tensor.shape != expected[key]:
            raise AdapterError(
                f"{checkpoint_dir}: tensor '{key}' has shape {tuple(tensor.shape)}, expected {tuple(expected[key])}"
            )
        if not tensor.is_floating_point():
            raise AdapterError(f"{checkpoint_dir}: tensor '{key}' has non-float dtype {tensor.dtype}")
        assign_tensor(model, key, tensor.to(device=device, dtype=dtype))
        del tensor
        seen.add(key)
    missing = sorted(set(expected) - seen)
    if missing:
        more = f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""
        raise AdapterError(f"{checkpoint_dir}: tensor(s) missing from the checkpoint: {missing[:5]}{more}")
    report = LoadReport(tuple(sorted(skipped)))
    if report.note():
        _log.info(report.note())
    return model, report


def load_model(*args: Any, **kwargs: Any) -> QwenAudioModel:
    """`load_checkpoint` (same arguments) without its report."""
    return load_checkpoint(*args, **kwargs)[0]
