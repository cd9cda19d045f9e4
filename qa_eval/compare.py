"""`qa-eval compare BASELINE CANDIDATE`: per-metric differences, their paired 95 % intervals, a verdict.

Two results are compared only when their numbers mean the same thing. Anything else is refused
(ConfigError: exit 2, one line naming the difference): another task, another scorer, scorer
version or scorer options (a `wer` and a `wer-normalized` WER of the same predictions differ by
design), or other data (samples per source, the manifest, data and references digests) unless
`--allow-different-data`.

Per (source, metric) the candidate is set against the baseline two ways:
* tolerance: worse by more than the metric's tolerance (the scorer's default, or --tolerance);
* significance: a paired bootstrap over the samples both results scored. Both metrics.json files
  carry each sample's statistics (`samples`); one set of 1000 seeded resamples of the paired
  samples is reduced by the scorer for each side, and the 2.5th-97.5th percentiles of the
  differences are the 95 % interval. A regression is significant when the whole interval lies on
  the worse side of 0. No rescoring: the same statistics the numbers were reduced from.
`--fail-on tolerance` (the default), `significant` or `both` (worse beyond tolerance and
significantly) says which regressions fail (exit 1). A number that became null, a metric or
source that disappeared, and more failed samples always fail.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from qa_eval import registry
from qa_eval.errors import ConfigError, QaEvalError
from qa_eval.results import RunResult
from qa_eval.scoring import declared_metric

DATA_DIGESTS = ("manifest_sha256", "data_sha256", "references_sha256")
FAIL_ON = ("tolerance", "significant", "both")


@dataclass(frozen=True)
class Paired:
    """candidate - baseline on the samples both scored, with its paired bootstrap 95 % interval."""

    diff: float
    low: float
    high: float
    n: int
    significant: bool  # the interval lies wholly on the worse side of 0


@dataclass(frozen=True)
class Comparison:
    task: str
    source: str
    metric: str
    baseline: float | None
    candidate: float | None
    tolerance: float
    regressed: bool  # fails the comparison under the chosen --fail-on
    reason: str = ""
    scorer: str | None = None
    paired: Paired | None = None

    @property
    def diff(self) -> float | None:
        return None if self.baseline is None or self.candidate is None else self.candidate - self.baseline

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "diff": self.diff}


def known_metric_names() -> set[str]:
    """Every metric an installed scorer declares."""
    return {m.name for name in registry.names("scorer") for m in registry.load("scorer", name).metrics}


def parse_tolerances(items: Iterable[str], extra_names: Iterable[str] = ()) -> dict[str, float]:
    """METRIC=NUMBER overrides; a metric no scorer declares (and not in `extra_names`) is an error."""
    known = known_metric_names() | set(extra_names)
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = (part.strip() for part in item.partition("="))
        try:
            tol = float(value)
        except ValueError:
            tol = math.nan
        if not sep or not name or not (math.isfinite(tol) and tol >= 0):
            raise ConfigError(f"--tolerance expects METRIC=NUMBER (a number >= 0), got {item!r}")
        if name not in known:
            raise ConfigError(f"--tolerance {item!r}: no scorer reports a metric {name!r}; "
                              f"known: {', '.join(sorted(known))}")
        out[name] = tol
    return out


def load_results(path: Path) -> dict[str, RunResult]:
    """task -> result, from one metrics.json or every one under a folder."""
    files = sorted(path.rglob("metrics.json")) if path.is_dir() else [path]
    if not files or not files[0].is_file():
        raise ConfigError(f"{path}: no metrics.json found")
    return {r.task: r for r in map(RunResult.read, files)}


def _scoring_options(result: RunResult) -> dict[str, Any] | None:
    """The scorer options that shape the numbers (not where a resource lives, e.g. spice_dir);
    None when the file does not record them."""
    if result.scorer.options is None:
        return None
    try:
        ignored = registry.load("scorer", result.scorer.name).location_options
    except QaEvalError:
        ignored = ()
    return {k: v for k, v in result.scorer.options.items() if k not in ignored}


def refusal(base: RunResult, cand: RunResult) -> str | None:
    """Why two results' numbers do not mean the same thing (None when they do)."""
    if base.task != cand.task:
        return f"different tasks ({base.task} vs {cand.task})"
    b, c = base.scorer, cand.scorer
    if b.name != c.name:
        return f"different scorers ({b.name} vs {c.name}): their numbers measure different things"
    if b.version != c.version:
        return f"scorer {b.name}: different versions ({b.version} vs {c.version})"
    bo, co = _scoring_options(base), _scoring_options(cand)
    if bo is not None and co is not None and bo != co:
        changed = sorted(k for k in set(bo) | set(co) if bo.get(k) != co.get(k))
        shown = ", ".join(f"{k}={bo.get(k)!r} vs {co.get(k)!r}" for k in changed)
        return f"scorer {b.name}: different options ({shown})"
    return None


