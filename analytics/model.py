"""The canonical run — answers, tasks, restrictions, pricing, meta — and its one validation.

Every reader in ``analytics.sources`` hands its frames to :func:`build_run`, which checks them
once, collects every problem (file, rows, column, what is wrong, how to fix it) and either raises
one :class:`ValidationError` or returns a :class:`Run` with compact dtypes. Nothing downstream
re-checks: metrics may rely on the invariants documented on :class:`Run`.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

KINDS = ("regular", "control", "training", "exam")
STATUSES = ("SUBMITTED", "ACCEPTED", "REJECTED", "SKIPPED", "EXPIRED")
# Toloka's results download says APPROVED where its API says ACCEPTED; ACTIVE is an
# assignment still being worked on (no answer yet).
STATUS_ALIASES = {"APPROVED": "ACCEPTED", "ACTIVE": "SUBMITTED"}
# statuses for which an answer may legitimately carry no label
STATUSES_WITHOUT_ANSWER = ("SKIPPED", "EXPIRED")

ANSWER_COLUMNS = (
    "assignment_id",
    "task_id",
    "worker_id",
    "label",
    "kind",
    "golden",
    "started_at",
    "submitted_at",
    "status",
    "pool_id",
    "reward",
)
REQUIRED_ANSWER_COLUMNS = ("task_id", "worker_id", "label")
RESTRICTION_COLUMNS = (
    "worker_id",
    "scope",
    "pool_id",
    "reason",
    "rule",
    "created_at",
    "expires_at",
)
RESTRICTION_SCOPES = ("POOL", "PROJECT", "ALL_PROJECTS", "SYSTEM")
# How many affected rows a problem keeps; the count beside it is always exact.
MAX_ROWS_PER_PROBLEM = 1000


# --------------------------------------------------------------------------------------------
# problems


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth knowing) about an input, with where and how to fix it.

    ``rows`` are line numbers in ``file`` (the header is line 1), at most
    :data:`MAX_ROWS_PER_PROBLEM` of them; ``count`` is the exact number of affected rows.
    """

    file: str
    message: str
    fix: str
    column: str | None = None
    rows: tuple[int, ...] = ()
    count: int = 0
    values: tuple[str, ...] = ()
    severity: str = "error"  # "error" stops the import; "warning" is kept as a note on the run

    def where(self) -> str:
        parts = [self.file]
        if self.rows:
            shown = ", ".join(f"{r:,}" for r in self.rows[:8])
            more = self.count - min(len(self.rows), 8)
            label = "line" if self.count == 1 else "lines"
            parts.append(f"{label} {shown}" + (f" and {more:,} more" if more > 0 else ""))
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts)

    def __str__(self) -> str:
        found = ""
        if self.values:
            shown = ", ".join(repr(v) for v in self.values[:5])
            found = f" Found {shown}{' …' if len(self.values) > 5 else ''}."
        return f"{self.where()}: {self.message}{found} Fix: {self.fix}"

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["rows"] = list(self.rows)
        d["values"] = list(self.values)
        return d


