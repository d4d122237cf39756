"""The people pages' annotator table: a row per annotator with the figures QA judges them by, and its filters."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from analytics.metrics import labels, registry
from analytics.metrics._base import MetricUnavailable, kind_mask
from analytics.model import Run


def _figure(value: Any, run: Run, metric: str, name: str, unavailable: dict[str, str]) -> Any:
    """``value`` if given, else the registry's ``metric`` of ``run``; a MetricUnavailable (given or
    raised) becomes None and its reason is noted under ``name``."""
    if value is None:
        value = registry.outcome(run, metric)
    if isinstance(value, MetricUnavailable):
        unavailable[name] = str(value)
        return None
    return value


def annotator_table(
    run: Run,
    *,
    control_acc: pd.DataFrame | MetricUnavailable | None = None,
    worker_agreement: pd.DataFrame | MetricUnavailable | None = None,
    worker_speed: pd.DataFrame | MetricUnavailable | None = None,
    exam_scores: pd.DataFrame | MetricUnavailable | None = None,
    replayed: pd.DataFrame | MetricUnavailable | None = None,
    label_use: labels.LabelUse | MetricUnavailable | None = None,
    truth_acc: pd.DataFrame | MetricUnavailable | None = None,
) -> pd.DataFrame:
    """One row per annotator with the figures a QA reviewer judges them by.

    Index ``worker_id`` (sorted): every annotator with an answer of any kind. Columns:

    * ``answers``: all their answers (every kind, skipped and expired included);
      ``labeling_answers``: labeled answers in the labeling pool (regular and control);
    * ``control_answers``, ``control_correct``, ``control_accuracy``, ``control_ci_low``,
      ``control_ci_high``, ``control_enough``: control.control_accuracy (95 % Wilson; enough =
      at least its min_answers); NaN / False for an annotator without control answers;
    * ``truth_answers``, ``truth_correct``, ``truth_accuracy``, ``truth_ci_low``,
      ``truth_ci_high``: accuracy against the run's ground truth (the registry's
      ``workers_vs_truth``: every labeled answer on a task with a truth label, 95 % Wilson);
      0 / NaN for an annotator without such answers, and for everyone without truth;
    * ``agreement_answers``, ``agreement_agree``, ``agreement``, ``agreement_ci_low``,
      ``agreement_ci_high``: agreement.worker_agreement (share of answers equal to the
      aggregated label, majority vote unless another aggregation was passed);
    * ``timed_suites``, ``median_seconds_per_task``: speed.worker_speed;
    * ``exam_items``, ``exam_correct``, ``exam_score``, ``exam_passed``: exam.exam_scores;
    * ``recorded_rule``, ``recorded_at``, ``recorded_reason``: their first restriction in
      run.restrictions (``recorded_rule`` missing where the restriction names no rule);
      ``banned``: they have a recorded restriction;
    * ``replayed_rule``, ``replayed_at``, ``replayed_evidence``: the first firing of the pools'
      rules replayed (rules.replay_rules) over their answers; ``flagged``: banned, or the
      replay would ban them;
    * ``ban_status``: the two sides in words ("banned by golden_set (the replay agrees)",
      "banned by X (the replay does not ban)", "not banned; the replay of X would ban",
      "not banned");
    * ``over_used_label``: the label they over-use where labels.annotator_label_use flags them.

    Figures the run cannot give (no control tasks, no times, no exam, no rules) are left
    missing and their reasons are in ``attrs["unavailable"]`` ({figure: reason}).
    """
    unavailable: dict[str, str] = {}
    out = _answer_counts(run)
    _join(out, _figure(control_acc, run, "control_accuracy", "control accuracy", unavailable), *_CONTROL)
    _join(out, _figure(truth_acc, run, "workers_vs_truth", "accuracy against truth", unavailable), *_TRUTH)
    agr = _figure(worker_agreement, run, "worker_agreement", "agreement with the aggregate", unavailable)
    _join(out, agr, *_AGREEMENT)
    _join(out, _figure(worker_speed, run, "worker_speed", "speed", unavailable), *_SPEED)
    _join_exam(out, _figure(exam_scores, run, "exam_scores", "exam score", unavailable))
    _join_recorded_bans(out, run)
    rep = _figure(replayed, run, "replay_rules", "replayed ban rules", unavailable)
    _join_replayed_bans(out, rep)
    out["flagged"] = out["banned"] | out["replayed_rule"].notna()
    out["ban_status"] = _ban_status(out, replay_known=rep is not None)
    _join_label_use(out, _figure(label_use, run, "annotator_label_use", "label use", unavailable))
    for col in ("recorded_rule", "recorded_reason", "replayed_rule", "replayed_evidence", "over_used_label"):
        out[col] = out[col].astype("str")
    tz = run.answers["submitted_at"].dtype
    for col in ("recorded_at", "replayed_at"):
        out[col] = pd.to_datetime(out[col], utc=True).astype(tz)
    out.attrs["unavailable"] = unavailable
    return out


# the figures joined as they are: (the metric's column -> the table's, the value for an annotator it lacks)
_CONTROL = (
    {
        "answers": "control_answers",
        "correct": "control_correct",
        "accuracy": "control_accuracy",
        "ci_low": "control_ci_low",
        "ci_high": "control_ci_high",
        "enough": "control_enough",
    },
    {"control_answers": 0, "control_correct": 0, "control_enough": False},
)
_TRUTH = (
    {
        "answers": "truth_answers",
        "correct": "truth_correct",
        "accuracy": "truth_accuracy",
        "ci_low": "truth_ci_low",
        "ci_high": "truth_ci_high",
    },
    {"truth_answers": 0, "truth_correct": 0},
)
_AGREEMENT = (
    {
        "answers": "agreement_answers",
        "agree": "agreement_agree",
        "agreement": "agreement",
        "ci_low": "agreement_ci_low",
        "ci_high": "agreement_ci_high",
    },
    {"agreement_answers": 0, "agreement_agree": 0},
)
_SPEED = (
    {"assignments": "timed_suites", "median_seconds_per_task": "median_seconds_per_task"},
    {"timed_suites": 0},
)


def _answer_counts(run: Run) -> pd.DataFrame:
    """The table's rows (every annotator with an answer, sorted by id) with ``answers`` and ``labeling_answers``."""
    c = run.codes
    per_worker = np.bincount(c.worker, minlength=c.n_workers)
    present = np.flatnonzero(per_worker)
    present = present[
        np.argsort(np.asarray(c.worker_names[present], dtype=object), kind="stable")
    ]  # sorted by id, whatever the code order
    names = pd.Index(np.asarray(c.worker_names, dtype=object)[present], name="worker_id", dtype="str")
    labeled_pool = kind_mask(run, "regular", "control") & (c.label >= 0)
    return pd.DataFrame(
        {
            "answers": per_worker[present].astype(np.int64),
            "labeling_answers": np.bincount(c.worker[labeled_pool], minlength=c.n_workers)[present].astype(np.int64),
        },
        index=names,
    )


