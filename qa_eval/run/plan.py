"""make_plan: everything about a run that can be decided, and checked, before a model loads.

The task, the adapter (not yet loaded), the scorer and its options, the samples (with their
sources as the task spells them), each sample's prompt, the generation settings, the audio
decoder, the run folder, and the fingerprint. The fingerprint hashes everything that decides
a prediction, so a run folder never mixes predictions made under different settings, and the
data digest (over every sample the manifest lists, before --limit) keeps the predictions of
different data sets apart. The versions of the libraries that shape the adapter's outputs
(torch, transformers, tokenizers, ...: `ModelAdapter.library_names`) and the audio decoder's
(ffmpeg's, or soundfile/soxr's) are in it, so an upgrade starts a new run folder instead of
resuming into the old one. So is a backend other than the default one (vLLM, with its tensor
parallel size). Batch size and number of processes are not in it: they never change a
prediction.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from qa_eval import audio, registry
from qa_eval import manifest as manifest_io
from qa_eval.adapter import ModelAdapter, ModelOptions
from qa_eval.checkpoints import sha256_of
from qa_eval.errors import ConfigError
from qa_eval.intent import PromptIntent
from qa_eval.provenance import library_versions
from qa_eval.records import GenerationConfig, Sample
from qa_eval.run.request import RunRequest
from qa_eval.store import check_writable
from qa_eval.task import TaskSpec


@dataclass(frozen=True)
class RunPlan:
    """A checked run, ready to generate (see the module docstring)."""

    request: RunRequest
    task: TaskSpec
    adapter: ModelAdapter
    scorer_name: str
    scorer_options: Mapping[str, Any]
    all_ids: tuple[str, ...]  # every sample of the data set, in manifest order
    samples: tuple[Sample, ...]  # the selection (after --limit)
    intents: Mapping[str, PromptIntent]  # sample id -> what the task asks (with a row's own prompt)
    prompts: Mapping[str, str]  # sample id -> prompt
    prompt_hash: str
    generation: GenerationConfig
    data_sha256: str
    manifest_sha256: str
    decoder: Mapping[str, Any]  # the audio decoder: "name" and its versions
    identity: Mapping[str, Any]  # what the fingerprint hashes (also written into run.json)
    fingerprint: str
    out_dir: Path


def load_task(name: str | None, task_file: str | None = None) -> TaskSpec:
    """A task from its task file, else the installed task of that name."""
    if task_file:
        from qa_eval.task_file import load_task_file

        return load_task_file(Path(task_file))
    from qa_eval.task_file import find_task

    return find_task(name or "")


def make_plan(req: RunRequest, options: ModelOptions | None = None) -> RunPlan:
    """Check the request and decide the run (no weights are loaded). `options` replaces
    req.options (a torchrun rank's own device)."""
    task = load_task(req.task, req.task_file)
    adapter = registry.load("model", req.model)(options or req.options)
    scorer_name = req.scorer or task.scorer
    scorer = registry.load("scorer", scorer_name)  # an unknown name: suggestions first
    task.check_scorer(scorer_name)
    scorer_options = scorer.resolve_options({**dict(task.scorer_options), **dict(req.scorer_options)})
    generation = GenerationConfig(req.max_new_tokens or adapter.max_new_tokens or task.max_new_tokens,
                                  adapter.min_new_tokens if req.min_new_tokens is None else req.min_new_tokens)
    all_samples, manifest_sha = load_samples(task, req)
    data_sha = samples_digest(all_samples, data_roots(task, req))
    samples = all_samples[: req.limit] if req.limit is not None else all_samples
    intents = {s.id: sample_intent(task, s) for s in samples}
    if not adapter.uses_given_prompt and any(i.given_prompt is not None for i in intents.values()):
        warnings.warn(f"the manifest rows carry their own 'prompt' (the official Qwen2-Audio lists' instructions); "
                      f"{adapter.name} builds its prompts from the task instead", GivenPromptWarning, stacklevel=2)
    prompts = {s.id: adapter.render_prompt(intents[s.id], len(s.audio)) for s in samples}
    prompt_hash = hashlib.sha256("\n\0".join(sorted(set(prompts.values()))).encode()).hexdigest()
    output_rules = {i.key: adapter.output_rule(i) for i in intents.values()}
    choice = audio.choose_decoder(adapter.audio_decoder)
    decoder = {**audio.decoder_info(choice.name), "requested": choice.requested, "forced": choice.forced}
    if choice.warning:
        warnings.warn(choice.warning, audio.DecoderFallbackWarning, stacklevel=2)
    identity = {
        "task": task.name,
        "task_version": task.version,
        "model": req.model,
        "checkpoint": adapter.checkpoint(),
        "revision": adapter.revision(),
        "dtype": req.options.dtype,
        "adapter_options": dict(req.options.adapter_options),
        "generation": generation.to_dict(),
        "prompt_hash": prompt_hash,
        "output_rules": dict(sorted(output_rules.items())),
        "audio_decoder": {k: v for k, v in decoder.items() if k not in ("requested", "forced")},
        "libraries": library_versions(*adapter.library_names()),
        "data_sha256": data_sha,
    }
    if req.options.backend != "default":  # absent for the default backend: older run folders still resume
        identity["backend"] = {"name": req.options.backend, "tensor_parallel_size": req.options.tensor_parallel_size}
    fingerprint = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    out_dir = Path(req.out_dir) if req.out_dir else default_out_dir(req, task, fingerprint)
    check_writable(out_dir)
    return RunPlan(req, task, adapter, scorer_name, scorer_options, tuple(s.id for s in all_samples),
                   tuple(samples), intents, prompts, prompt_hash, generation, data_sha, manifest_sha, decoder,
                   identity, fingerprint, out_dir)


class GivenPromptWarning(UserWarning):
    """The manifest gives per-row prompts that the chosen adapter does not use."""


def sample_intent(task: TaskSpec, sample: Sample) -> PromptIntent:
    """What the task asks of a sample, with the manifest row's own `prompt` (a string) as its
    given prompt."""
    intent = task.intent(sample)
    given = sample.fields.get("prompt")
    return replace(intent, given_prompt=given) if isinstance(given, str) and given.strip() else intent


def default_out_dir(req: RunRequest, task: TaskSpec, fingerprint: str) -> Path:
    safe_model = req.model.replace("/", "_")
    return Path(req.results_dir) / task.name / f"{safe_model}-{fingerprint[:12]}"


def load_samples(task: TaskSpec, req: RunRequest) -> tuple[list[Sample], str]:
    """Every sample of the requested data (sources as the task spells them) and the sha256 of
    the manifest file (or a description of the dataset)."""
    default_source = task.sources[0] if len(task.sources) == 1 else None
    if req.hf_dataset:
        from qa_eval.hf_dataset import load_hf_samples

        samples = load_hf_samples(task, req.hf_dataset, req.hf_split, req.hf_config, req.hf_source,
                                  Path(req.results_dir) / ".cache" / "hf_audio")
        digest = hashlib.sha256(f"{req.hf_dataset}:{req.hf_config}:{req.hf_split}".encode()).hexdigest()
    else:
        path = manifest_path(task, req)
        samples = manifest_io.load_manifest(path, req.data_root, default_source)
        digest = sha256_of(path)
    if not samples:
        raise ConfigError(f"task {task.name}: the data holds no samples")
    return manifest_io.canonical_sources(samples, task), digest


def manifest_path(task: TaskSpec, req: RunRequest) -> Path:
    if req.manifest:
        return Path(req.manifest)
    if req.data_root and task.manifest_name:
        return Path(req.data_root) / task.manifest_name
    if task.manifest:
        return Path(task.manifest)
    raise ConfigError(
        f"task {task.name} has no bundled data: pass --manifest FILE (or --data-root DIR holding "
        f"{task.manifest_name or 'its manifest'}); see `qa-eval data prepare {task.name} --help`"
    )


def data_roots(task: TaskSpec, req: RunRequest) -> list[Path]:
    """The folders audio paths are taken relative to in the data digest: the manifest's folder
    and --data-root, or the folder Hugging Face audio is written to."""
    if req.hf_dataset:
        return [Path(req.results_dir) / ".cache" / "hf_audio"]
    return [manifest_path(task, req).parent, *([Path(req.data_root)] if req.data_root else [])]


def samples_digest(samples: list[Sample], roots: Sequence[Path] = ()) -> str:
    """sha256 over what identifies the data: ids, sources, audio paths, references, fields.
    An audio path under one of `roots` counts relative to it, so the same data set digests the
    same in every checkout and on every machine."""
    resolved = [Path(r).resolve() for r in roots]

    def portable(audio: str) -> str:
        path = Path(audio).resolve()
        for root in resolved:
            if path.is_relative_to(root):
                return path.relative_to(root).as_posix()
        return audio

    h = hashlib.sha256()
    for s in samples:
        row = [s.id, s.source, [portable(a) for a in s.audio], s.reference, dict(s.fields)]
        h.update(json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()
