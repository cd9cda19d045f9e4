"""Duration-sorted batching and the entry-point registry."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from qa_eval import registry
from qa_eval.batching import MemoryBudget, make_batches
from qa_eval.errors import RegistryError
from qa_eval.records import Sample


def _s(i: int, d: float | None) -> Sample:
    return Sample(f"s{i}", "src", (f"{i}.wav",), "ref", {}, d)


def test_batches_are_longest_first_and_stable() -> None:
    samples = [_s(0, 1.0), _s(1, 5.0), _s(2, None), _s(3, 5.0), _s(4, 2.0)]
    batches = make_batches(samples, batch_size=2)
    assert [[s.id for s in b] for b in batches] == [["s1", "s3"], ["s4", "s0"], ["s2"]]


def test_audio_seconds_budget_limits_long_batches() -> None:
    samples = [_s(i, d) for i, d in enumerate([30.0, 30.0, 2.0, 2.0, 2.0, 2.0])]
    batches = make_batches(samples, batch_size=8, max_audio_s=60.0)
    assert [len(b) for b in batches] == [2, 4]


def test_memory_budget_sets_rows_by_longest_clip() -> None:
    """A row costs 10 + 2 x (longest seconds) bytes; 100 bytes free."""
    budget = MemoryBudget(100, lambda s: int(10 + 2 * s))
    assert (budget.max_rows(30.0), budget.max_rows(5.0), budget.max_rows(1000.0)) == (1, 5, 1)
    samples = [_s(i, d) for i, d in enumerate([30.0, 20.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 1.0])]
    batches = make_batches(samples, batch_size=64, memory=budget)
    # 20 s: 2 rows fit (100 // 50); 5 s: 5 rows (100 // 20)
    assert [[s.duration_s for s in b] for b in batches] == [[30.0], [20.0, 5.0], [5.0] * 5, [1.0]]
    for b in batches:
        assert len(b) <= budget.max_rows(max(s.duration_s for s in b))
    assert [len(b) for b in make_batches(samples, batch_size=3, memory=budget)] == [1, 2, 3, 3]


def test_every_sample_is_batched_once() -> None:
    samples = [_s(i, float(i % 7)) for i in range(101)]
    batches = make_batches(samples, batch_size=8, max_audio_s=20)
    ids = [s.id for b in batches for s in b]
    assert sorted(ids) == sorted(s.id for s in samples)


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(RegistryError, match=r"unknown task 'librispeeh'.*Did you mean 'librispeech'"):
        registry.load("task", "librispeeh")
    with pytest.raises(RegistryError, match=r"unknown model 'qwen-audi'.*Did you mean 'qwen-audio'"):
        registry.load("model", "qwen-audi")


def test_duplicate_plugin_names_are_refused() -> None:
    eps = [
        EntryPoint("x", "pkg_a.mod:X", "qa_eval.tasks"),
        EntryPoint("x", "pkg_b.mod:X", "qa_eval.tasks"),
    ]
    with pytest.raises(RegistryError, match="duplicate qa_eval.tasks plugin 'x': pkg_a.mod:X and pkg_b.mod:X"):
        registry.index_entry_points(eps, "qa_eval.tasks")


def test_broken_plugin_fails_loudly_naming_itself() -> None:
    ep = EntryPoint("broken", "qa_eval_no_such_module.sub:THING", "qa_eval.tasks")
    with pytest.raises(RegistryError, match=r"task plugin 'broken' \(qa_eval_no_such_module.sub:THING\) failed to load"):
        registry.load_entry_point("task", ep)


def test_every_installed_plugin_loads() -> None:
    for kind in ("task", "model", "scorer"):
        for name in registry.names(kind):
            assert registry.load(kind, name) is not None


def test_batch_size_flag_accepts_auto_or_a_positive_integer() -> None:
    from qa_eval.cli import build_parser

    parse = lambda v: build_parser().parse_args(["run", "--task", "t", "--model", "m", "--batch-size", v])  # noqa: E731
    assert parse("auto").batch_size == "auto" and parse("16").batch_size == 16
    for bad in ("0", "-2", "big"):
        with pytest.raises(SystemExit):
            parse(bad)


def test_a_generation_ends_at_the_first_of_any_end_token():
    """The one decoding policy (qa_eval.adapter.make_generation) every adapter builds its
    records with: cut at the first of any end id, flag a row the budget ended."""
    from qa_eval.adapter import make_generation
    from qa_eval.records import GenerationConfig

    config = GenerationConfig(max_new_tokens=4)
    text = lambda ids: " ".join(map(str, ids))  # noqa: E731
    g = make_generation([11, 12, 99, 13], (98, 99), config, text)
    assert (g.text, g.token_ids, g.n_new_tokens, g.info) == ("11 12", (11, 12), 2, {})
    full = make_generation([11, 12, 13, 14], (98, 99), config, text, {"truncated_audio": True})
    assert full.info == {"truncated_audio": True, "max_new_tokens_reached": True}
