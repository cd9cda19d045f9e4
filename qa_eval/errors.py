"""Typed exceptions. Every message says where the problem is (file:line, tensor name, plugin)."""


class QaEvalError(Exception):
    """Base of every error qa-eval raises on purpose; the CLI prints it without a traceback."""

    exit_code = 2


class ConfigError(QaEvalError):
    """Bad options or settings, found before any model work starts."""


class ManifestError(QaEvalError):
    """A manifest or predictions file that cannot be read; the message names file and line."""


class AudioError(QaEvalError):
    """One audio file that cannot be decoded; recorded per sample, never fatal for a run."""


class RegistryError(QaEvalError):
    """Unknown, duplicate or broken task/model/scorer plugin."""


class PrerequisiteError(QaEvalError):
    """A missing optional dependency or tool; the message carries the install hint."""


class AdapterError(QaEvalError):
    """A model adapter cannot load a checkpoint or cannot serve a task."""


class ScorerError(QaEvalError):
    """A predictions file that does not fit the scorer (wrong fields or types)."""


class OutOfMemoryAtBatchSizeOne(QaEvalError):
    """Even one sample does not fit on the device: nothing smaller to back off to."""


class RunFailedError(QaEvalError):
    """The run finished but too many samples failed (above the failure threshold)."""

    exit_code = 3