class ValidationError(ValueError):
    """Raised with every problem found in an input at once (``.problems``)."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = [p for p in problems if p.severity == "error"] or list(problems)
        super().__init__(self._text())

    def _text(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found; nothing was imported."
        return "\n".join([head] + [f"- {p}" for p in self.problems])

    def table(self) -> pd.DataFrame:
        """One row per problem, for showing in a page or a CSV."""
        return pd.DataFrame(
            [
                {
                    "file": p.file,
                    "column": p.column or "",
                    "lines": ", ".join(str(r) for r in p.rows[:50]) + (" …" if p.count > 50 else ""),
                    "rows affected": p.count,
                    "problem": p.message,
                    "fix": p.fix,
                }
                for p in self.problems
            ]
        )


class ProblemList:
    """Collects problems while a reader or :func:`build_run` walks an input."""

    def __init__(self, file: str):
        self.file = file
        self.items: list[Problem] = []

    def add(
        self,
        message: str,
        fix: str,
        *,
        column: str | None = None,
        lines: Iterable[int] | np.ndarray | None = None,
        values: Iterable[Any] = (),
        severity: str = "error",
        count: int | None = None,
    ) -> None:
        rows = np.asarray([] if lines is None else lines, dtype=np.int64)
        n = int(count if count is not None else len(rows))
        vals = tuple(dict.fromkeys(str(v) for v in list(values)[:20]))
        self.items.append(
            Problem(
                file=self.file,
                message=message,
                fix=fix,
                column=column,
                rows=tuple(int(r) for r in rows[:MAX_ROWS_PER_PROBLEM]),
                count=n,
                values=vals,
                severity=severity,
            )
        )

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "warning"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


# --------------------------------------------------------------------------------------------
# pricing and meta


@dataclass(frozen=True)
class Pricing:
    """What a run costs to the requester.

    ``reward_per_assignment`` is the default reward of one task suite where an answer row has no
    ``reward``; ``fee_rate`` is the platform fee as a fraction of rewards and bonuses (Toloka
    charged 30 % with a per-assignment minimum ``fee_minimum``); ``bonuses`` has columns
    worker_id, amount, reason, created_at.
    """

    currency: str = "USD"
    reward_per_assignment: float | None = None
    fee_rate: float = 0.0
    fee_minimum: float = 0.0
    bonuses: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {
                "worker_id": pd.Series(dtype="str"),
                "amount": pd.Series(dtype="float64"),
                "reason": pd.Series(dtype="str"),
                "created_at": pd.Series(dtype="datetime64[ns, UTC]"),
            }
        )
    )

    def to_dict(self) -> dict[str, Any]:
        b = self.bonuses
        return {
            "currency": self.currency,
            "reward_per_assignment": self.reward_per_assignment,
            "fee_rate": self.fee_rate,
            "fee_minimum": self.fee_minimum,
            "bonuses": [
                {
                    "worker_id": str(r.worker_id),
                    "amount": float(r.amount),
                    "reason": None if pd.isna(r.reason) else str(r.reason),
                    "created_at": None if pd.isna(r.created_at) else pd.Timestamp(r.created_at).isoformat(),
                }
                for r in b.itertuples(index=False)
            ],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "Pricing":
        d = dict(d or {})
        bonuses = d.pop("bonuses", None) or []
        frame = pd.DataFrame(bonuses, columns=["worker_id", "amount", "reason", "created_at"])
        frame = frame.astype({"worker_id": "str", "amount": "float64", "reason": "str"})
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, errors="coerce")
        known = {f.name for f in dataclasses.fields(cls)} - {"bonuses"}
        return cls(bonuses=frame, **{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class PoolInfo:
    """One pool of a run: its kind, reward, overlap and quality-control rules.

    ``rules`` are dicts in Toloka's terms, e.g. ``{"type": "fast_responses", "history_size": 5,
    "count": 1, "fast_submit_threshold_seconds": 15, "ban_days": 1}`` or ``{"type":
    "golden_set", "history_size": 10, "min_answers": 4, "min_correct_percent": 50, ...}``
    (Toloka's conditions ``golden_set_answers_count >= 4`` and ``golden_set_correct_answers_rate
    < 50``; ``golden_set_incorrect_answers_rate > x`` becomes ``"max_incorrect_percent": x``).
    A ``history_size`` of None is Toloka's unset history: the whole history in the pool.
    analytics.metrics.rules lists the keys it replays; a rule with other keys is reported as
    not replayed, never guessed.
    ``pass_threshold`` (exam pools) is the share of exam items a candidate must get right.
    """

    pool_id: str
    name: str = ""
    kind: str = "main"  # main | exam | training | reannotation
    reward_per_assignment: float | None = None
    overlap: int | None = None
    tasks_per_suite: int | None = None
    pass_threshold: float | None = None
    rules: tuple[dict, ...] = ()
    opened_at: str | None = None
    closed_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["rules"] = [dict(r) for r in self.rules]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PoolInfo":
        known = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        kw["rules"] = tuple(dict(r) for r in kw.get("rules", ()) or ())
        kw["pool_id"] = str(kw["pool_id"])
        return cls(**kw)


@dataclass(frozen=True)
class RunMeta:
    """What a run is: project, pools, label set (in tie order), instructions, language.

    ``labels`` is the ordered label set; its order is the order used to break ties and to lay
    out charts. ``simulated`` marks generated data, which every view must say it is.
    """

    project: str = ""
    labels: tuple[str, ...] = ()
    pools: tuple[PoolInfo, ...] = ()
    overlap: int | None = None
    instructions: str | None = None
    language: str | None = None
    label_field: str | None = None
    source_files: tuple[str, ...] = ()
    simulated: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def pool(self, pool_id: str) -> PoolInfo | None:
        return next((p for p in self.pools if p.pool_id == str(pool_id)), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "labels": list(self.labels),
            "pools": [p.to_dict() for p in self.pools],
            "overlap": self.overlap,
            "instructions": self.instructions,
            "language": self.language,
            "label_field": self.label_field,
            "source_files": list(self.source_files),
            "simulated": self.simulated,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "RunMeta":
        d = dict(d or {})
        return cls(
            project=d.get("project", "") or "",
            labels=tuple(str(x) for x in d.get("labels", ()) or ()),
            pools=tuple(PoolInfo.from_dict(p) for p in d.get("pools", ()) or ()),
            overlap=d.get("overlap"),
            instructions=d.get("instructions"),
            language=d.get("language"),
            label_field=d.get("label_field"),
            source_files=tuple(d.get("source_files", ()) or ()),
            simulated=bool(d.get("simulated", False)),
            extra=dict(d.get("extra", {}) or {}),
        )


# --------------------------------------------------------------------------------------------
# the run


@dataclass(frozen=True)
class Codes:
    """Integer codes of a run's answers, built once and shared by every fast metric.

    ``task``, ``worker`` and ``label`` index ``task_names``, ``worker_names`` and ``labels``;
    ``label`` is -1 where an answer has no label (skipped/expired); ``golden`` is -1 where the
    answer's task has no known answer.
    """

    task: np.ndarray
    worker: np.ndarray
    label: np.ndarray
    golden: np.ndarray
    kind: np.ndarray
    task_names: pd.Index
    worker_names: pd.Index
    labels: pd.Index

    @property
    def n_tasks(self) -> int:
        return len(self.task_names)

    @property
    def n_workers(self) -> int:
        return len(self.worker_names)

    @property
    def n_labels(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, eq=False)
class Run:
    """A validated labeling run.

    Invariants (checked once by :func:`build_run`; metrics rely on them):

    * ``answers`` has exactly :data:`ANSWER_COLUMNS`, one row per answer, a RangeIndex;
      ``task_id``, ``worker_id``, ``assignment_id``, ``pool_id`` are categoricals of strings;
      ``label`` and ``golden`` are categoricals whose categories are ``meta.labels`` in order;
      ``kind`` and ``status`` are categoricals of :data:`KINDS` / :data:`STATUSES`;
      times are UTC; ``reward`` is float (NaN where unknown).
    * every answer has a task and a worker; a label is missing only on SKIPPED/EXPIRED rows;
      every golden label is in the label set; (assignment_id, task_id) is unique where the
      assignment is known; ``submitted_at`` is null on every row or on none of the columns'
      known rows — a missing column is all-null, never guessed.
    * ``tasks`` is indexed by task_id (one row per task in the answers) with one string column
      per input field; ``restrictions`` has :data:`RESTRICTION_COLUMNS`; ``truth`` (optional) is
      a Series of labels indexed by task_id.
    """

    answers: pd.DataFrame
    tasks: pd.DataFrame
    restrictions: pd.DataFrame
    pricing: Pricing
    meta: RunMeta
    truth: pd.Series | None = None
    notes: tuple[Problem, ...] = ()

    @functools.cached_property
    def codes(self) -> Codes:
        a = self.answers
        return Codes(
            task=a["task_id"].cat.codes.to_numpy(np.int32),
            worker=a["worker_id"].cat.codes.to_numpy(np.int32),
            label=a["label"].cat.codes.to_numpy(np.int32),
            golden=a["golden"].cat.codes.to_numpy(np.int32),
            kind=a["kind"].cat.codes.to_numpy(np.int8),
            task_names=a["task_id"].cat.categories,
            worker_names=a["worker_id"].cat.categories,
            labels=a["label"].cat.categories,
        )

    @property
    def labels(self) -> tuple[str, ...]:
        return self.meta.labels

    @property
    def has_times(self) -> bool:
        return bool(self.answers["submitted_at"].notna().any() and self.answers["started_at"].notna().any())

    def summary(self) -> dict[str, Any]:
        a = self.answers
        return {
            "answers": int(len(a)),
            "tasks": int(a["task_id"].nunique()),
            "workers": int(a["worker_id"].nunique()),
            "assignments": int(a["assignment_id"].nunique()) if a["assignment_id"].notna().any() else None,
            "labels": list(self.meta.labels),
            "kinds": {k: int(v) for k, v in a["kind"].value_counts().items() if v},
            "pools": int(a["pool_id"].nunique()),
            "simulated": self.meta.simulated,
        }

    def with_meta(self, **changes: Any) -> "Run":
        return dataclasses.replace(self, meta=dataclasses.replace(self.meta, **changes))


# --------------------------------------------------------------------------------------------
# building (the only way to make a Run from outside data)


def empty_restrictions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "worker_id": pd.Series(dtype="str"),
            "scope": pd.Series(dtype="str"),
            "pool_id": pd.Series(dtype="str"),
            "reason": pd.Series(dtype="str"),
            "rule": pd.Series(dtype="str"),
            "created_at": pd.Series(dtype="datetime64[ns, UTC]"),
            "expires_at": pd.Series(dtype="datetime64[ns, UTC]"),
        }
    )


def to_category(s: pd.Series) -> pd.Series:
    """A text column as a categorical of stripped strings, with empty cells as missing.

    Work happens on the categories, not on the rows: a 10^7-row column with 10^3 distinct values
    is cleaned in microseconds.
    """
    if not isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype("str").where(s.notna()).astype("category")
    cats = s.cat.categories
    if len(cats) == 0:
        return s.cat.set_categories(pd.Index([], dtype="str"))
    text = cats if cats.dtype == "str" else cats.astype("str")
    stripped = text.str.strip()
    if (stripped == text).all() and not (stripped == "").any():
        # already clean (the common case): no re-coding of the rows
        return s if text is cats else s.cat.rename_categories(text)

    return map_categories(s, lambda c: stripped.where(stripped != ""))


def drop_unused(s: pd.Series) -> pd.Series:
    """remove_unused_categories without sorting 10^7 codes (a bincount says what is used)."""
    codes = s.cat.codes.to_numpy()
    used = np.bincount(codes[codes >= 0], minlength=len(s.cat.categories)) > 0
    if used.all():
        return s
    remap = np.full(len(used) + 1, -1, dtype=np.int32)
    remap[:-1][used] = np.arange(int(used.sum()), dtype=np.int32)
    return pd.Series(
        pd.Categorical.from_codes(remap[codes], categories=s.cat.categories[used], validate=False), index=s.index
    )


def map_categories(s: pd.Series, fn) -> pd.Series:
    """Apply ``fn`` (Index of categories -> array of the same length, NaN allowed) to a categorical.

    Categories that map to the same value are merged; NaN results become missing values.
    """
    cats = s.cat.categories
    mapped = pd.Index(fn(cats))
    new_codes_of_cat, uniques = pd.factorize(mapped, use_na_sentinel=True)
    table = np.append(new_codes_of_cat, -1).astype(np.int32)
    codes = table[s.cat.codes.to_numpy()]
    uniques = pd.Index(uniques).astype("str") if len(uniques) else pd.Index([], dtype="str")
    return pd.Series(pd.Categorical.from_codes(codes, categories=uniques, validate=False), index=s.index)


def category_values(s: pd.Series, fn, fill) -> np.ndarray:
    """Compute ``fn`` on a categorical's categories and spread the result to its rows."""
    values = np.asarray(fn(s.cat.categories))
    values = np.append(values, np.array([fill], dtype=values.dtype))
    return values[s.cat.codes.to_numpy()]


