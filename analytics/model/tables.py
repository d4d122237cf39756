"""The canonical run's tables — Run, its Codes, RunMeta, Pricing, PoolInfo — their constants and categorical helpers."""

from __future__ import annotations

import copy
import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np
import pandas as pd

from analytics.model._deferred import ReadOnFirstUse, replace_run
from analytics.model.categories import used_codes
from analytics.model.problems import Problem

KINDS = ("regular", "control", "training", "exam")
# the pool ids readers give answers whose file names no pool (a long table without a pool column,
# an export without ASSIGNMENT:link): two files with one of these are not "the same pool twice"
UNNAMED_POOL_IDS = frozenset({"pool", "main-pool", "exam-pool"})
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


# --------------------------------------------------------------------------------------------
# pricing and meta


@dataclass(frozen=True)
class Pricing:
    """What a run costs to the requester.

    ``reward_per_assignment`` is the default reward of one task suite where an answer row has no
    ``reward``; ``fee_rate`` is the platform fee as a fraction of rewards and bonuses (Toloka
    charged 30 % with a per-assignment minimum ``fee_minimum``); ``bonuses`` has columns
    worker_id, amount, reason, created_at.

    :data:`DEFAULT_FEE_RATE` is the one fee default of every import path (the CLI's file
    import, the Toloka API import, the Import page): neither the API nor an export states the
    fee, so it is Toloka's published 30 %, and ``fee_assumed`` is True where it was not given
    (:meth:`fee_note` says so beside the cost figures). A Pricing made by hand has no fee.
    """

    # Toloka's platform fee is not exposed by the API nor written in an export: 0.3 is the 30 % of
    # rewards and bonuses that Toloka's public requester pricing charged; contracts and later price
    # lists differ, so set fee_rate (and fee_minimum) from your invoice.
    DEFAULT_FEE_RATE: ClassVar[float] = 0.3
    DEFAULT_FEE_MINIMUM: ClassVar[float] = 0.0

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
    fee_assumed: bool = False

    @classmethod
    def fee(cls, fee_rate: float | None, fee_minimum: float | None = None) -> dict[str, Any]:
        """``fee_rate`` / ``fee_minimum`` / ``fee_assumed`` for a path's fee options (None: the default).

        >>> Pricing(**Pricing.fee(None)).fee_rate, Pricing(**Pricing.fee(None)).fee_assumed
        (0.3, True)
        """
        return {
            "fee_rate": cls.DEFAULT_FEE_RATE if fee_rate is None else float(fee_rate),
            "fee_minimum": cls.DEFAULT_FEE_MINIMUM if fee_minimum is None else float(fee_minimum),
            "fee_assumed": fee_rate is None,
        }

    def fee_note(self) -> str | None:
        """What the cost figures assume about the platform fee, for the Cost page and the report;
        None where the fee was given."""
        if not self.fee_assumed:
            return None
        return (
            f"platform fee {self.fee_rate * 100:g} % assumed (Toloka's published rate: neither the API nor an "
            "export states it); pass --fee-rate to change it (the Import page: 'Platform fee')."
        )

    def to_dict(self) -> dict[str, Any]:
        b = self.bonuses
        return {
            "currency": self.currency,
            "reward_per_assignment": self.reward_per_assignment,
            "fee_rate": self.fee_rate,
            "fee_minimum": self.fee_minimum,
            "fee_assumed": self.fee_assumed,
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
    ``source_kind`` says what the run was read from ("Toloka TSV", "long table", "Toloka API",
    "workspace"; empty when unknown) and ``source_fields`` maps a canonical field ("submitted_at",
    "assignment_id", "reward", "golden", "status", "truth", ...) to the source's own name for it
    ("ASSIGNMENT:submitted"), so a message can speak the source's language: see
    :meth:`source_name`. Both are plain strings, stored with the run.
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
    source_kind: str = ""
    source_fields: Mapping[str, str] = field(default_factory=dict)
    # the level of measurement: nominal | ordinal | interval | ratio (analytics.model.scales)
    scale: str = "nominal"

    def pool(self, pool_id: str) -> PoolInfo | None:
        return next((p for p in self.pools if p.pool_id == str(pool_id)), None)

    def source_name(self, canonical: str) -> str:
        """The source's own name for a canonical field (``submitted_at`` -> ``ASSIGNMENT:submitted``).

        The canonical name itself where the source's name is not known.

        >>> RunMeta(source_fields={"submitted_at": "ASSIGNMENT:submitted"}).source_name("submitted_at")
        'ASSIGNMENT:submitted'
        >>> RunMeta().source_name("reward")
        'reward'
        """
        return self.source_fields.get(canonical, canonical)

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
            "source_kind": self.source_kind,
            "source_fields": dict(self.source_fields),
            "scale": self.scale,
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
            # runs stored before these fields existed have neither
            source_kind=str(d.get("source_kind") or ""),
            source_fields={str(k): str(v) for k, v in (d.get("source_fields") or {}).items()},
            scale=str(d.get("scale") or "nominal"),  # runs stored before scales were nominal
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
    tasks: pd.DataFrame = ReadOnFirstUse()  # a large version's task texts are read when first used
    restrictions: pd.DataFrame
    pricing: Pricing
    meta: RunMeta
    truth: pd.Series | None = None
    notes: tuple[Problem, ...] = ()

    @functools.cached_property
    def codes(self) -> Codes:
        # the categoricals' own codes (int8/int16/int32 views, no copies): widen before combining into keys
        a = self.answers
        return Codes(
            task=_own_codes(a["task_id"]),
            worker=_own_codes(a["worker_id"]),
            label=_own_codes(a["label"]),
            golden=_own_codes(a["golden"]),
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
        """The run's headline counts, of GIVEN answers (rows with a label) only (see :meth:`_counts`).

        Counted once per run (a run is immutable); each call gets its own copy.
        """
        return copy.deepcopy(self._counts)

    @functools.cached_property
    def _counts(self) -> dict[str, Any]:
        """The run's headline counts of GIVEN answers (rows with a label): ``answers``, ``tasks``,
        ``workers``, ``assignments`` (suites; None without ids), ``kinds``; ``without_answer`` counts
        the rest apart as {status: suites} (see :data:`STATUSES_WITHOUT_ANSWER`; a row without an
        assignment id is one suite): 445 expired suites are not 445 answers. ``pools``: every pool."""
        a, c = self.answers, self.codes
        given = c.label >= 0
        everything = bool(given.all())  # the common case: no mask, no copies of 10^7 codes

        def used(codes: np.ndarray, n: int) -> int:
            return int(np.count_nonzero(used_codes(codes if everything else codes[given], n)))

        suite = a["assignment_id"].cat.codes.to_numpy()
        n_suites = len(a["assignment_id"].cat.categories)
        without: dict[str, int] = {}
        status = a["status"].cat.codes.to_numpy()
        for code in [] if everything else np.unique(status[~given]):
            rows = ~given & (status == code)
            name = "no status" if code < 0 else str(a["status"].cat.categories[code])
            kept = suite[rows]
            without[name] = len(np.unique(kept[kept >= 0]))
            without[name] += int(np.count_nonzero(kept < 0))
        per_kind = np.bincount(c.kind if everything else c.kind[given], minlength=len(a["kind"].cat.categories))
        kinds = sorted(zip(a["kind"].cat.categories, per_kind, strict=True), key=lambda kv: -kv[1])  # most first
        pool = a["pool_id"].cat.codes.to_numpy()
        return {
            "answers": int(np.count_nonzero(given)),
            "tasks": used(c.task, c.n_tasks),
            "workers": used(c.worker, c.n_workers),
            "assignments": used(suite, n_suites) if suite.max(initial=-1) >= 0 else None,
            "labels": list(self.meta.labels),
            "kinds": {str(k): int(v) for k, v in kinds if v},
            "pools": int(np.count_nonzero(used_codes(pool, len(a["pool_id"].cat.categories)))),
            "simulated": self.meta.simulated,
            "without_answer": without,
        }

    def task_inputs(self, task_id: str, code: int) -> dict[str, Any] | None:
        """One task's input fields ({field: value}), or None when the run lists none for it.
        ``code`` is the task's position in ``codes.task_names`` (-1 when it has no answer). A large
        version's texts not read yet stay unread: only the part of the file holding the task is."""
        row = vars(Run)["tasks"].part(self, code, task_id) if code >= 0 else None
        if row is not None:
            return row
        tasks = self.tasks
        if not len(tasks.columns):
            return None
        if 0 <= code < len(tasks) and tasks.index[code] == task_id:  # tasks in code order, as stored
            at = code
        else:
            at = int(tasks.index.get_indexer([task_id])[0])  # -1 when absent; task ids are unique
        return None if at < 0 else dict(tasks.iloc[at].items())

    def with_meta(self, **changes: Any) -> "Run":
        return replace_run(self, meta=dataclasses.replace(self.meta, **changes))


def _own_codes(column: pd.Series) -> np.ndarray:
    """A categorical column's integer codes as stored: Categorical.codes, a read-only view (``.cat.codes``
    would copy them)."""
    return column.array.codes


# --------------------------------------------------------------------------------------------
# restrictions


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