def data_differences(base: RunResult, cand: RunResult) -> list[str]:
    """Why two results did not score the same data (empty when they did)."""
    out = []
    for key in DATA_DIGESTS:
        bv, cv = base.meta.get(key), cand.meta.get(key)
        if bv and cv and bv != cv:
            out.append(f"{key} {bv[:12]} vs {cv[:12]}")
    for source, entry in base.per_source.items():
        other = cand.per_source.get(source)
        if other is not None and entry.n != other.n:
            out.append(f"{source}: {entry.n} vs {other.n} samples")
    return out


def paired(base: RunResult, cand: RunResult, source: str, seed: int) -> dict[str, Paired]:
    """The paired differences of one source, per metric ({} without per-sample statistics)."""
    b, c = base.per_source[source].samples, cand.per_source[source].samples
    if b is None or c is None or base.scorer.name is None:
        return {}
    try:
        scorer = registry.load("scorer", base.scorer.name)
    except QaEvalError:
        return {}
    out = {}
    for metric, (diff, low, high, n) in scorer.paired_differences(b, c, seed).items():
        worse = high < 0 if scorer.higher_is_better.get(metric, True) else low > 0
        out[metric] = Paired(diff, low, high, n, worse)
    return out


def compare_results(base: RunResult, cand: RunResult, tolerances: Mapping[str, float],
                    fail_on: str = "tolerance", seed: int = 0) -> list[Comparison]:
    """One Comparison per (source, metric) of the baseline, plus failed-sample counts."""
    rows = []
    scorer = base.scorer.name
    for source, b_entry in base.per_source.items():
        c_entry = cand.per_source.get(source)
        intervals = paired(base, cand, source, seed) if c_entry is not None else {}
        for metric, b_val in b_entry.values.items():
            declared = declared_metric(scorer, metric)
            tol = tolerances.get(metric, declared.tolerance)

            def row(c_val: float | None, regressed: bool, reason: str, p: Paired | None = None) -> Comparison:
                return Comparison(base.task, source, metric, b_val, c_val, tol, regressed, reason, scorer, p)

            if c_entry is None or metric not in c_entry.values:
                rows.append(row(None, True, "missing in candidate"))
                continue
            c_val = c_entry.values[metric]
            if b_val is not None and c_val is None:
                rows.append(row(None, True, "became null"))
            elif b_val is None or c_val is None:
                rows.append(row(c_val, False, "not comparable"))
            else:
                worse = (b_val - c_val) if declared.higher_is_better else (c_val - b_val)
                rows.append(row(c_val, *_verdict(worse > tol + 1e-12, intervals.get(metric), fail_on),
                                intervals.get(metric)))
        if c_entry is not None and c_entry.n_failed > b_entry.n_failed:
            rows.append(Comparison(base.task, source, "n_failed", b_entry.n_failed, c_entry.n_failed,
                                   0, True, "more failed samples"))
    return rows


def _verdict(beyond_tolerance: bool, p: Paired | None, fail_on: str) -> tuple[bool, str]:
    """(regressed, reason) under --fail-on."""
    significant = p is not None and p.significant
    reasons = [r for r, on in (("worse beyond tolerance", beyond_tolerance),
                               ("significantly worse", significant)) if on]
    regressed = {"tolerance": beyond_tolerance, "significant": significant,
                 "both": beyond_tolerance and significant}[fail_on]
    return regressed, " and ".join(reasons)


