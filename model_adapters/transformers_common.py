"""Helpers shared by the adapters built on transformers (Whisper, Qwen2-Audio, audio chat LMs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qa_eval.adapter import ModelOptions
from qa_eval.errors import AdapterError


def load_transformers_model(model_cls: Any, processor_cls: Any, checkpoint: str | Path, options: ModelOptions,
                            family: str) -> tuple[Any, Any]:
    """(model on options.device in options.dtype, eval mode; processor) through transformers'
    from_pretrained with the options' safety settings; failures become AdapterError."""
    import torch

    checkpoint = str(checkpoint)
    kwargs = options.hf_load_kwargs(checkpoint)
    try:
        processor = processor_cls.from_pretrained(
            checkpoint, **{k: v for k, v in kwargs.items() if k != "use_safetensors"}
        )
        model = model_cls.from_pretrained(checkpoint, dtype=getattr(torch, options.dtype), **kwargs)
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{family}: cannot load checkpoint {checkpoint!r}: {exc}") from exc
    return model.to(options.device).eval(), processor


def generation_end_ids(model: Any, fallback: int | None = None) -> tuple[int, ...]:
    """The end tokens the checkpoint's generation config names (eos_token_id: one id or a
    list), else `fallback`; AdapterError when there is none."""
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if eos is None:
        eos = getattr(model.config, "eos_token_id", None) if hasattr(model, "config") else None
    ids = [eos] if isinstance(eos, int) else list(eos or [])
    if not ids and fallback is not None:
        ids = [fallback]
    if not ids:
        raise AdapterError("the checkpoint's generation config names no end token (eos_token_id)")
    return tuple(int(i) for i in ids)


def cut_at_end(ids: list[int], end_ids: tuple[int, ...]) -> list[int]:
    """New token ids up to (not including) the first end token."""
    for k, t in enumerate(ids):
        if t in end_ids:
            return ids[:k]
    return ids


def load_transformers_weights(model_cls: Any, checkpoint: str | Path, options: ModelOptions, family: str) -> Any:
    """The model alone (no processor) on options.device in options.dtype, eval mode, through
    from_pretrained with the options' safety settings; failures become AdapterError."""
    import torch

    checkpoint = str(checkpoint)
    try:
        model = model_cls.from_pretrained(checkpoint, dtype=getattr(torch, options.dtype),
                                          **options.hf_load_kwargs(checkpoint))
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{family}: cannot load checkpoint {checkpoint!r}: {exc}") from exc
    return model.to(options.device).eval()
