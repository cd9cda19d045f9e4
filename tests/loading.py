"""Loading real adapters on their test checkpoints (shared by the adapter test folders)."""

from __future__ import annotations


def loaded_adapter(adapter_cls, checkpoint):
    """An adapter of `adapter_cls` on `checkpoint`, float32 on the CPU, loaded."""
    from qa_eval.adapter import ModelOptions

    adapter = adapter_cls(ModelOptions(str(checkpoint), "cpu", "float32"))
    adapter.load()
    return adapter
