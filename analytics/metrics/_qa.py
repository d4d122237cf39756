"""Building blocks of the QA what-ifs: runs with other thresholds or golden labels, answers after bans, quality.

Nothing here is a figure (the figures are :mod:`analytics.metrics.whatif` and
:mod:`analytics.metrics.audit`); these functions return modified runs or plain numbers. A modified
run is a new immutable Run (``dataclasses.replace``) whose answers keep their categories, so
integer codes and every metric work on it unchanged; the version it came from is never touched.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from analytics.metrics._base import MetricUnavailable
from analytics.metrics._pool import share_pool_tables
from analytics.metrics.cost import assignment_cost
from analytics.metrics.speed import replay_order, suites
from analytics.model import Run
from analytics.model._deferred import replace_run

# the replayed rules' thresholds a what-if may set (analytics.metrics.rules names them so)
SETTABLE: dict[str, tuple[str, ...]] = {
    "fast_responses": ("history_size", "count", "fast_submit_threshold_seconds"),
    "golden_set": ("history_size", "min_answers", "min_correct_percent", "max_incorrect_percent"),
}
_WHOLE = ("history_size", "count", "min_answers")  # whole numbers >= 1 (history_size also None)
_PERCENT = ("min_correct_percent", "max_incorrect_percent")  # 0..100, or None to drop the condition


def settable_keys() -> list[str]:
    """Every ``RULE.KEY`` a what-if may set, in the rules' order."""
    return [f"{rule}.{key}" for rule, keys in SETTABLE.items() for key in keys]


def _value(key: str, value: Any) -> Any:
    """A threshold checked for its key: whole numbers >= 1, seconds > 0, percentages 0..100, None where allowed."""
    if isinstance(value, str):
        text = value.strip().lower()
        value = None if text in ("none", "null", "") else value
    if value is None:
        if key in ("history_size", *_PERCENT):
            return None
        raise ValueError(f"{key} cannot be none: give a number")
    try:
        x = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        x = math.nan
    if key in _WHOLE:
        if not (x >= 1 and x.is_integer()):
            raise ValueError(f"{key} must be a whole number >= 1{' or none' if key == 'history_size' else ''}")
        return int(x)
    if key == "fast_submit_threshold_seconds":
        if not (x > 0 and math.isfinite(x)):
            raise ValueError(f"{key} must be a number of seconds > 0")
        return x
    if not 0 <= x <= 100:
        raise ValueError(f"{key} must be a percentage from 0 to 100, or none")
    return x


def normalize_settings(settings: Any) -> dict[str, dict[str, Any]]:
    """``{rule: {key: value}}`` from a flat ``{"rule.key": value}`` mapping, a nested one, pairs, or
    ``"rule.key=value"`` strings; ValueError naming the settable keys for an unknown one."""
    if settings is None:
        return {}
    if isinstance(settings, Mapping):
        items: Iterable = settings.items()
    elif isinstance(settings, str):
        items = [settings]
    else:
        items = list(settings)
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        if isinstance(item, str):
            name, sep, raw = item.partition("=")
            if not sep:
                raise ValueError(f"a setting is RULE.KEY=VALUE (e.g. golden_set.min_answers=5); got {item!r}")
            pairs = [(name.strip(), raw.strip())]
        else:
            name, raw = item
            if isinstance(raw, (Mapping, tuple)) and "." not in str(name):  # nested: {rule: {key: value}}
                pairs = [(f"{name}.{k}", v) for k, v in (raw.items() if isinstance(raw, Mapping) else raw)]
            else:
                pairs = [(str(name), raw)]
        for full, value in pairs:
            rule, _, key = str(full).partition(".")
            if rule not in SETTABLE or key not in SETTABLE[rule]:
                raise ValueError(f"unknown rule setting {full!r}; the settable ones are: {', '.join(settable_keys())}")
            try:
                out.setdefault(rule, {})[key] = _value(key, value)
            except ValueError as err:
                raise ValueError(f"the setting {full}: {err}; got {value!r}") from None
    return out