def _lines(raw: pd.DataFrame, mask: np.ndarray | pd.Series) -> np.ndarray:
    """File line numbers (header = 1) of the rows where ``mask`` holds."""
    mask = np.asarray(mask, dtype=bool)
    if "_line" in raw.columns:
        return raw["_line"].to_numpy()[mask]
    return np.flatnonzero(mask) + 2


_ZONES = {"PDT": "-0700", "PST": "-0800", "EDT": "-0400", "EST": "-0500", "UTC": "+0000", "GMT": "+0000"}


def _parse_time_text(text: pd.Index) -> pd.DatetimeIndex:
    """ISO 8601 first (Toloka's form), then a lenient pass for forms like 'Mon Mar 25 07:39:42 PDT 2019'."""
    ser = pd.Series(text, dtype="str")
    out = pd.to_datetime(ser, utc=True, errors="coerce", format="ISO8601")
    bad = out.isna() & ser.notna()
    if bad.any():
        alt = ser[bad].str.replace(r"\b(PDT|PST|EDT|EST|UTC|GMT)\b", lambda m: _ZONES[m.group(0)], regex=True)
        out = out.copy()
        out[bad] = pd.to_datetime(alt, utc=True, errors="coerce", format="mixed")
    return pd.DatetimeIndex(out).tz_convert("UTC")


