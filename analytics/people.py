"""People-level views of a run for the QA pages: one row per annotator, one annotator's or one task's answers.

These functions join figures the other metric modules compute (control accuracy, agreement with
the aggregate, speed, exam score, replayed and recorded bans) rather than computing new rates,
so every number a reviewer sees on a people page is the number of its own metric. Each figure's
inputs may be passed in precomputed (the dashboard passes its cached results) or left None to
be computed here; a figure the run cannot support is left empty and its reason is kept in
``attrs["unavailable"]`` instead of failing the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from analytics.metrics import agreement, control, exam, labels, rules, speed
from analytics.metrics._base import MetricUnavailable, kind_mask, name_rank, per_run_cache
from analytics.metrics.exam import HARD_GAP
from analytics.model import Run

# exam item verdicts (from exam_item_pass_rate's ``reading``) in the words of the Exam page
VERDICTS = ("trap", "check item", "works", "easy", "too few answers")

# bins of the speed histograms (speed_vs_pool): the last bin is open-ended at the pools' 99th percentile
SPEED_BINS = 30
SPEED_TOP_QUANTILE = 0.99


def _figure(value: Any, compute: Callable[[], Any], name: str, unavailable: dict[str, str]) -> Any:
    """``value`` if given, else ``compute()``; a MetricUnavailable (given or raised) becomes None
    and its reason is noted under ``name``."""
    if value is None:
        try:
            value = compute()
        except MetricUnavailable as err:
            value = err
    if isinstance(value, MetricUnavailable):
        unavailable[name] = str(value)
        return None
    return value


def _worker_code(run: Run, worker_id: str, func: str) -> int:
    names = run.codes.worker_names
    loc = names.get_indexer([str(worker_id)])[0]
    if loc < 0:
        raise ValueError(
            f"The 'worker_id' parameter of {func} must be an annotator of this run. Got {worker_id!r} instead."
        )
    return int(loc)


def _task_code(run: Run, task_id: str, func: str) -> int:
    loc = run.codes.task_names.get_indexer([str(task_id)])[0]
    if loc < 0:
        raise ValueError(f"The 'task_id' parameter of {func} must be a task of this run. Got {task_id!r} instead.")
    return int(loc)


def annotator_table(
    run: Run,
    *,
    control_acc: pd.DataFrame | MetricUnavailable | None = None,
    worker_agreement: pd.DataFrame | MetricUnavailable | None = None,
    worker_speed: pd.DataFrame | MetricUnavailable | None = None,
    exam_scores: pd.DataFrame | MetricUnavailable | None = None,
    replayed: pd.DataFrame | MetricUnavailable | None = None,
    label_use: labels.LabelUse | MetricUnavailable | None = None,
) -> pd.DataFrame:
    """One row per annotator with the figures a QA reviewer judges them by.

    Index ``worker_id`` (sorted): every annotator with an answer of any kind. Columns:

    * ``answers``: all their answers (every kind, skipped and expired included);
      ``labeling_answers``: labeled answers in the labeling pool (regular and control);
    * ``control_answers``, ``control_correct``, ``control_accuracy``, ``control_ci_low``,
      ``control_ci_high``, ``control_enough``: control.control_accuracy (95 % Wilson; enough =
      at least its min_answers); NaN / False for an annotator without control answers;
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
    c = run.codes
    unavailable: dict[str, str] = {}
    per_worker = np.bincount(c.worker, minlength=c.n_workers)
    present = np.flatnonzero(per_worker)
    present = present[
        np.argsort(np.asarray(c.worker_names[present], dtype=object), kind="stable")
    ]  # sorted by id, whatever the code order
    names = pd.Index(np.asarray(c.worker_names, dtype=object)[present], name="worker_id", dtype="str")
    labeled_pool = kind_mask(run, "regular", "control") & (c.label >= 0)
    out = pd.DataFrame(
        {
            "answers": per_worker[present].astype(np.int64),
            "labeling_answers": np.bincount(c.worker[labeled_pool], minlength=c.n_workers)[present].astype(np.int64),
        },
        index=names,
    )

    def join(frame: pd.DataFrame | None, mapping: dict[str, str], fill: Mapping[str, Any]) -> None:
        for src, dst in mapping.items():
            if frame is None:
                out[dst] = fill.get(dst, np.nan)
                continue
            col = frame[src].reindex(out.index)
            if dst in fill:
                col = col.astype("object").fillna(fill[dst]).astype(type(fill[dst]))
            out[dst] = col.to_numpy()

    ctl = _figure(control_acc, lambda: control.control_accuracy(run), "control accuracy", unavailable)
    join(
        ctl,
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
    agr = _figure(
        worker_agreement, lambda: agreement.worker_agreement(run), "agreement with the aggregate", unavailable
    )
    join(
        agr,
        {
            "answers": "agreement_answers",
            "agree": "agreement_agree",
            "agreement": "agreement",
            "ci_low": "agreement_ci_low",
            "ci_high": "agreement_ci_high",
        },
        {"agreement_answers": 0, "agreement_agree": 0},
    )
    spd = _figure(worker_speed, lambda: speed.worker_speed(run), "speed", unavailable)
    join(
        spd, {"assignments": "timed_suites", "median_seconds_per_task": "median_seconds_per_task"}, {"timed_suites": 0}
    )
    ex = _figure(exam_scores, lambda: exam.exam_scores(run), "exam score", unavailable)
    join(
        ex,
        {"items": "exam_items", "correct": "exam_correct", "score": "exam_score"},
        {"exam_items": 0, "exam_correct": 0},
    )
    passed = ex["passed"].reindex(out.index) if ex is not None else pd.Series(pd.NA, index=out.index)
    out["exam_passed"] = pd.array(passed.to_numpy(), dtype="boolean")

    r = run.restrictions
    r = r[r["worker_id"].notna()].sort_values(["worker_id", "created_at"], kind="stable").drop_duplicates("worker_id")
    r = r.set_index(r["worker_id"].astype(str))
    out["recorded_rule"] = r["rule"].reindex(out.index).astype("str").to_numpy()
    out["recorded_at"] = r["created_at"].reindex(out.index).to_numpy()
    out["recorded_reason"] = r["reason"].reindex(out.index).astype("str").to_numpy()
    out["banned"] = out.index.isin(r.index)

    rep = _figure(replayed, lambda: rules.replay_rules(run), "replayed ban rules", unavailable)
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
    out["flagged"] = out["banned"] | out["replayed_rule"].notna()
    out["ban_status"] = _ban_status(out, replay_known=rep is not None)

    use = _figure(label_use, lambda: labels.annotator_label_use(run), "label use", unavailable)
    if use is not None:
        a = use.annotators
        over = a["over_used_label"].astype("str").where(a["flagged"])
        out["over_used_label"] = over.reindex(out.index).to_numpy()
    else:
        out["over_used_label"] = pd.Series(pd.NA, index=out.index, dtype="str").to_numpy()
    for col in ("recorded_rule", "recorded_reason", "replayed_rule", "replayed_evidence", "over_used_label"):
        out[col] = out[col].astype("str")
    tz = run.answers["submitted_at"].dtype
    for col in ("recorded_at", "replayed_at"):
        out[col] = pd.to_datetime(out[col], utc=True).astype(tz)
    out.attrs["unavailable"] = unavailable
    return out


def _ban_status(t: pd.DataFrame, replay_known: bool) -> np.ndarray:
    rec, rep = t["recorded_rule"], t["replayed_rule"]
    status = []
    for banned, r1, r2 in zip(t["banned"], rec, rep):
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

    ``decisions`` is Workspace.decisions (oldest first). Adds ``last_decision``, ``decided_by``,
    ``decided_at`` (as recorded, ISO text) and ``decisions`` (how many were recorded); missing /
    0 where there is none. The latest line of the file counts, as Workspace.record_decision says.
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


def _seconds_per_task(run: Run, rows: np.ndarray) -> np.ndarray:
    """Seconds per task of each row's suite (speed.suites: NaN for a suite never submitted, without
    times, or submitted before it began; NaN for a row without a suite)."""
    s = speed.suites(run)
    per_code = np.full(len(run.answers["assignment_id"].cat.categories) + 1, np.nan)  # last slot: no suite (code -1)
    per_code[s["assignment_code"].to_numpy()] = s["seconds_per_task"].to_numpy()
    return per_code[run.answers["assignment_id"].cat.codes.to_numpy()[rows]]


_CHECKS = pd.CategoricalDtype(["right", "wrong", ""])


def _answers_frame(run: Run, rows: np.ndarray) -> pd.DataFrame:
    """The answers at ``rows``. Text columns stay categoricals of the run (a gather of integer
    codes: one annotator can have millions of answers, and turning each into a string costs
    seconds); compare and filter them as strings, and convert the rows you display."""
    a = run.answers
    c = run.codes
    lab, gold = c.label[rows], c.golden[rows]
    graded = (lab >= 0) & (gold >= 0)
    correct = pd.array(np.where(graded, lab == gold, False), dtype="boolean")
    correct[~graded] = pd.NA
    check = np.where(graded, np.where(lab == gold, 0, 1), 2).astype(np.int8)
    out = pd.DataFrame(
        {
            **{
                col: a[col].array.take(rows)
                for col in ("task_id", "worker_id", "kind", "pool_id", "assignment_id", "status", "label", "golden")
            },
            "correct": correct,
            "check": pd.Categorical.from_codes(check, dtype=_CHECKS),
            "started_at": a["started_at"].array.take(rows),
            "submitted_at": a["submitted_at"].array.take(rows),
            "seconds_per_task": _seconds_per_task(run, rows),
        }
    )
    return out


@per_run_cache
def _task_rank(run: Run) -> np.ndarray:
    return name_rank(run.codes.task_names)


@per_run_cache
def _assignment_rank(run: Run) -> np.ndarray:
    return name_rank(run.answers["assignment_id"].cat.categories)


@per_run_cache
def _task_input_rows(run: Run) -> np.ndarray:
    """Row of run.tasks for each task code (-1 for a task without inputs)."""
    return run.tasks.index.get_indexer(run.codes.task_names)


def annotator_answers(run: Run, worker_id: str, aggregations: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Every answer one annotator gave, with the task's inputs and the aggregated labels.

    One row per answer, in submission order (then assignment and task id; answers without a
    submit time last). Columns: ``task_id``, ``kind``, ``pool_id``, ``assignment_id``,
    ``status``, ``label``, ``golden`` (categoricals), ``correct`` (label == golden, missing where
    either is), ``check`` ("right" / "wrong" where graded, else ""), ``started_at``,
    ``submitted_at``, ``seconds_per_task`` (their suite's seconds over its answers, as
    speed.assignment_speed); one ``input_<field>`` column per task input field (run.tasks); and
    for each ``aggregations`` entry {name: Aggregation}: ``<name>_label`` and
    ``<name>_confidence`` (missing on tasks outside the labeling pool, e.g. exam items). Raises
    ValueError for an annotator who is not in the run.
    """
    w = _worker_code(run, worker_id, "annotator_answers")
    rows = np.flatnonzero(run.codes.worker == w)
    t = run.codes.task[rows]
    out = _answers_frame(run, rows).drop(columns="worker_id")
    if len(run.tasks.columns):
        at = _task_input_rows(run)[t]
        for field in run.tasks.columns:
            out[f"input_{field}"] = run.tasks[field].array.take(at, allow_fill=True)
    for name, agg in (aggregations or {}).items():
        code = agg.codes[t]
        out[f"{name}_label"] = pd.Categorical.from_codes(
            np.where(code >= 0, code, -1), dtype=run.answers["label"].dtype
        )
        confidence = np.full(len(agg.codes), np.nan)
        confidence[agg.codes >= 0] = agg.labels[
            "confidence"
        ].to_numpy()  # labels: the tasks with codes >= 0, in code order
        out[f"{name}_confidence"] = confidence[t]
    submitted = out["submitted_at"].to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT"))
    when = np.where(np.isnat(submitted), np.iinfo(np.int64).max, submitted.view(np.int64))  # not submitted: last
    suite = run.answers["assignment_id"].cat.codes.to_numpy()[rows].astype(np.int64)
    suite_rank = np.zeros(len(suite), dtype=np.int64)  # 0: no suite (first)
    suite_rank[suite >= 0] = _assignment_rank(run)[suite[suite >= 0]] + 1
    within = suite_rank * max(1, run.codes.n_tasks) + _task_rank(run)[t]  # (suite, task) in text order, one key
    order = np.lexsort((within, when))
    return out.iloc[order].reset_index(drop=True)


def task_answers(run: Run, task_id: str) -> pd.DataFrame:
    """Every answer given to one task, with who gave it and how long their suite took.

    One row per answer, in submission order (then worker id). Columns as annotator_answers
    (without inputs and aggregates) plus ``worker_id``. Raises ValueError for an unknown task.
    """
    t = _task_code(run, task_id, "task_answers")
    rows = np.flatnonzero(run.codes.task == t)
    out = _answers_frame(run, rows).drop(columns="task_id")
    order = np.lexsort(
        (out["worker_id"].astype(str).to_numpy(), out["submitted_at"].isna().to_numpy(), out["submitted_at"].to_numpy())
    )
    return out.iloc[order].reset_index(drop=True)


def exam_item_answers(run: Run, task_id: str, scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """The exam answers to one exam item, wrong ones first, with each candidate's exam score.

    Columns as task_answers plus ``exam_score`` and ``exam_passed`` (exam.exam_scores; pass
    ``scores`` to reuse a computed one). Sorted by correct (wrong first), label, worker id.
    Raises ValueError for an unknown task.
    """
    out = task_answers(run, task_id)
    out = out[out["kind"] == "exam"]
    if scores is None:
        scores = exam.exam_scores(run)
    out = out.assign(
        exam_score=scores["score"].reindex(out["worker_id"]).to_numpy(),
        exam_passed=pd.array(scores["passed"].reindex(out["worker_id"]).to_numpy(), dtype="boolean"),
    )
    key = out["correct"].astype("float64").fillna(2.0)
    return (
        out.assign(_k=key.to_numpy(), _w=out["worker_id"].astype(str))
        .sort_values(["_k", "label", "_w"], kind="stable")
        .drop(columns="_w")
        .drop(columns="_k")
        .reset_index(drop=True)
    )


def item_verdicts(items: pd.DataFrame) -> pd.DataFrame:
    """exam_item_pass_rate's readings in short words, and which items have a low pass rate.

    Returns ``items``' index with ``verdict`` (one of VERDICTS: "trap" — a hard item whose
    positive discrimination says it works as meant; "check item" — nobody passes, no golden, or
    discrimination <= 0, i.e. ambiguous or a wrong golden label; "easy"; "too few answers";
    "works") and ``low_pass_rate`` = pass_rate <= median item pass rate − exam.HARD_GAP.
    """
    reading = items["reading"].astype(str)
    verdict = np.select(
        [
            reading.str.startswith("too few"),
            reading.str.contains("trap"),
            reading.str.startswith(("nobody", "no golden", "ambiguous")),
            reading.str.startswith("easy"),
        ],
        ["too few answers", "trap", "check item", "easy"],
        default="works",
    )
    rate_ = items["pass_rate"].to_numpy(dtype=np.float64)
    median = np.nanmedian(rate_) if np.isfinite(rate_).any() else np.nan
    return pd.DataFrame({"verdict": verdict, "low_pass_rate": rate_ <= median - HARD_GAP}, index=items.index)


@dataclass(frozen=True)
class SpeedComparison:
    """One annotator's seconds per task against everyone's in the pools they worked in.

    ``by_pool``: index ``pool_id``; columns ``kind`` (the pool's kind), ``suites`` and
    ``median_seconds_per_task`` (theirs), ``pool_suites``, ``pool_annotators`` and
    ``pool_median_seconds_per_task`` (every annotator's suites in the pool, theirs included),
    ``ratio`` = theirs / the pool's.
    ``histogram``: ``bin_left``, ``bin_right`` (seconds per task; the last bin also holds
    everything above it), ``count`` / ``share`` (theirs) and ``pool_count`` / ``pool_share``.
    ``median_seconds_per_task`` (over all their timed suites, = speed.worker_speed) and
    ``pool_median_seconds_per_task`` (over all timed suites of those pools); ``suites`` and
    ``pool_suites`` count them.
    """

    worker_id: str
    by_pool: pd.DataFrame
    histogram: pd.DataFrame
    median_seconds_per_task: float
    pool_median_seconds_per_task: float
    suites: int
    pool_suites: int


def speed_vs_pool(run: Run, worker_id: str, suites: pd.DataFrame | None = None) -> SpeedComparison:
    """How fast one annotator works against the pools they worked in (see SpeedComparison).

    A suite counts when it has a duration (speed.assignment_speed; pass ``suites`` to reuse a
    computed one). Raises MetricUnavailable where the run has no times or the annotator no timed
    suite, ValueError for an unknown annotator.
    """
    _worker_code(run, worker_id, "speed_vs_pool")
    s = speed.assignment_speed(run) if suites is None else suites
    s = s[s["seconds_per_task"].notna()]
    mine = (s["worker_id"] == str(worker_id)).to_numpy()
    if not mine.any():
        raise MetricUnavailable(f"annotator {worker_id} has no submitted task suite with a duration")
    pools = pd.unique(s.loc[mine, "pool_id"])
    s = s[s["pool_id"].isin(pools)]
    mine = (s["worker_id"] == str(worker_id)).to_numpy()
    kinds = {p.pool_id: p.kind for p in run.meta.pools}
    g_all = s.groupby("pool_id", sort=True)
    g_me = s[mine].groupby("pool_id", sort=True)
    by_pool = pd.DataFrame(
        {
            "kind": [kinds.get(str(p), "") for p in g_all.size().index],
            "suites": g_me.size().reindex(g_all.size().index).fillna(0).astype(np.int64).to_numpy(),
            "median_seconds_per_task": g_me["seconds_per_task"].median().reindex(g_all.size().index).to_numpy(),
            "pool_suites": g_all.size().astype(np.int64).to_numpy(),
            "pool_annotators": g_all["worker_id"].nunique().astype(np.int64).to_numpy(),
            "pool_median_seconds_per_task": g_all["seconds_per_task"].median().to_numpy(),
        },
        index=pd.Index(g_all.size().index.astype(str), name="pool_id"),
    )
    by_pool["ratio"] = by_pool["median_seconds_per_task"] / by_pool["pool_median_seconds_per_task"]

    x_all = s["seconds_per_task"].to_numpy(dtype=np.float64)
    x_me = x_all[mine]
    top = float(np.quantile(x_all, SPEED_TOP_QUANTILE))
    if top <= 0:
        top = float(np.max(x_all)) or 1.0
    edges = np.linspace(0.0, top, SPEED_BINS + 1)
    pool_n, _ = np.histogram(np.clip(x_all, 0, top), bins=edges)
    me_n, _ = np.histogram(np.clip(x_me, 0, top), bins=edges)
    histogram = pd.DataFrame(
        {
            "bin_left": edges[:-1],
            "bin_right": edges[1:],
            "count": me_n.astype(np.int64),
            "share": me_n / me_n.sum(),
            "pool_count": pool_n.astype(np.int64),
            "pool_share": pool_n / pool_n.sum(),
        }
    )
    return SpeedComparison(
        str(worker_id),
        by_pool,
        histogram,
        float(np.median(x_me)),
        float(np.median(x_all)),
        int(mine.sum()),
        int(len(x_all)),
    )


__all__ = [
    "VERDICTS",
    "annotator_table",
    "attach_decisions",
    "filter_annotators",
    "annotator_answers",
    "task_answers",
    "exam_item_answers",
    "item_verdicts",
    "SpeedComparison",
    "speed_vs_pool",
]