def _join(out: pd.DataFrame, frame: pd.DataFrame | None, mapping: dict[str, str], fill: Mapping[str, Any]) -> None:
    """Add ``frame``'s columns (``mapping``: its column -> the table's) to ``out``; ``fill`` for the missing."""
    for src, dst in mapping.items():
        if frame is None:
            out[dst] = fill.get(dst, np.nan)
            continue
        col = frame[src].reindex(out.index)
        if dst in fill:
            col = col.astype("object").fillna(fill[dst]).astype(type(fill[dst]))
        out[dst] = col.to_numpy()


def _join_exam(out: pd.DataFrame, ex: pd.DataFrame | None) -> None:
    _join(
        out,
        ex,
        {"items": "exam_items", "correct": "exam_correct", "score": "exam_score"},
        {"exam_items": 0, "exam_correct": 0},
    )
    passed = ex["passed"].reindex(out.index) if ex is not None else pd.Series(pd.NA, index=out.index)
    out["exam_passed"] = pd.array(passed.to_numpy(), dtype="boolean")


def _join_recorded_bans(out: pd.DataFrame, run: Run) -> None:
    """Each annotator's first recorded restriction (``recorded_*``) and ``banned``."""
    r = run.restrictions
    r = r[r["worker_id"].notna()].sort_values(["worker_id", "created_at"], kind="stable").drop_duplicates("worker_id")
    r = r.set_index(r["worker_id"].astype(str))
    out["recorded_rule"] = r["rule"].reindex(out.index).astype("str").to_numpy()
    out["recorded_at"] = r["created_at"].reindex(out.index).to_numpy()
    out["recorded_reason"] = r["reason"].reindex(out.index).astype("str").to_numpy()
    out["banned"] = out.index.isin(r.index)