def compare_paths(baseline: Path, candidate: Path, tolerance_items: Iterable[str] = (),
                  allow_different_data: bool = False, fail_on: str = "tolerance",
                  seed: int = 0) -> list[Comparison]:
    """Compare every task of the baseline with the candidate's; ConfigError (exit 2) when they
    are not comparable (module docstring)."""
    if fail_on not in FAIL_ON:
        raise ConfigError(f"--fail-on must be one of {', '.join(FAIL_ON)}, got {fail_on!r}")
    base_results, cand_results = load_results(baseline), load_results(candidate)
    if baseline.is_file() and candidate.is_file():
        (b,), (c,) = base_results.values(), cand_results.values()
        why = refusal(b, c)
        if why:
            raise ConfigError(f"{baseline} and {candidate} are not comparable: {why}")
    present = {m for r in base_results.values() for e in r.per_source.values() for m in e.values}
    tolerances = parse_tolerances(tolerance_items, present)
    rows: list[Comparison] = []
    for task, base in sorted(base_results.items()):
        cand = cand_results.get(task)
        if cand is None:
            rows.append(Comparison(task, "*", "*", None, None, 0, True, "task missing in candidate"))
            continue
        why = refusal(base, cand)
        if why:
            raise ConfigError(f"{task}: baseline and candidate are not comparable: {why}")
        differences = data_differences(base, cand)
        if differences and not allow_different_data:
            raise ConfigError(f"{task}: baseline and candidate scored different data ({'; '.join(differences)}); "
                              "compare runs on the same data, or pass --allow-different-data")
        if fail_on != "tolerance":
            missing = [w for w, r in (("baseline", base), ("candidate", cand))
                       if any(m.samples is None for m in r.per_source.values())]
            if missing:
                raise ConfigError(f"{task}: --fail-on {fail_on} needs the per-sample statistics of both results, "
                                  f"but the {' and '.join(missing)} has none (scored by an older qa-eval): "
                                  "score it again with `qa-eval score`")
        rows += compare_results(base, cand, tolerances, fail_on, seed)
    return rows


def _interval(r: Comparison, fmt) -> str:
    p = r.paired
    if p is None:
        return ""
    return f"paired 95% CI [{p.low:+.{fmt}f}, {p.high:+.{fmt}f}] (n={p.n}){' significant' if p.significant else ''}"


def print_comparison(rows: list[Comparison]) -> None:
    for r in rows:
        declared = declared_metric(r.scorer, r.metric)
        fmt = str if r.metric == "n_failed" else declared.format
        parts = [f"{'REGRESSION' if r.regressed else 'ok':10s}", f"{r.task}/{r.source} {r.metric}:",
                 f"{fmt(r.baseline)} -> {fmt(r.candidate)}",
                 "" if r.diff is None else f"{r.diff:+.{declared.decimals}f}",
                 _interval(r, declared.decimals), f"(tolerance {r.tolerance:g})", r.reason]
        print(" ".join(p for p in parts if p))
    n_bad = sum(r.regressed for r in rows)
    print(f"{n_bad} regression(s) in {len(rows)} comparison(s)")


def markdown_comparison(rows: list[Comparison], fail_on: str = "tolerance") -> str:
    """A summary for a pull-request comment: verdict, then one table row per comparison."""
    n_bad = sum(r.regressed for r in rows)
    head = (f"**qa-eval compare: {n_bad} regression(s)** in {len(rows)} comparison(s) "
            f"(fail on: {fail_on}; paired bootstrap 95 % intervals, 1000 resamples)\n\n")
    lines = ["| | task | source | metric | baseline | candidate | diff | paired 95% CI | n | tolerance |",
             "|---|---|---|---|--:|--:|--:|---|--:|--:|"]
    for r in rows:
        declared = declared_metric(r.scorer, r.metric)
        fmt = str if r.metric == "n_failed" else declared.format
        d = declared.decimals
        p = r.paired
        ci = "" if p is None else f"[{p.low:+.{d}f}, {p.high:+.{d}f}]" + (" ⚠" if p.significant else "")
        lines.append(" | ".join([
            "", "❌" if r.regressed else "✅", r.task, r.source, r.metric, fmt(r.baseline), fmt(r.candidate),
            "" if r.diff is None else f"{r.diff:+.{d}f}", ci, "" if p is None else str(p.n), f"{r.tolerance:g}", "",
        ]).strip())
    return head + "\n".join(lines) + "\n"
