"""Packaging and the GPU check script, run the way a user and the GPU machine run them.

* `qa-eval bench --shape tiny` from a built wheel, outside the checkout: every asset the bench
  needs ships in the package (no tests/ folder, no checkout on the path).
* `python -m qa_eval run` and its torchrun workers from a folder holding a user's own `tasks/`
  and `model_adapters/` packages: the installed plugins run, never the user's folders.
* `scripts/gpu_check.sh` at --device cpu with tiny shapes: the script the GPU machine runs
  (`make gpu-check`) keeps working between the sessions that have a GPU.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """qa-eval built as a wheel and installed (non-editable, no dependencies) into a folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    dist, site, src = tmp / "dist", tmp / "site", tmp / "src"
    # build from a copy: an in-tree build would leave metadata (*.egg-info) in the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".*", "runs", "tests", "build", "*.egg-info",
                                                             "__pycache__", "gpu-check", "results"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist),
                    str(src)], check=True, capture_output=True, timeout=600)
    (wheel,) = dist.glob("qa_eval-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    return site


def test_bench_runs_from_an_installed_wheel(installed: Path, tmp_path: Path) -> None:
    site = installed
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import qa_eval, model_adapters.qwen_audio as q; "
                            "print(qa_eval.__file__); print(q.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True)
    assert all(line.startswith(str(site)) for line in where.stdout.split()), where.stdout
    proc = subprocess.run([sys.executable, "-m", "qa_eval", "bench", "--random-weights", "--shape", "tiny",
                           "--clips", "2", "--batch-size", "2", "--new-tokens", "2", "--device", "cpu",
                           "--dtype", "float32", "--modes", "engine", "--out", str(work / "bench.json")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((work / "bench.json").read_text())
    assert doc["reference_check"]["equal"] is True and doc["modes"]["engine"]["n_tokens"] == 4


def _decoy(folder: Path) -> Path:
    """A working directory holding a user's own `tasks/` and `model_adapters/` packages."""
    for name in ("tasks", "model_adapters"):
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text(f"raise ImportError('the decoy {name} package was imported')\n")
        (folder / name / "librispeech.py").write_text("LIBRISPEECH_SAMPLE = None\n")
    return folder


@pytest.mark.parametrize("launcher", [[], ["--launcher", "torchrun", "--nproc-per-node", "1"]],
                         ids=["python -m", "torchrun"])
def test_own_tasks_folder_in_the_working_directory_never_shadows_qa_evals(installed: Path, tmp_path: Path,
                                                                          launcher: list[str]) -> None:
    """`python -m qa_eval` (and the torchrun workers it starts) from a folder with a user's own
    `tasks/` and `model_adapters/`: qa-eval's installed plugins run, the decoys are never imported."""
    work = _decoy(tmp_path / "work")
    env = {**os.environ, "PYTHONPATH": str(installed)}
    fixture = ROOT / "tests" / "fixtures" / "qwen_audio_tiny"
    proc = subprocess.run([sys.executable, "-m", "qa_eval", "run", "--task", "librispeech-sample", "--model",
                           "qwen-audio", "--checkpoint", str(fixture), "--device", "cpu", "--limit", "2",
                           "--max-new-tokens", "2", "--num-workers", "0", "--no-leaderboard", "--no-progress",
                           "--results", str(work / "runs"), *launcher],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "decoy" not in proc.stderr
    (metrics,) = (work / "runs").rglob("metrics.json")
    assert json.loads(metrics.read_text())["per_source"]["librispeech_sample"]["n"] == 2


@pytest.mark.slow
def test_gpu_check_script_dry_run_on_the_cpu(tmp_path: Path) -> None:
    if not (ROOT / "scripts" / "gpu_check.sh").is_file():
        pytest.fail("scripts/gpu_check.sh is missing")
    out = tmp_path / "out"
    env = {**os.environ, "DEVICE": "cpu", "SHAPE": "tiny", "CLIPS": "12", "BENCH_CLIPS": "3", "BATCH": "2",
           "OUT": str(out), "PY": sys.executable, "WORK": str(tmp_path / "work")}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh")], env=env, capture_output=True, text=True,
                          timeout=1500)
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    failed = {s["step"]: (out / f"{s['step']}.log").read_text()[-1500:] for s in steps if s["rc"] != 0}
    assert proc.returncode == 0 and not failed, failed or proc.stdout[-2000:]
    assert {s["step"] for s in steps} >= {"env", "pytest_gpu", "bench", "e2e", "oom", "torchrun_compare"}
    assert json.loads((out / "oom.json").read_text())["ok"] is True
    assert json.loads((out / "torchrun.json").read_text())["identical"] is True
    assert json.loads((out / "summary.json").read_text())["ok"] is True