def parse_times(
    values: pd.Series,
    problems: ProblemList,
    raw: pd.DataFrame,
    column: str,
) -> pd.Series:
    """Timestamps to UTC; naive values are taken as UTC (Toloka exports UTC without an offset).

    Text is parsed once per distinct value (an assignment's time repeats on each of its rows).
    """
    if values.dtype.kind == "M" or isinstance(values.dtype, pd.DatetimeTZDtype):
        out = values
        out = out.dt.tz_localize("UTC") if out.dt.tz is None else out.dt.tz_convert("UTC")
        return out.astype("datetime64[ns, UTC]")
    cat = to_category(values)
    parsed = _parse_time_text(cat.cat.categories).astype("datetime64[ns, UTC]")
    bad_cat = np.asarray(parsed.isna())
    if bad_cat.any():
        bad_rows = category_values(cat, lambda c: bad_cat, False)
        problems.add(
            "timestamp does not parse.",
            "write times as ISO 8601, e.g. 2024-03-01T12:30:05 (UTC) or with an offset "
            "(2024-03-01T14:30:05+02:00), or leave the cell empty.",
            column=column,
            lines=_lines(raw, bad_rows),
            values=list(cat.cat.categories[bad_cat][:5]),
        )
    codes = cat.cat.codes.to_numpy()
    stamps = parsed.asi8 if hasattr(parsed, "asi8") else parsed.view("i8")
    ints = np.append(np.asarray(stamps, dtype=np.int64), np.iinfo(np.int64).min)[codes]
    return pd.Series(pd.DatetimeIndex(ints.view("datetime64[ns]")).tz_localize("UTC"), index=values.index)


