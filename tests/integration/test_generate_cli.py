"""`qa-eval generate` reproduces the official implementation's greedy ids on the fixture."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "qwen_audio_tiny"


def test_generate_matches_recorded_greedy_ids_in_one_batch(tmp_path: Path) -> None:
    cases = [json.loads(line) for line in (FIXTURE / "cases.jsonl").read_text().splitlines()]
    cases = [c for c in cases if c["batch_index"] is not None][:4]
    with open(tmp_path / "cases.jsonl", "w") as f:
        for c in cases:
            prompt = c["prompt"]
            for a in c["audios"]:  # decode ffmpeg's own 16 kHz output (see the fixture README)
                if a["decoded_wav"]:
                    prompt = prompt.replace(a["path"], str(FIXTURE / a["decoded_wav"]))
                else:
                    prompt = prompt.replace(a["path"], str(FIXTURE / a["path"]))
            f.write(json.dumps({"id": c["id"], "prompt": prompt}) + "\n")
    out = tmp_path / "out.jsonl"
    subprocess.run([sys.executable, "-m", "qa_eval", "generate", "--checkpoint", str(FIXTURE),
                    "--prompts", str(tmp_path / "cases.jsonl"), "--max-new-tokens", "24",
                    "--min-new-tokens", "24", "--batch-size", "4", "--device", "cpu", "--dtype", "float32",
                    "--out", str(out)], check=True, capture_output=True, text=True)
    got = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    for c in cases:
        assert got[c["id"]]["token_ids"] == c["greedy_ids_single"]
        assert got[c["id"]]["text"] == c["text_single"]