def _join_replayed_bans(out: pd.DataFrame, rep: pd.DataFrame | None) -> None:
    """Each annotator's first replayed firing (``replayed_*``; rules.replay_rules)."""
    if rep is not None and len(rep):
        fired = (
            rep[rep["rule"].notna()]
            .sort_values(["worker_id", "at"], kind="stable")
            .drop_duplicates("worker_id")
            .set_index("worker_id")
        )
    else:
        fired = pd.DataFrame(columns=["rule", "at", "evidence"])
    out["replayed_rule"] = fired["rule"].reindex(out.index).astype("str").to_numpy()
    out["replayed_at"] = pd.to_datetime(fired["at"].reindex(out.index), utc=True).to_numpy()
    out["replayed_evidence"] = fired["evidence"].reindex(out.index).astype("str").to_numpy()


def _join_label_use(out: pd.DataFrame, use: labels.LabelUse | None) -> None:
    """``over_used_label`` where labels.annotator_label_use flags the annotator."""
    if use is not None:
        a = use.annotators
        over = a["over_used_label"].astype("str").where(a["flagged"])
        out["over_used_label"] = over.reindex(out.index).to_numpy()
    else:
        out["over_used_label"] = pd.Series(pd.NA, index=out.index, dtype="str").to_numpy()


def _ban_status(t: pd.DataFrame, replay_known: bool) -> np.ndarray:
    rec, rep = t["recorded_rule"], t["replayed_rule"]
    status = []
    for banned, r1, r2 in zip(t["banned"], rec, rep, strict=True):
        r1 = None if pd.isna(r1) else str(r1)
        r2 = None if pd.isna(r2) else str(r2)
        if banned:
            what = f"banned by {r1}" if r1 else "banned (no rule recorded)"
            if not replay_known:
                status.append(what)
            elif r2 is None:
                status.append(f"{what} (the replay does not ban)")
            elif r1 == r2:
                status.append(f"{what} (the replay agrees)")
            else:
                status.append(f"{what} (the replay bans by {r2})")
        else:
            status.append(f"not banned; the replay of {r2} would ban" if r2 else "not banned")
    return np.asarray(status, dtype=object)


def attach_decisions(table: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """``table`` (annotator_table) with each annotator's latest review decision.

    ``decisions`` is analytics.reviews.decisions (oldest first). Adds ``last_decision``, ``decided_by``,
    ``decided_at`` (as recorded, ISO text) and ``decisions`` (how many were recorded); missing /
    0 where there is none. The latest decision counts (decisions are append-only).
    """
    out = table.copy()
    d = decisions[decisions["worker_id"].notna()] if len(decisions) else decisions
    if len(d):
        wid = d["worker_id"].astype(str)
        last = d.assign(worker_id=wid).drop_duplicates("worker_id", keep="last").set_index("worker_id")
        n = wid.value_counts()
    else:
        last = pd.DataFrame(columns=["decision", "reviewer", "decided_at"])
        n = pd.Series(dtype="int64")
    out["last_decision"] = last["decision"].reindex(out.index).astype("str").to_numpy()
    out["decided_by"] = last["reviewer"].reindex(out.index).astype("str").to_numpy()
    out["decided_at"] = last["decided_at"].reindex(out.index).astype("str").to_numpy()
    out["decisions"] = n.reindex(out.index).fillna(0).astype(np.int64).to_numpy()
    for col in ("last_decision", "decided_by", "decided_at"):
        out[col] = out[col].astype("str")
    return out


def filter_annotators(
    table: pd.DataFrame,
    *,
    flagged_only: bool = False,
    banned_only: bool = False,
    min_answers: int = 0,
    accuracy_below: float | None = None,
    search: str | None = None,
) -> pd.DataFrame:
    """The rows of annotator_table that pass every filter given.

    ``flagged_only``: banned or banned by the replay; ``banned_only``: a recorded restriction;
    ``min_answers``: answers >= it; ``accuracy_below``: control accuracy < it (annotators without
    control answers have no accuracy and are left out); ``search``: a case-insensitive substring
    of the worker id (taken literally, not as a pattern).
    """
    keep = np.ones(len(table), dtype=bool)
    if flagged_only:
        keep &= table["flagged"].to_numpy(dtype=bool)
    if banned_only:
        keep &= table["banned"].to_numpy(dtype=bool)
    if min_answers:
        keep &= table["answers"].to_numpy() >= min_answers
    if accuracy_below is not None:
        keep &= (table["control_accuracy"] < accuracy_below).fillna(False).to_numpy(dtype=bool)
    if search:
        keep &= table.index.str.contains(search.strip(), case=False, regex=False)
    return table[keep]