def build_run(
    answers: pd.DataFrame,
    *,
    file: str,
    columns: Mapping[str, str] | None = None,
    tasks: pd.DataFrame | None = None,
    restrictions: pd.DataFrame | None = None,
    pricing: Pricing | None = None,
    meta: RunMeta | None = None,
    truth: pd.Series | None = None,
    labels: Sequence[str] | None = None,
    problems: ProblemList | None = None,
) -> Run:
    """Validate canonical-named frames and return a :class:`Run`, or raise one ValidationError.

    ``answers`` uses the canonical column names (missing optional columns are filled with nulls);
    text columns may be plain strings or categoricals (readers of large files pass categoricals,
    so checks run on distinct values, not rows). An optional ``_line`` column holds each row's
    line in ``file`` for messages (else row i is line i + 2). ``columns`` maps a canonical name to
    the name the user knows it by in the file (``worker_id`` → ``ASSIGNMENT:worker_id``), so
    messages speak the file's language. ``labels`` is the declared label set in tie order; when
    absent, the labels seen in the answers, sorted, are used and a golden label outside them is an
    error. ``problems`` may carry problems the reader already found; they are reported together.
    """
    problems = problems or ProblemList(file)
    names = dict(columns or {})

    def src(col: str) -> str:
        return names.get(col, col)

    raw = answers
    if len(raw) == 0:
        problems.add(
            "there are no answers in it.",
            "export the pool's results with at least one submitted assignment, or check that "
            "the right file was chosen.",
        )
        raise ValidationError(problems.errors)

    missing = [c for c in REQUIRED_ANSWER_COLUMNS if c not in raw.columns]
    for c in missing:
        problems.add(
            f"required column {src(c)} is missing.",
            f"include {src(c)} in the export (Toloka: tick it under 'Download results'), "
            "or map the column that holds it.",
            column=src(c),
        )
    if missing:
        raise ValidationError(problems.errors)

    n = len(raw)
    empty_cat = pd.Series(
        pd.Categorical.from_codes(np.full(n, -1, dtype=np.int32), categories=pd.Index([], dtype="str")), index=raw.index
    )

    def text_col(col: str) -> pd.Series:
        return to_category(raw[col]) if col in raw.columns else empty_cat

    def isin(s: pd.Series, allowed) -> np.ndarray:
        return category_values(s, lambda c: c.isin(list(allowed)), False).astype(bool)

    # ids
    out: dict[str, pd.Series] = {}
    for col in ("task_id", "worker_id"):
        s = text_col(col)
        empty = s.cat.codes.to_numpy() < 0
        if empty.any():
            problems.add(
                f"{int(empty.sum()):,} answer(s) have no {col.replace('_id', '')} id.",
                f"fill {src(col)} on every row, or drop the rows that are not answers.",
                column=src(col),
                lines=_lines(raw, empty),
            )
        out[col] = s
    out["assignment_id"] = text_col("assignment_id")
    pool = text_col("pool_id")
    if (pool.cat.codes.to_numpy() < 0).all():
        pool = pd.Series(
            pd.Categorical.from_codes(np.zeros(n, dtype=np.int32), categories=pd.Index(["pool"], dtype="str")),
            index=raw.index,
        )
    out["pool_id"] = pool

    # status
    status = text_col("status")
    if len(status.cat.categories):
        status = map_categories(status, lambda c: c.str.upper().map(lambda x: STATUS_ALIASES.get(x, x)))
        unknown = (status.cat.codes.to_numpy() >= 0) & ~isin(status, STATUSES)
        if unknown.any():
            problems.add(
                f"unknown assignment status on {int(unknown.sum()):,} row(s).",
                "use one of " + ", ".join(STATUSES) + " (Toloka's APPROVED is read as ACCEPTED).",
                column=src("status"),
                lines=_lines(raw, unknown),
                values=list(pd.unique(status[unknown].astype(str)))[:10],
            )
    status_no_answer = isin(status, STATUSES_WITHOUT_ANSWER)

    # kind: given, else control where a golden label is known
    golden = text_col("golden")
    has_golden = golden.cat.codes.to_numpy() >= 0
    default_kind = np.where(has_golden, KINDS.index("control"), KINDS.index("regular")).astype(np.int8)
    kind_codes = default_kind
    if "kind" in raw.columns:
        kind = map_categories(text_col("kind"), lambda c: c.str.lower())
        bad_kind = (kind.cat.codes.to_numpy() >= 0) & ~isin(kind, KINDS)
        if bad_kind.any():
            problems.add(
                "unknown task kind.",
                "use one of " + ", ".join(KINDS) + ".",
                column=src("kind"),
                lines=_lines(raw, bad_kind),
                values=list(pd.unique(kind[bad_kind].astype(str)))[:10],
            )
        given = category_values(
            kind, lambda c: np.array([KINDS.index(x) if x in KINDS else -1 for x in c], dtype=np.int8), np.int8(-1)
        )
        kind_codes = np.where(given >= 0, given, default_kind).astype(np.int8)

    # labels
    label = text_col("label")
    label_codes = label.cat.codes.to_numpy()
    no_label = (label_codes < 0) & ~status_no_answer
    if no_label.any():
        problems.add(
            f"{int(no_label.sum()):,} answer(s) have no label.",
            f"fill {src('label')} (the output field holding the answer; pick it with "
            "--label-field when the export has several), or mark the assignment SKIPPED/EXPIRED.",
            column=src("label"),
            lines=_lines(raw, no_label),
        )
    used = np.bincount(label_codes[label_codes >= 0], minlength=len(label.cat.categories)) > 0
    seen = [str(x) for x in label.cat.categories[used]]
    if labels:
        label_set = [str(x) for x in labels]
        outside = (label_codes >= 0) & ~isin(label, label_set)
        if outside.any():
            problems.add(
                f"answer label outside the declared label set ({', '.join(label_set)}).",
                "correct the answers or declare the full label set.",
                column=src("label"),
                lines=_lines(raw, outside),
                values=list(pd.unique(label[outside].astype(str)))[:10],
            )
    else:
        label_set = sorted(seen, key=_natural_key)
    gold_outside = has_golden & ~isin(golden, label_set)
    if gold_outside.any():
        problems.add(
            "golden (known correct) label is not in the label set "
            f"({', '.join(label_set[:12])}{', …' if len(label_set) > 12 else ''}).",
            "correct the golden label (a typo or a different spelling of a label), or declare "
            "the label set if this label is legitimately never chosen by annotators.",
            column=src("golden"),
            lines=_lines(raw, gold_outside),
            values=list(pd.unique(golden[gold_outside].astype(str)))[:10],
        )
    if truth is not None and len(truth):
        t_out = ~truth.astype(str).isin(label_set)
        if t_out.any():
            unseen = list(dict.fromkeys(truth[t_out].astype(str)))
            if labels:
                problems.add(
                    f"{int(t_out.sum()):,} truth label(s) are not in the declared label set ({', '.join(label_set[:12])}).",
                    "correct the truth file, or add the label to the declared label set.",
                    column="truth",
                    values=unseen[:10],
                    count=int(t_out.sum()),
                )
            else:
                # a true class no annotator chose is possible (and telling); keep it in the set
                label_set = label_set + sorted(unseen, key=_natural_key)
                problems.add(
                    f"{len(unseen):,} truth label(s) were never given by any annotator: "
                    + ", ".join(unseen[:10])
                    + ("…" if len(unseen) > 10 else "")
                    + ".",
                    "check the truth file for typos; if these are real classes, nothing to do.",
                    column="truth",
                    values=unseen[:10],
                    count=int(t_out.sum()),
                    severity="warning",
                )

    # times
    for col in ("started_at", "submitted_at"):
        if col in raw.columns:
            out[col] = parse_times(raw[col], problems, raw, src(col))
        else:
            out[col] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    backwards = (out["submitted_at"] < out["started_at"]).to_numpy()
    if backwards.any():
        problems.add(
            "an assignment is submitted before it was started.",
            "check the time zone of both columns; these rows get no speed figure.",
            column=src("submitted_at"),
            lines=_lines(raw, backwards),
            severity="warning",
        )

    # reward (numbers parsed once per distinct value)
    if "reward" in raw.columns:
        rcat = text_col("reward")
        parsed = pd.to_numeric(pd.Series(rcat.cat.categories, dtype="str"), errors="coerce").to_numpy(dtype="float64")
        bad_cat = np.isnan(parsed) | (parsed < 0)
        reward = category_values(rcat, lambda c: parsed, np.nan)
        bad = category_values(rcat, lambda c: bad_cat, False).astype(bool)
        if bad.any():
            problems.add(
                "reward is not a non-negative number.",
                "write rewards as plain numbers in the run's currency, e.g. 0.015.",
                column=src("reward"),
                lines=_lines(raw, bad),
                values=list(rcat.cat.categories[bad_cat][:5]),
            )
        out["reward"] = pd.Series(reward, index=raw.index, dtype="float64")
    else:
        out["reward"] = pd.Series(np.nan, index=raw.index, dtype="float64")

    # duplicates: one answer per task per assignment (checked on integer codes)
    a_codes = out["assignment_id"].cat.codes.to_numpy().astype(np.int64)
    t_codes = out["task_id"].cat.codes.to_numpy().astype(np.int64)
    has_a = a_codes >= 0
    if has_a.any():
        key = pd.Series(a_codes[has_a] * (len(out["task_id"].cat.categories) + 1) + t_codes[has_a])
        dup = key.duplicated(keep=False).to_numpy()
        if dup.any():
            dup_mask = np.zeros(n, dtype=bool)
            dup_mask[np.flatnonzero(has_a)[dup]] = True
            problems.add(
                f"{int(key.duplicated().sum()):,} duplicate (assignment, task) row(s): the same task "
                "appears twice in one assignment.",
                "remove the repeated rows (often the export was concatenated twice).",
                column=f"{src('assignment_id')} + {src('task_id')}",
                lines=_lines(raw, dup_mask),
            )

    problems.raise_if_errors()

    # ---- compact dtypes
    label_dtype = pd.CategoricalDtype(pd.Index(label_set, dtype="str"), ordered=False)
    frame = pd.DataFrame(
        {
            "assignment_id": drop_unused(out["assignment_id"]),
            "task_id": drop_unused(out["task_id"]),
            "worker_id": drop_unused(out["worker_id"]),
            # set_categories re-codes by value; astype would keep the old order (pandas treats
            # unordered dtypes with the same categories as equal), losing the declared tie order
            "label": label.cat.set_categories(label_dtype.categories),
            "kind": pd.Categorical.from_codes(kind_codes, dtype=pd.CategoricalDtype(KINDS)),
            "golden": golden.cat.set_categories(label_dtype.categories),
            "started_at": out["started_at"],
            "submitted_at": out["submitted_at"],
            "status": status.astype(pd.CategoricalDtype(STATUSES)).cat.set_categories(list(STATUSES)),
            "pool_id": drop_unused(out["pool_id"]),
            "reward": out["reward"],
        }
    ).reset_index(drop=True)

    notes = list(problems.warnings)
    frame, time_notes = _drop_placeholder_times(frame, file, src)
    notes += time_notes

    meta = meta or RunMeta()
    meta = dataclasses.replace(meta, labels=tuple(label_set))
    if meta.overlap is None:
        regular = frame["kind"].cat.codes.to_numpy() == KINDS.index("regular")
        if regular.any():
            per_task = np.bincount(frame["task_id"].cat.codes.to_numpy()[regular])
            per_task = per_task[per_task > 0]
            if len(per_task) and per_task.min() == per_task.max():
                meta = dataclasses.replace(meta, overlap=int(per_task[0]))

    task_ids = frame["task_id"].cat.categories
    if tasks is None or len(tasks) == 0:
        tasks_frame = pd.DataFrame(index=pd.Index(task_ids, name="task_id"))
    else:
        tasks_frame = tasks.copy()
        if tasks_frame.index.name != "task_id":
            tasks_frame = tasks_frame.set_index("task_id")
        tasks_frame.index = tasks_frame.index.astype(str)
        tasks_frame = tasks_frame[~tasks_frame.index.duplicated()]
        tasks_frame = tasks_frame.reindex(task_ids)
        tasks_frame.index.name = "task_id"
        for c in tasks_frame.columns:
            tasks_frame[c] = tasks_frame[c].astype("str").where(tasks_frame[c].notna())

    restr = empty_restrictions() if restrictions is None else restrictions_frame(restrictions)
    if truth is not None:
        truth = truth.copy()
        truth.index = truth.index.astype(str)
        truth.index.name = "task_id"
        truth = truth.astype(str).astype(label_dtype)
        truth.name = "truth"

    return Run(
        answers=frame,
        tasks=tasks_frame,
        restrictions=restr,
        pricing=pricing or Pricing(),
        meta=meta,
        truth=truth,
        notes=tuple(notes),
    )


