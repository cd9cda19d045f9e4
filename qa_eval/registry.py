"""Plugin registries filled from Python entry points.

qa-eval declares its own tasks, models, scorers and plugin commands in pyproject.toml exactly as
a third-party package would (groups `qa_eval.tasks`, `qa_eval.models`, `qa_eval.scorers`,
`qa_eval.commands`). Listing names
reads package metadata only; a plugin's module is imported when it is first looked up.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Iterable

from qa_eval.errors import RegistryError

GROUPS = {"task": "qa_eval.tasks", "model": "qa_eval.models", "scorer": "qa_eval.scorers",
          "command": "qa_eval.commands"}


@lru_cache(maxsize=None)
def _entry_points(group: str) -> dict[str, EntryPoint]:
    return index_entry_points(entry_points(group=group), group)


def index_entry_points(eps: Iterable[EntryPoint], group: str) -> dict[str, EntryPoint]:
    """name -> entry point; the same name with two different targets is an error."""
    found: dict[str, EntryPoint] = {}
    for ep in eps:
        other = found.get(ep.name)
        if other is not None and other.value != ep.value:
            raise RegistryError(
                f"duplicate {group} plugin {ep.name!r}: {other.value} and {ep.value}"
            )
        found[ep.name] = ep
    return found


def names(kind: str) -> list[str]:
    """Sorted names of the installed plugins of one kind ("task", "model", "scorer", "command")."""
    return sorted(_entry_points(GROUPS[kind]))


def _unknown(kind: str, name: str) -> RegistryError:
    known = names(kind)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return RegistryError(f"unknown {kind} {name!r}.{hint} Installed: {', '.join(known) or 'none'}")


@lru_cache(maxsize=None)
def load(kind: str, name: str) -> Any:
    """The object an entry point names (a TaskSpec, an adapter class, a scorer module)."""
    ep = _entry_points(GROUPS[kind]).get(name)
    if ep is None:
        raise _unknown(kind, name)
    return load_entry_point(kind, ep)


def load_entry_point(kind: str, ep: EntryPoint) -> Any:
    """Import one plugin; any failure becomes a RegistryError naming the plugin."""
    name = ep.name
    try:
        return ep.load()
    except Exception as exc:  # a broken plugin must fail loudly, naming itself
        raise RegistryError(
            f"{kind} plugin {name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}"
        ) from exc
