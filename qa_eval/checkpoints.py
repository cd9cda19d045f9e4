"""Where a checkpoint lives and which revision of it runs.

`resolve_checkpoint_dir` turns a `--checkpoint` value into a local folder (the folder itself, or
a hub snapshot where a hub is reachable). `checkpoint_hash` is the revision of a local
checkpoint: a sha256 over every file in it that can shape an output (weights, config.json,
generation_config.json, tokenizer and processor files, chat template, ...; only documentation
and hidden files are left out), so that editing any of them starts a new run folder. Hashing
16 GB takes a while, so each file's digest is kept in `~/.cache/qa-eval/weights-sha256.json`
under its path, size and modification time: a file is hashed again only when it changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

from qa_eval.errors import AdapterError

DOCUMENTATION = ("README", "LICENSE", "NOTICE", "CHANGELOG")  # file stems that never shape an output
CACHE_FILE = "weights-sha256.json"


def cache_dir() -> Path:
    """qa-eval's cache folder ($XDG_CACHE_HOME/qa-eval, default ~/.cache/qa-eval)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa-eval"


def resolve_checkpoint_dir(ref: str, revision: str | None, patterns: Sequence[str] | None = None) -> Path:
    """A local folder for checkpoint `ref` (a folder, or a hub id fetched with huggingface_hub)."""
    local = Path(ref).expanduser()
    if local.is_dir():
        return local
    if "/" not in ref or ref.startswith((".", "/", "~")):
        raise AdapterError(f"{ref}: checkpoint folder not found")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise AdapterError(f"{ref}: not a local folder and huggingface_hub is not installed") from None
    try:
        path = snapshot_download(repo_id=ref, revision=revision, allow_patterns=list(patterns) if patterns else None)
    except Exception as exc:  # network, auth, unknown repo: all mean "cannot load"
        raise AdapterError(f"{ref}: not a local folder, and the hub copy cannot be fetched "
                           f"({type(exc).__name__}: {exc}); pass --checkpoint /path/to/folder") from None
    return Path(path)


def checkpoint_hash(checkpoint: str | Path) -> str | None:
    """"sha256:..." over the relative paths and contents of the files of a local checkpoint
    folder that can shape an output (see the module docstring); None for a hub id, whose
    revision is the hub's commit."""
    root = Path(checkpoint).expanduser()
    if not root.is_dir():
        return None
    digest = hashlib.sha256()
    for path in output_files(root):
        digest.update(f"{path.relative_to(root).as_posix()}:{cached_sha256(path)}\n".encode())
    return "sha256:" + digest.hexdigest()


def output_files(root: Path) -> list[Path]:
    """The files under `root` that can shape an output, sorted: all but hidden ones (.git,
    .cache, .gitattributes) and documentation (README, LICENSE, *.md)."""
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.suffix.lower() == ".md" or path.stem.upper() in DOCUMENTATION:
            continue
        found.append(path)
    return sorted(found)


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cached_sha256(path: Path) -> str:
    """`sha256_of` one file, remembered across runs by (path, size, mtime)."""
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    cache_path = cache_dir() / CACHE_FILE
    cache = _read_cache(cache_path)
    if key not in cache:
        cache[key] = sha256_of(path)
        _write_cache(cache_path, cache)
    return cache[key]


def _read_cache(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, cache: dict[str, str]) -> None:
    """Best effort: an unwritable cache only means hashing again next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=0), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass
