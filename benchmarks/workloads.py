"""The work the bench times: crowdlens's full report, and the same figures through crowd-kit and pandas.

Fast side: ``analytics.report.build_report(run, method="ds", n_iter=20, timings=True)``
(:func:`report`).

Baseline side (:data:`BASELINE_STEPS`): what one would write without crowdlens. crowd-kit's
MajorityVote, DawidSkene(n_iter=20) and ``crowdkit.metrics.data.alpha_krippendorff`` on a
``task, worker, label`` frame of integer codes (crowd-kit's fastest input: categoricals make it
fail, strings are 2-3x slower), and lean pandas groupbys for the report's other figures (no
suspect-golden rule, no JSON building: if anything this flatters the baseline). Wawa and
OneCoinDawidSkene(n_iter=20) are timed beside them but are not in the report, so not in the
like-for-like total (:data:`SAME_WORK_AS_REPORT`). GLAD and MACE are in neither side.

Both sides work on the same answers: the labeled answers of the labeling pool (kinds regular and
control), as analytics.metrics.aggregation does.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import pandas as pd

from analytics.model import KINDS, Run

N_ITER = 20
FAST_SECONDS = 15.0  # Toloka's fast-response default: a suite submitted in under 15 s
FAST_HISTORY = 5  # … judged over the annotator's last 5 suites
MIN_SHARED = 10  # pairwise agreement: pairs of annotators sharing at least 10 tasks
MAX_TASK_PAIRS = 10**8  # control tasks are shared by many annotators: room for 10^7 answers


# --------------------------------------------------------------------------------------------
# the fast side


REPORT = f"analytics.report.build_report(run, method='ds', n_iter={N_ITER}, timings=True)"


def report(run: Run) -> dict[str, Any]:
    """The fast side (:data:`REPORT`); timings=True adds each section's seconds to the report."""
    from analytics.report import build_report

    return build_report(run, method="ds", n_iter=N_ITER, timings=True)


def pool_codes(run: Run) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """task, worker, label codes of the labeled regular and control answers."""
    c = run.codes
    pool = (c.kind == KINDS.index("regular")) | (c.kind == KINDS.index("control"))
    rows = np.flatnonzero(pool & (c.label >= 0))
    return c.task[rows], c.worker[rows], c.label[rows]


# --------------------------------------------------------------------------------------------
# the baseline: crowd-kit calls


def crowdkit_frame(run: Run) -> pd.DataFrame:
    """The labeling pool's answers as crowd-kit's ``task, worker, label`` frame of int64 codes."""
    t, w, lab = pool_codes(run)
    return pd.DataFrame({"task": t.astype(np.int64), "worker": w.astype(np.int64), "label": lab.astype(np.int64)})


def _crowdkit_aggregator(name: str) -> Callable[[Run], Any]:
    def call(run: Run):
        from crowdkit import aggregation

        kwargs = {"n_iter": N_ITER} if "DawidSkene" in name else {}
        return getattr(aggregation, name)(**kwargs).fit_predict(crowdkit_frame(run))

    return call


def crowdkit_alpha(run: Run) -> float:
    from crowdkit.metrics.data import alpha_krippendorff

    return alpha_krippendorff(crowdkit_frame(run))


# --------------------------------------------------------------------------------------------
# the baseline: pandas groupbys for the rest of the report


def _pool_answers(run: Run) -> pd.DataFrame:
    a = run.answers
    return a[a["kind"].isin(["regular", "control"]) & a["label"].notna()]


def _wilson(k: pd.Series, n: pd.Series, z: float = 1.959964) -> tuple[pd.Series, pd.Series]:
    p = k / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (center - half).clip(0, 1), (center + half).clip(0, 1)


def pd_control(a: pd.DataFrame) -> Any:
    """Control accuracy per annotator and per control task, with Wilson intervals."""
    ctrl = a[(a["kind"] == "control") & a["golden"].notna()].assign(
        correct=lambda d: d["label"].astype(str) == d["golden"].astype(str)
    )
    out = []
    for key in ("worker_id", "task_id"):
        g = ctrl.groupby(key, observed=True)["correct"].agg(["size", "sum"])
        g["low"], g["high"] = _wilson(g["sum"], g["size"])
        out.append(g)
    return out


def pd_task_counts(a: pd.DataFrame) -> pd.DataFrame:
    return a.groupby(["task_id", "label"], observed=True).size().unstack(fill_value=0)


def pd_item_agreement(a: pd.DataFrame) -> Any:
    """Per-task majority share, entropy and pairwise agreement; Fleiss' kappa."""
    counts = pd_task_counts(a)
    m = counts.sum(axis=1)
    share = counts.max(axis=1) / m
    p = counts.div(m, axis=0)
    entropy = -(p * np.log2(p.where(p > 0, 1))).sum(axis=1)
    keep = m >= 2
    p_i = (counts * (counts - 1)).sum(axis=1)[keep] / (m * (m - 1))[keep]
    p_e = (p[keep].mean() ** 2).sum()
    return share, entropy, (p_i.mean() - p_e) / (1 - p_e)


def pd_pairwise(a: pd.DataFrame) -> pd.DataFrame:
    """Agreement and Cohen's kappa of every pair of annotators sharing >= MIN_SHARED tasks."""
    tw = a[["task_id", "worker_id", "label"]].drop_duplicates(["task_id", "worker_id"])
    tw = tw.assign(w=tw["worker_id"].cat.codes, lab=tw["label"].cat.codes)[["task_id", "w", "lab"]]
    pairs = tw.merge(tw, on="task_id")
    pairs = pairs[pairs["w_x"] < pairs["w_y"]]
    g = pairs.assign(agree=pairs["lab_x"] == pairs["lab_y"]).groupby(["w_x", "w_y"])
    out = g["agree"].agg(["size", "mean"])
    out = out[out["size"] >= MIN_SHARED]
    pairs = pairs.join(out[[]], on=["w_x", "w_y"], how="inner")
    na = pairs.groupby(["w_x", "w_y", "lab_x"]).size().rename_axis(["w_x", "w_y", "lab"])
    nb = pairs.groupby(["w_x", "w_y", "lab_y"]).size().rename_axis(["w_x", "w_y", "lab"])
    chance = (na * nb).dropna().groupby(level=["w_x", "w_y"]).sum() / out["size"] ** 2
    out["kappa"] = 1 - (1 - out["mean"]) / (1 - chance.reindex(out.index, fill_value=0))
    return out


def pd_aggregate_figures(a: pd.DataFrame) -> Any:
    """The figures built on the aggregate (here the majority label, lowest label on ties): each
    annotator's agreement with it, its accuracy on control tasks, raw and aggregated label counts."""
    majority = pd_task_counts(a).idxmax(axis=1).rename("majority")
    joined = a[["task_id", "worker_id", "label", "golden"]].join(majority, on="task_id")
    agrees = joined["label"].astype(str) == joined["majority"].astype(str)
    per_worker = agrees.groupby(joined["worker_id"], observed=True).mean()
    gold = joined.dropna(subset=["golden"]).drop_duplicates("task_id")
    accuracy = (gold["golden"].astype(str) == gold["majority"].astype(str)).mean()
    return per_worker, accuracy, a["label"].value_counts(), majority.value_counts()


def pd_suites(run: Run) -> pd.DataFrame:
    a = run.answers
    s = a.groupby("assignment_id", observed=True).agg(
        worker_id=("worker_id", "first"),
        pool_id=("pool_id", "first"),
        status=("status", "first"),
        reward=("reward", "first"),
        started_at=("started_at", "first"),
        submitted_at=("submitted_at", "first"),
        tasks=("task_id", "size"),
    )
    s["seconds"] = (s["submitted_at"] - s["started_at"]).dt.total_seconds()
    return s


def pd_speed(suites: pd.DataFrame) -> Any:
    """Seconds per task per suite and per annotator; Toloka's fast-response rule replayed."""
    s = suites.copy()
    s["per_task"] = s["seconds"] / s["tasks"]
    per_worker = s.groupby("worker_id", observed=True)["per_task"].agg(["size", "median", "mean"])
    ordered = s.sort_values(["worker_id", "submitted_at"])
    fast = (ordered["seconds"] < FAST_SECONDS).astype(int)
    window = fast.groupby(ordered["worker_id"], observed=True).rolling(FAST_HISTORY, min_periods=1).sum()
    flagged = window[window >= 1].groupby(level=0, observed=True).head(1)
    return per_worker, flagged


def pd_cost(suites: pd.DataFrame, answers: pd.DataFrame, n_answers: int) -> Any:
    """Spend on paid suites, per pool, per answer, per accepted suite and per final label."""
    s = suites
    paid = s[s["status"].isin(["ACCEPTED", "SUBMITTED"])]
    total = paid["reward"].sum()
    by_pool = paid.groupby("pool_id", observed=True)["reward"].agg(["size", "sum"])
    final_labels = answers.loc[answers["kind"] == "regular", "task_id"].nunique()
    return total, by_pool, total / max(n_answers, 1), total / max(len(paid), 1), total / max(final_labels, 1)


def pandas_rest(run: Run) -> dict[str, float]:
    """Every figure of the report that crowd-kit has no call for, with pandas; seconds per part."""
    seconds: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = fn()
        seconds[name] = time.perf_counter() - start
        return out

    answers = timed("labeling-pool rows", lambda: _pool_answers(run))
    timed("control", lambda: pd_control(answers))
    timed("item agreement + Fleiss", lambda: pd_item_agreement(answers))
    timed("pairwise Cohen's kappa", lambda: pd_pairwise(answers))
    timed("figures on the aggregate", lambda: pd_aggregate_figures(answers))
    suites = timed("suites", lambda: pd_suites(run))  # one groupby serves speed and cost
    timed("speed + fast responders", lambda: pd_speed(suites))
    timed("cost", lambda: pd_cost(suites, answers, len(run.answers)))
    return seconds


