"""Helpers shared by the adapters built on transformers (Whisper, Qwen2-Audio, audio chat LMs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qa_eval.adapter import ModelOptions
from qa_eval.errors import AdapterError

# The distributions whose versions shape the predictions of an adapter built on transformers.
TRANSFORMERS_LIBRARIES = ("torch", "numpy", "transformers", "tokenizers")


def processor_classes(processor: Any) -> dict[str, str]:
    """The class names of a loaded processor and its parts (tokenizer, feature extractor, ...),
    for metrics.json: the classes, with the transformers version, say what prepared the input."""
    out = {"processor": type(processor).__name__}
    for part in ("tokenizer", "feature_extractor", "audio_processor"):
        value = getattr(processor, part, None)
        if value is not None:
            out[part] = type(value).__name__
    return out


def load_transformers_model(model_cls: Any, processor_cls: Any, checkpoint: str | Path, options: ModelOptions,
                            family: str) -> tuple[Any, Any]:
    """(model, processor): `load_transformers_weights` and `load_transformers_processor`."""
    processor = load_transformers_processor(processor_cls, checkpoint, options, family)
    return load_transformers_weights(model_cls, checkpoint, options, family), processor


def config_load_kwargs(checkpoint: str | Path, options: ModelOptions) -> dict[str, Any]:
    """`ModelOptions.hf_load_kwargs` for the files that hold no weights (processors, configs),
    whose from_pretrained takes no `use_safetensors`."""
    return {k: v for k, v in options.hf_load_kwargs(str(checkpoint)).items() if k != "use_safetensors"}


def load_transformers_processor(processor_cls: Any, checkpoint: str | Path, options: ModelOptions, family: str) -> Any:
    """The checkpoint's processor with the options' safety settings; failures become AdapterError."""
    checkpoint = str(checkpoint)
    try:
        return processor_cls.from_pretrained(checkpoint, **config_load_kwargs(checkpoint, options))
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{family}: cannot load checkpoint {checkpoint!r}: {exc}") from exc


def checkpoint_configs(checkpoint: str | Path, options: ModelOptions) -> Any:
    """The checkpoint's `config` and `generation_config` as a loaded model has them (the
    generation config made from the model config where generation_config.json is absent, as
    transformers does), without loading the weights: for a backend that loads them itself."""
    from types import SimpleNamespace

    from transformers import AutoConfig, GenerationConfig

    kwargs = config_load_kwargs(checkpoint, options)
    config = AutoConfig.from_pretrained(str(checkpoint), **kwargs)
    try:
        generation = GenerationConfig.from_pretrained(str(checkpoint), **kwargs)
    except OSError:  # no generation_config.json
        generation = GenerationConfig.from_model_config(config)
    return SimpleNamespace(config=config, generation_config=generation)


def checkpoint_end_ids(checkpoint: str | Path, options: ModelOptions, fallback: int | None = None) -> tuple[int, ...]:
    """`generation_end_ids` of `checkpoint_configs`: without loading the weights."""
    return generation_end_ids(checkpoint_configs(checkpoint, options), fallback)


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


def checkpoint_json(checkpoint: str | Path, name: str, revision: str | None, family: str) -> dict[str, Any]:
    """A JSON file (config.json, ...) of a local checkpoint folder, or of a hub checkpoint (that
    one file, where a hub is reachable); AdapterError when it cannot be read."""
    import json

    folder = Path(checkpoint).expanduser()
    path = folder / name
    if not folder.is_dir():
        from transformers.utils import cached_file

        try:
            path = Path(cached_file(str(checkpoint), name, revision=revision))
        except OSError as exc:
            raise AdapterError(f"{family}: cannot read {name} of {str(checkpoint)!r}: {exc}") from exc
    if not path.is_file():
        raise AdapterError(f"{family}: {path} not found (is {str(checkpoint)!r} a transformers checkpoint?)")
    return json.loads(path.read_text(encoding="utf-8"))


def load_transformers_weights(model_cls: Any, checkpoint: str | Path, options: ModelOptions, family: str) -> Any:
    """The model alone (no processor) on options.device in options.dtype, eval mode, through
    from_pretrained with the options' safety settings; failures become AdapterError."""
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # qa-eval shows its own progress; no loading bar in the logs
    checkpoint = str(checkpoint)
    try:
        model = model_cls.from_pretrained(checkpoint, dtype=getattr(torch, options.dtype),
                                          **options.hf_load_kwargs(checkpoint))
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{family}: cannot load checkpoint {checkpoint!r}: {exc}") from exc
    return model.to(options.device).eval()