def restrictions_frame(r: pd.DataFrame) -> pd.DataFrame:
    base = empty_restrictions()
    out = pd.DataFrame(index=range(len(r)))
    for col in RESTRICTION_COLUMNS:
        if col in r.columns:
            out[col] = r[col].to_numpy()
        else:
            out[col] = pd.Series([None] * len(r), dtype=base[col].dtype)
    for col in ("created_at", "expires_at"):
        out[col] = pd.to_datetime(out[col], utc=True, errors="coerce")
    for col in ("worker_id", "scope", "pool_id", "reason", "rule"):
        out[col] = out[col].astype("str").where(out[col].notna())
    return out


def _drop_placeholder_times(frame: pd.DataFrame, file: str, src) -> tuple[pd.DataFrame, list[Problem]]:
    """Times that hold one constant value on every row are placeholders, not timings.

    Some public exports (e.g. the CrowdTruth copies of Snow et al. 2008) fill start/end with a
    single fixed value; showing them as durations would be a made-up number.
    """
    notes: list[Problem] = []
    if len(frame) < 20:
        return frame, notes
    for col in ("started_at", "submitted_at"):
        s = frame[col]
        if s.notna().all() and s.min() == s.max():
            notes.append(
                Problem(
                    file=file,
                    column=src(col),
                    message=f"{src(col)} holds one value ({s.iloc[0]}) on every row: a placeholder, "
                    "not a timing. Times were dropped and speed is reported as missing.",
                    fix="export real start/submit times to get speed figures.",
                    count=len(frame),
                    severity="warning",
                )
            )
            for c in ("started_at", "submitted_at"):
                frame[c] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
            break
    return frame, notes