def with_rules(run: Run, settings: Any, pool_id: str | None = None) -> Run:
    """``run`` with the replayed rules' thresholds changed as ``settings`` say (every pool with
    such a rule, or ``pool_id``'s only); ValueError where no pool has the rule set."""
    chosen = normalize_settings(settings)
    pools = []
    for info in run.meta.pools:
        rules = list(info.rules)
        if pool_id is None or info.pool_id == str(pool_id):
            rules = [_set(r, chosen.get(r.get("type"), {})) for r in rules]
        pools.append(dataclasses.replace(info, rules=tuple(rules)))
    for rule in chosen:
        if not any(r.get("type") == rule for p in pools for r in p.rules if pool_id in (None, p.pool_id)):
            where = f"pool {pool_id}" if pool_id is not None else "any pool of this run"
            raise ValueError(f"{where} has no {rule} rule to change (the run's rules come with its pools)")
    return replace_run(run, meta=dataclasses.replace(run.meta, pools=tuple(pools)))


def _set(rule: dict, changes: dict[str, Any]) -> dict:
    out = dict(rule)
    for key, value in changes.items():
        if value is None and key in _PERCENT:
            out.pop(key, None)
        else:
            out[key] = value
    if out.get("type") == "golden_set" and changes and all(out.get(k) is None for k in _PERCENT):
        raise ValueError("golden_set needs min_correct_percent or max_incorrect_percent: do not set both to none")
    return out


def golden_overrides(run: Run, overrides: Any) -> dict[str, str | None]:
    """``{task_id: label or None}`` checked against the run: control tasks, labels of the label set."""
    items = list(overrides.items() if isinstance(overrides, Mapping) else overrides or ())
    if not items:
        return {}
    a, c = run.answers, run.codes
    control = set(c.task_names.take(np.unique(c.task[c.golden >= 0])).astype(str))  # on codes, not 10^7 strings
    out: dict[str, str | None] = {}
    for task, label in items:
        task = str(task)
        if task not in control:
            raise ValueError(
                f"task {task!r} is not a control task of this run (a task with a golden label); "
                f"the run has {len(control)} control tasks"
            )
        if label is not None and str(label) not in a["golden"].cat.categories:
            raise ValueError(
                f"the label {label!r} for task {task} is not in the run's label set ({', '.join(map(str, run.labels))})"
            )
        out[task] = None if label is None else str(label)
    return dict(sorted(out.items()))


def with_golden(run: Run, overrides: Any) -> Run:
    """``run`` with golden labels corrected (a label) or dropped (None) per control task."""
    chosen = golden_overrides(run, overrides)
    if not chosen:
        return run
    c = run.codes
    categories = run.answers["golden"].cat.categories
    # per task code: its new golden code (-1 dropped), or KEPT; then one pass over the answers
    kept = -2
    new_code = np.full(c.n_tasks, kept, dtype=np.int64)
    for task, label in chosen.items():
        new_code[c.task_names.get_loc(task)] = categories.get_loc(label) if label is not None else -1
    golden = c.golden.copy()
    per_answer = new_code[c.task]
    rows = (per_answer != kept) & (golden >= 0)
    golden[rows] = per_answer[rows]
    a = run.answers.copy(deep=False)  # the other columns are shared, not copied (10^7 rows)
    a["golden"] = pd.Categorical.from_codes(golden, dtype=run.answers["golden"].dtype)
    changed = replace_run(run, answers=a)
    _share_label_figures(run, changed, golden)
    return changed