# Each step runs in its own process (its own peak memory and time limit), in this order. The
# report computes majority vote and Dawid-Skene, not Wawa or one-coin DS: those two are timed
# beside it, as crowd-kit's other fast aggregators, but left out of the like-for-like total.
BASELINE_STEPS: dict[str, Callable[[Run], Any]] = {
    "MajorityVote": _crowdkit_aggregator("MajorityVote"),
    "pandas (rest)": pandas_rest,
    "DawidSkene(20)": _crowdkit_aggregator("DawidSkene"),
    "alpha_krippendorff": crowdkit_alpha,
    "Wawa": _crowdkit_aggregator("Wawa"),
    "OneCoinDawidSkene(20)": _crowdkit_aggregator("OneCoinDawidSkene"),
}
SAME_WORK_AS_REPORT = ("MajorityVote", "pandas (rest)", "DawidSkene(20)", "alpha_krippendorff")


# --------------------------------------------------------------------------------------------
# the baseline as a user runs it: one script from the TSV to the figures (pandas + crowd-kit)

TSV_COLUMNS = {
    "OUTPUT:result": "label",
    "GOLDEN:result": "golden",
    "ASSIGNMENT:link": "pool_id",
    "ASSIGNMENT:task_id": "task_id",
    "ASSIGNMENT:assignment_id": "assignment_id",
    "ASSIGNMENT:worker_id": "worker_id",
    "ASSIGNMENT:status": "status",
    "ASSIGNMENT:started": "started_at",
    "ASSIGNMENT:submitted": "submitted_at",
    "ASSIGNMENT:reward": "reward",
}


def pandas_answers(tsv: str) -> pd.DataFrame:
    """The TSV read with pandas' C engine (the needed columns as text), as the frame the pandas
    groupbys take: ids, labels and statuses as categoricals, times parsed, rewards as floats."""
    raw = pd.read_csv(tsv, sep="\t", usecols=list(TSV_COLUMNS), dtype=str, keep_default_na=False, engine="c")
    a = raw.rename(columns=TSV_COLUMNS)
    del raw
    golden = a["golden"].replace("", np.nan)
    a["kind"] = pd.Categorical(np.where(golden.notna(), "control", "regular"))
    a["golden"] = golden.astype("category")
    a["status"] = a["status"].replace({"APPROVED": "ACCEPTED"}).astype("category")
    for col in ("label", "task_id", "assignment_id", "worker_id", "pool_id"):
        a[col] = a[col].astype("category")
    for col in ("started_at", "submitted_at"):
        a[col] = pd.to_datetime(a[col], utc=True)
    a["reward"] = a["reward"].astype(float)
    return a


def crowdkit_frame_of(a: pd.DataFrame) -> pd.DataFrame:
    """crowd-kit's ``task, worker, label`` frame of int64 codes from :func:`pandas_answers`."""
    pool = a[a["kind"].isin(["regular", "control"]) & a["label"].notna()]
    return pd.DataFrame({c: pool[f].cat.codes.astype(np.int64) for c, f in FRAME_FIELDS.items()})


FRAME_FIELDS = {"task": "task_id", "worker": "worker_id", "label": "label"}


def pandas_memory(tsv: str) -> dict[str, Any]:
    """Bytes per answer of the frames the crowd-kit path holds (pandas' deep memory_usage)."""
    a = pandas_answers(tsv)
    frame = crowdkit_frame_of(a)
    n = max(len(a), 1)
    answers_bytes = int(a.memory_usage(deep=True).sum())
    frame_bytes = int(frame.memory_usage(deep=True).sum())
    return {
        "answers": len(a),
        "answers_frame_bytes_per_answer": answers_bytes / n,
        "crowdkit_frame_bytes_per_answer": frame_bytes / n,
    }


def crowdkit_from_tsv(tsv: str, memory: bool = False) -> dict[str, Any]:
    """What a user without crowdlens runs: read the TSV with pandas, then crowd-kit's
    MajorityVote, DawidSkene(20) and alpha, and the pandas groupbys; seconds per part."""
    from crowdkit import aggregation
    from crowdkit.metrics.data import alpha_krippendorff

    seconds: dict[str, float] = {}
    start = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal start
        now = time.perf_counter()
        seconds[name] = now - start
        start = now

    a = pandas_answers(tsv)
    frame = crowdkit_frame_of(a)
    lap("read the TSV (pandas)")
    aggregation.MajorityVote().fit_predict(frame)
    lap("MajorityVote")
    rest = pandas_rest(SimpleNamespace(answers=a))
    lap("pandas (rest)")
    aggregation.DawidSkene(n_iter=N_ITER).fit_predict(frame)
    lap("DawidSkene(20)")
    alpha_krippendorff(frame)
    lap("alpha_krippendorff")
    return {"parts": seconds, "pandas_parts": rest, "answers": len(a)}


def warm_up() -> None:
    """Import crowd-kit before the clock starts (a one-time cost of a process, not of the data)."""
    import crowdkit.aggregation  # noqa: F401
    import crowdkit.metrics.data  # noqa: F401