def _natural_key(s: str):
    """Sort labels numerically where they are numbers ("2" < "10"), else alphabetically."""
    try:
        return (0, float(s), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(s))


def merge_runs(
    runs: Sequence[Run], *, meta: RunMeta | None = None, pricing: Pricing | None = None, file: str = "merged run"
) -> Run:
    """Combine validated runs (pools of one project, or a re-annotation merged back) into one.

    Label sets are united in the order first seen (the first run's tie order is kept); pools,
    tasks, restrictions, truth and notes are united; a pool that appears in two runs, or an
    (assignment, task) pair present twice, is an error naming both sources. ``meta.label_field``
    is the given ``meta``'s when it names one, else the inputs' when all that name one agree,
    else None (the runs hold answers to different output fields).
    """
    if not runs:
        raise ValueError("The 'runs' parameter of merge_runs must hold at least one run. Got none.")
    if len(runs) == 1 and meta is None and pricing is None:
        return runs[0]
    problems = ProblemList(file)
    labels: list[str] = []
    for r in runs:
        labels += [x for x in r.meta.labels if x not in labels]
    label_dtype = pd.CategoricalDtype(labels)
    frames = []
    for r in runs:
        a = r.answers.copy()
        a["label"] = a["label"].astype(str).where(a["label"].notna()).astype(label_dtype)
        a["golden"] = a["golden"].astype(str).where(a["golden"].notna()).astype(label_dtype)
        frames.append(a)
    from pandas.api.types import union_categoricals

    merged = {}
    for col in ANSWER_COLUMNS:
        parts = [f[col] for f in frames]
        if col in ("assignment_id", "task_id", "worker_id", "pool_id"):
            merged[col] = pd.Series(union_categoricals(parts, ignore_order=True))
        else:
            merged[col] = pd.concat(parts, ignore_index=True)
    answers = pd.DataFrame(merged)
    a_known = answers["assignment_id"].notna()
    dup = answers[a_known].duplicated(["assignment_id", "task_id"], keep=False)
    if dup.any():
        problems.add(
            f"{int(dup.sum()):,} (assignment, task) rows appear in more than one of the merged runs.",
            "merge each pool's results once; drop the repeated file.",
            column="assignment_id + task_id",
            count=int(dup.sum()),
        )
    problems.raise_if_errors()
    tasks = pd.concat([r.tasks for r in runs])
    tasks = tasks[~tasks.index.duplicated()]
    restrictions = pd.concat(
        [r.restrictions for r in runs if len(r.restrictions)] or [empty_restrictions()], ignore_index=True
    )
    truths = [r.truth for r in runs if r.truth is not None]
    truth = None
    if truths:
        truth = pd.concat([t.astype(str) for t in truths])
        truth = truth[~truth.index.duplicated()].astype(label_dtype)
        truth.name = "truth"
    pools: list[PoolInfo] = []
    for r in runs:
        pools += [p for p in r.meta.pools if all(p.pool_id != q.pool_id for q in pools)]
    base = meta or runs[0].meta
    # the label field survives when every run that names one names the same one; a given meta's wins
    fields = {r.meta.label_field for r in runs if r.meta.label_field}
    label_field = (
        base.label_field if meta is not None and meta.label_field else (fields.pop() if len(fields) == 1 else None)
    )
    meta = dataclasses.replace(
        base,
        labels=tuple(labels),
        pools=tuple(pools) if meta is None or not meta.pools else meta.pools,
        label_field=label_field,
        source_files=tuple(dict.fromkeys(f for r in runs for f in r.meta.source_files)),
    )
    return Run(
        answers=answers,
        tasks=tasks,
        restrictions=restrictions,
        pricing=pricing or runs[0].pricing,
        meta=meta,
        truth=truth,
        notes=tuple(n for r in runs for n in r.notes),
    )