def _share_label_figures(run: Run, changed: Run, golden: np.ndarray) -> None:
    """Hand ``changed`` (``run`` with other golden labels) what ``run`` has computed that golden
    labels do not enter: its codes but golden, the labeling pool's codes and votes, and every
    aggregation (they read the answers' labels only), so a what-if on golden labels does not
    aggregate 10^7 answers again."""
    from analytics.metrics import aggregation

    changed.__dict__["codes"] = dataclasses.replace(run.codes, golden=golden)  # the cached_property's slot
    share_pool_tables(run, changed)
    if run in aggregation._CACHE:
        aggregation._CACHE[changed] = dict(aggregation._CACHE[run])


# ---- the answers after a ban


def ordered_suites(run: Run) -> pd.DataFrame:
    """Submitted suites in the replay's order (speed.replay_order) with each suite's ``cost``."""
    s = replay_order(suites(run))
    cost = assignment_cost(run).set_index("assignment_id")["cost"]
    return s.assign(cost=s["assignment_id"].map(cost).astype("float64").fillna(0.0).to_numpy())


def after_bans(ordered: pd.DataFrame, bans: pd.DataFrame) -> pd.DataFrame:
    """The suites (rows of ``ordered``) submitted after each ban of ``bans`` (worker_id, pool_id,
    suites_before) in its pool."""
    if bans.empty:
        return ordered.iloc[0:0]
    b = bans[["worker_id", "pool_id", "suites_before"]].astype({"suites_before": "int64"})
    m = ordered.merge(b, on=["worker_id", "pool_id"], how="inner")
    return m[m["position"] >= m["suites_before"]]


def without_suites(run: Run, assignment_codes: np.ndarray) -> Run:
    """``run`` without the answers of these suites (assignment codes)."""
    if len(assignment_codes) == 0:
        return run
    codes = run.answers["assignment_id"].cat.codes.to_numpy()
    keep = ~np.isin(codes, np.asarray(assignment_codes, dtype=codes.dtype))
    return replace_run(run, answers=run.answers[keep].reset_index(drop=True))


def _figure(fn, *args) -> Any:
    try:
        return fn(*args)
    except MetricUnavailable:
        return None


def quality(run: Run, method: str = "mv") -> dict[str, Any]:
    """Answers, tasks, Krippendorff's alpha and the aggregate's accuracy against golden and truth
    (None where the run cannot give one) of what a run holds."""
    from analytics.metrics import aggregation, registry

    def _alpha():  # the registry's: computed once per run, shared with the pages and the report
        return registry.compute(run, "run_agreement").krippendorff_alpha

    agg = _figure(aggregation.aggregate, run, method)
    golden = _figure(aggregation.accuracy_vs_golden, run, agg) if agg is not None else None
    truth = _figure(aggregation.accuracy_vs_truth, run, agg) if agg is not None and run.truth is not None else None
    pool = _figure(aggregation.pool_rows, run)
    return {
        "answers": 0 if pool is None else int(len(pool)),
        "tasks": 0 if agg is None else int(len(agg.labels)),
        "krippendorff_alpha": _clean(_figure(_alpha)),
        "accuracy_vs_golden": None if golden is None else _clean(golden.accuracy),
        "golden_tasks": None if golden is None else golden.tasks,
        "golden_ci": None if golden is None else [_clean(golden.ci_low), _clean(golden.ci_high)],
        "accuracy_vs_truth": None if truth is None else _clean(truth.accuracy),
        "truth_tasks": None if truth is None else truth.tasks,
        "method": method,
    }


def _clean(x: Any) -> Any:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON-able records: times as ISO text, NaN/NA as None, numpy scalars as Python's."""
    out = []
    for rec in frame.reset_index(drop=isinstance(frame.index, pd.RangeIndex)).to_dict("records"):
        row = {}
        for k, v in rec.items():
            if isinstance(v, pd.Timestamp):
                v = v.isoformat()
            elif v is pd.NaT or (not isinstance(v, (str, list, tuple, dict)) and pd.isna(v)):
                v = None
            elif isinstance(v, np.generic):
                v = v.item()
            row[str(k)] = v
        out.append(row)
    return out
