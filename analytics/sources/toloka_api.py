"""Reader for the Toloka API via toloka-kit: pools, assignments, restrictions and live progress.

Toloka's API names (``assignment.user_id``, ``known_solutions``, collectors, conditions and
actions of quality-control rules) are known here and nowhere else. Runs are built only through
:func:`analytics.model.build_run`, so an answer from the API is validated exactly as one from a
file, and problems name the API field (``assignment.user_id``) and the assignment ids.

The token comes from the caller (the dashboard reads ``st.secrets``) or ``$TOLOKA_TOKEN``. It is
handed to toloka-kit and to nothing else: it is never printed, logged, written or put in an
error message (messages are scrubbed of it, and toloka-kit's exceptions, which hold the request
and its headers, are not chained).

What is read, per pool:

* ``GET /api/v1/pools/{id}`` and ``/api/v1/projects/{id}``: name, reward, overlap, suite size,
  quality-control rules, the output field's allowed values (the label set, in declared order);
* ``GET /api/v1/assignments`` (paginated by id) with every status that carries an answer or
  its absence — SUBMITTED, ACCEPTED, REJECTED, SKIPPED, EXPIRED; ACTIVE suites are still being
  worked on and are left out (:func:`pool_progress` counts them). Each assignment is turned
  into rows as it arrives; nothing is kept twice;
* ``GET /api/v1/user-restrictions`` for the pool, its project, and all-project bans of the
  run's annotators;
* ``GET /api/v1/tasks`` only when no assignment carries its tasks' known solutions although
  the pool mixes in control or training tasks (the golden labels are then read from the tasks).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
from array import array
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from analytics.model import (
    KINDS,
    PoolInfo,
    Pricing,
    Problem,
    ProblemList,
    Run,
    RunMeta,
    ValidationError,
    build_run,
    empty_restrictions,
    merge_runs,
    restrictions_frame,
)
from analytics.sources.toloka_tsv import POOL_KINDS

# Toloka's platform fee is not exposed by the API. 0.3 is the 30 % of rewards and bonuses that
# Toloka's public requester pricing charged (the figure model.Pricing documents); contracts and
# later price lists differ, so set ``fee_rate`` (and ``fee_minimum``) from your invoice.
DEFAULT_FEE_RATE = 0.3
DEFAULT_FEE_MINIMUM = 0.0
CURRENCY = "USD"  # Pool.reward_per_assignment is in US dollars (toloka-kit's Pool docstring)

ENVIRONMENTS = ("PRODUCTION", "SANDBOX")
TOKEN_VARIABLE = "TOLOKA_TOKEN"
ENVIRONMENT_VARIABLE = "TOLOKA_ENVIRONMENT"
URL_VARIABLE = "TOLOKA_URL"

# Assignments per request: the API allows up to 100,000; a suite of ten tasks is a few KiB of
# JSON, so 2,000 keeps a page to a few MiB and 10^5 assignments to 50 requests.
ASSIGNMENT_BATCH = 2000
RESTRICTION_BATCH = 500  # the API's maximum for user restrictions
# toloka-kit turns about a thousand 10-task assignments a second into objects: 10^5 take minutes,
# so readers report progress (pool id, assignments read) this often
PROGRESS_EVERY = 1000
Progress = Callable[[str, int], None]
TASK_BATCH = 5000
# statuses whose assignments become answer rows (ACTIVE suites have no answer yet)
ANSWER_STATUSES = ("SUBMITTED", "ACCEPTED", "REJECTED", "SKIPPED", "EXPIRED")
DONE_STATUSES = ("SUBMITTED", "ACCEPTED", "REJECTED")
PAID_STATUSES = ("SUBMITTED", "ACCEPTED")  # as analytics.metrics.cost counts spend

# what each canonical column is called in the API, for validation messages
API_FIELDS = {
    "assignment_id": "assignment.id",
    "task_id": "assignment.tasks[].id",
    "worker_id": "assignment.user_id",
    "status": "assignment.status",
    "started_at": "assignment.created",
    "submitted_at": "assignment.submitted",
    "reward": "assignment.reward",
    "pool_id": "assignment.pool_id",
    "kind": "assignment.tasks[].known_solutions / message_on_unknown_solution",
}


class TolokaAPIError(RuntimeError):
    """Toloka could not be reached, or refused a request; the message says what to check.

    It never contains the token, and toloka-kit's exception (which holds the request with its
    Authorization header) is not chained to it.
    """


class TolokaConfigError(ValueError):
    """No token, or an environment / URL that cannot be used."""


# --------------------------------------------------------------------------------------------
# the client


def make_client(
    token: str | None = None, environment: str | None = None, url: str | None = None, *, timeout: float = 30.0
):
    """A ``toloka.client.TolokaClient`` for ``environment`` (PRODUCTION / SANDBOX) or ``url``.

    ``token`` defaults to ``$TOLOKA_TOKEN``; ``url`` (a private endpoint, or a local test server)
    to ``$TOLOKA_URL``; ``environment`` to ``$TOLOKA_ENVIRONMENT``, else PRODUCTION (reading
    costs nothing; a sandbox token is refused by production with a message saying so). Explicit
    arguments win over the environment; passing both ``environment`` and ``url`` is an error.
    """
    from toloka.client import TolokaClient

    token = (token if token is not None else os.environ.get(TOKEN_VARIABLE, "")).strip()
    if not token:
        raise TolokaConfigError(
            f"No Toloka token: set the {TOKEN_VARIABLE} environment variable, or put "
            f'{TOKEN_VARIABLE} = "..." in .streamlit/secrets.toml for the dashboard (that file is '
            "never committed)."
        )
    if environment is not None and url is not None:
        raise TolokaConfigError(
            "The 'environment' and 'url' parameters of make_client exclude each other (toloka-kit "
            f"takes one). Got environment={environment!r} and url={url!r}."
        )
    if environment is None and url is None:
        url = os.environ.get(URL_VARIABLE) or None
        if url is None:
            environment = os.environ.get(ENVIRONMENT_VARIABLE) or "PRODUCTION"
    if url is not None:
        url = url.strip()
        if not url.startswith(("http://", "https://")):
            raise TolokaConfigError(
                f"The Toloka URL ({URL_VARIABLE} or url=) must start with http:// or https://. Got {url!r} instead."
            )
        return TolokaClient(token, url=url, timeout=timeout)
    env = str(environment).strip().upper()
    if env not in ENVIRONMENTS:
        raise TolokaConfigError(
            f"The Toloka environment ({ENVIRONMENT_VARIABLE} or environment=) must be one of "
            f"{', '.join(ENVIRONMENTS)}. Got {environment!r} instead."
        )
    return TolokaClient(token, environment=env, timeout=timeout)


def _where(client) -> str:
    return str(getattr(client, "url", "") or "Toloka")


def scrub_token(text: str, token: str | None) -> str:
    """``text`` with the token's value blanked out (a token under 4 characters is left: blanking
    it would mangle ordinary words and it would not be a real token)."""
    return text.replace(token, "***") if token and len(token) >= 4 else text


def _scrub(text: str, client) -> str:
    return scrub_token(text, getattr(client, "token", None))


def _api_error(err: Exception, client, what: str) -> TolokaAPIError:
    """Our error for a toloka-kit / httpx failure: what was being done, what to check."""
    import httpx
    from toloka.client.exceptions import ApiError

    where = _where(client)
    if isinstance(err, ApiError):
        status, code = err.status_code, err.code or ""
        detail = f"HTTP {status}{' ' + code if code else ''}" + (f": {err.message}" if err.message else "")
        if status == 401 or code in ("AUTHENTICATION_ERROR", "OAUTH_AUTHENTICATION_ERROR"):
            text = (
                f"Toloka at {where} rejected the token while {what} ({detail}). Check that "
                f"{TOKEN_VARIABLE} (or TOLOKA_TOKEN in .streamlit/secrets.toml) holds a current OAuth "
                "token or API key of this environment: sandbox and production tokens differ "
                f"({ENVIRONMENT_VARIABLE}=SANDBOX for the sandbox)."
            )
        elif status == 403 or code in ("ACCESS_DENIED", "ENTITY_ACCESS_DENIED"):
            text = (
                f"Toloka at {where} denied access while {what} ({detail}). The token's account may not "
                "see this object: use the owner's token, or ask the owner for shared access."
            )
        elif status == 404 or code in ("DOES_NOT_EXIST", "ENTITY_DOES_NOT_EXIST"):
            text = (
                f"Toloka at {where} says it does not exist while {what} ({detail}). Check the id, and "
                "that it belongs to this environment (a sandbox pool is not in production)."
            )
        else:
            text = f"Toloka at {where} answered an error while {what} ({detail})."
    elif isinstance(err, httpx.HTTPError):
        text = (
            f"Toloka could not be reached at {where} while {what} ({type(err).__name__}: {err}). "
            f"Check the network, and {URL_VARIABLE} / {ENVIRONMENT_VARIABLE}."
        )
    else:  # urllib3's retry errors after the last attempt
        text = f"Toloka at {where} did not answer while {what} ({type(err).__name__}: {err})."
    return TolokaAPIError(_scrub(text, client))


def _failures():
    import httpx
    import urllib3
    from toloka.client.exceptions import ApiError

    return (ApiError, httpx.HTTPError, urllib3.exceptions.HTTPError)


def _call(client, what: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except _failures() as err:
        error = _api_error(err, client, what)
    # raised outside the except block: toloka-kit's exception, which holds the request and its
    # Authorization header, is neither the cause nor the context of ours
    raise error


def _iterate(client, what: str, items: Iterable) -> Iterator:
    """Iterate a toloka-kit generator (it requests pages as it goes), translating its errors."""
    it = iter(items)
    while True:
        error = None
        try:
            item = next(it)
        except StopIteration:
            return
        except _failures() as err:
            error = _api_error(err, client, what)
        if error is not None:
            raise error
        yield item


# --------------------------------------------------------------------------------------------
# values


def _enum(value) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _plain(obj: Any) -> Any:
    """JSON-safe plain values (Decimal → int/float, enums → str, UUID → str)."""
    from decimal import Decimal

    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    if isinstance(obj, float) and obj.is_integer():
        return int(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return _enum(obj)


def _number(x) -> float | int | None:
    if x is None:
        return None
    v = _plain(x)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


class _Labels:
    """Output values as label strings, cached per distinct value.

    Strings stay as they are; booleans are written ``true``/``false`` (JSON's spelling) and
    whole numbers without a trailing ``.0``; lists and objects become compact JSON with sorted
    keys, so that equal answers always give the same label.
    """

    def __init__(self):
        self.cache: dict[Any, str] = {}

    def __call__(self, v) -> str | None:
        if v is None:
            return None
        if isinstance(v, str):
            return v
        key = (type(v), v) if isinstance(v, (bool, int, float)) else None
        if key is not None and key in self.cache:
            return self.cache[key]
        if isinstance(v, bool):
            out = "true" if v else "false"
        elif isinstance(v, (int, float)) or type(v).__name__ == "Decimal":
            p = _plain(v)
            out = str(p)
        else:
            out = json.dumps(_plain(v), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        if key is not None:
            self.cache[key] = out
        return out


def _ns(t: dt.datetime | None) -> int:
    """A datetime (toloka-kit makes them UTC-aware) as int64 nanoseconds; NaT as int64 min."""
    if t is None:
        return np.iinfo(np.int64).min
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return ((t - _EPOCH) // dt.timedelta(microseconds=1)) * 1000


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _utc(t) -> pd.Timestamp | None:
    if t is None:
        return None
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _stamp(t) -> str | None:
    ts = _utc(t)
    return None if ts is None else ts.isoformat()


# --------------------------------------------------------------------------------------------
# quality-control rules


def _restriction_action(action) -> dict[str, Any] | None:
    """scope / ban_days / reason of a Restriction or RestrictionV2 action; None for other actions."""
    kind = _enum(getattr(action, "type", None))
    p = getattr(action, "parameters", None)
    if p is None:
        return None
    if kind == "RESTRICTION_V2":
        unit = _enum(getattr(p, "duration_unit", None))
        duration = _number(getattr(p, "duration", None))
        per_day = {"DAYS": 1, "HOURS": 24, "MINUTES": 24 * 60}
        if unit == "PERMANENT" or duration is None:
            days = None
        elif unit in per_day:
            days = duration / per_day[unit] if per_day[unit] != 1 else duration
        else:
            return None
    elif kind == "RESTRICTION":
        days = _number(getattr(p, "duration_days", None))
    else:
        return None
    out = {"scope": _enum(getattr(p, "scope", None)), "ban_days": days}
    comment = getattr(p, "private_comment", None)
    if comment:
        out["reason"] = str(comment)
    return out


def _conditions(conds) -> dict[str, list[tuple[str, Any]]]:
    out: dict[str, list[tuple[str, Any]]] = {}
    for c in conds or []:
        out.setdefault(_enum(c.key), []).append((_enum(c.operator), _number(c.value)))
    return out


def _at_least(ops: list[tuple[str, Any]]) -> int | None:
    """``x >= n`` / ``x > n`` (integers) as the smallest n for which it holds; else None."""
    if len(ops) != 1:
        return None
    op, v = ops[0]
    if v is None:
        return None
    if op == "GTE":
        return int(math.ceil(v))
    if op == "GT":
        return int(math.floor(v)) + 1
    return None


def _fast_rule(params, conds, restriction) -> tuple[dict | None, str]:
    extra = set(conds) - {"fast_submitted_count"}
    if extra:
        return None, f"conditions on {', '.join(sorted(extra))} have no equivalent in the replayed rule"
    ops = conds.get("fast_submitted_count", [])
    count = _at_least(ops)
    if count is None and len(ops) == 1 and ops[0][0] == "EQ" and ops[0][1] is not None:
        # the count grows by at most one per suite, so "== n" first holds when ">= n" does
        count = int(ops[0][1])
    if count is None:
        return None, "the fast_submitted_count condition is not of the form >= n / > n / == n"
    threshold = _number(getattr(params, "fast_submit_threshold_seconds", None))
    if threshold is None:
        return None, "the collector has no fast_submit_threshold_seconds"
    rule = {
        "type": "fast_responses",
        "history_size": _number(getattr(params, "history_size", None)),
        "count": count,
        "fast_submit_threshold_seconds": threshold,
        "ban_days": restriction["ban_days"],
        "scope": restriction["scope"],
    }
    if "reason" in restriction:
        rule["reason"] = restriction["reason"]
    return rule, ""


def _golden_rule(params, conds, restriction) -> tuple[dict | None, str]:
    extra = set(conds) - {
        "golden_set_correct_answers_rate",
        "golden_set_incorrect_answers_rate",
        "golden_set_answers_count",
    }
    if extra:
        return None, f"conditions on {', '.join(sorted(extra))} have no equivalent in the replayed rule"
    rule: dict[str, Any] = {"type": "golden_set", "history_size": _number(getattr(params, "history_size", None))}
    if "golden_set_answers_count" in conds:
        n = _at_least(conds["golden_set_answers_count"])
        if n is None:
            return None, "the golden_set_answers_count condition is not of the form >= n / > n"
        rule["min_answers"] = n
    else:
        rule["min_answers"] = 1
    for key, name, op_needed in (
        ("golden_set_correct_answers_rate", "min_correct_percent", "LT"),
        ("golden_set_incorrect_answers_rate", "max_incorrect_percent", "GT"),
    ):
        ops = conds.get(key)
        if ops is None:
            continue
        if len(ops) != 1 or ops[0][0] != op_needed or ops[0][1] is None:
            want = "< x" if op_needed == "LT" else "> x"
            return None, f"the {key} condition is not of the form {want}"
        rule[name] = ops[0][1]
    if "min_correct_percent" not in rule and "max_incorrect_percent" not in rule:
        return None, "there is no condition on the share of correct or incorrect control answers"
    rule["ban_days"] = restriction["ban_days"]
    rule["scope"] = restriction["scope"]
    if "reason" in restriction:
        rule["reason"] = restriction["reason"]
    return rule, ""


def pool_rules(pool) -> tuple[dict, ...]:
    """A toloka-kit Pool's quality-control rules as ``PoolInfo.rules`` dicts.

    One dict per rule (a collector can drive several rules). A fast-response ban
    (AssignmentSubmitTime collector, FastSubmittedCount >= n, a Restriction/RestrictionV2 action)
    becomes ``{"type": "fast_responses", "history_size", "count",
    "fast_submit_threshold_seconds", "ban_days", "scope", "reason"}``; a control-task ban
    (GoldenSet collector, GoldenSetCorrectAnswersRate < x and/or
    GoldenSetIncorrectAnswersRate > y, optionally GoldenSetAnswersCount >= n) becomes
    ``{"type": "golden_set", "history_size", "min_answers", "min_correct_percent" /
    "max_incorrect_percent", "ban_days", "scope", "reason"}``. ``reason`` is the action's
    private comment (what the restriction it creates says); ``ban_days`` is None for a
    permanent ban. A ``history_size`` Toloka leaves unset (the whole history in the pool) is
    None here; :func:`read_pool` replaces it with a bound that covers the whole history.

    Every other rule — other collectors, other actions (reject, set skill, change overlap), or
    conditions with no replayable equivalent — is kept, not dropped, as ``{"type": <the
    collector's Toloka type, e.g. "SKIPPED_IN_ROW_ASSIGNMENTS">, "raw": <the rule as the API
    gives it>, "why": <why it is not converted>}``.
    """
    from toloka.client import unstructure

    qc = getattr(pool, "quality_control", None)
    out: list[dict] = []
    for config in getattr(qc, "configs", None) or []:
        collector = config.collector_config
        ctype = _enum(getattr(collector, "type", None)) or "UNKNOWN"
        params = getattr(collector, "parameters", None)
        for rule_config in config.rules or []:
            conds = _conditions(rule_config.conditions)
            restriction = _restriction_action(rule_config.action)
            converted, why = None, ""
            if restriction is None:
                why = f"the action {_enum(getattr(rule_config.action, 'type', None))} is not a ban"
            elif ctype == "ASSIGNMENT_SUBMIT_TIME":
                converted, why = _fast_rule(params, conds, restriction)
            elif ctype == "GOLDEN_SET":
                converted, why = _golden_rule(params, conds, restriction)
            else:
                why = f"the {ctype} collector is not replayed"
            if converted is not None:
                out.append(converted)
                continue
            raw = {
                "collector_config": _plain(unstructure(collector)),
                "rules": [_plain(unstructure(rule_config))],
            }
            out.append({"type": ctype, "raw": raw, "why": why})
    return tuple(out)


def _bound_history(rules: tuple[dict, ...], bound: int) -> tuple[dict, ...]:
    """Replace an unset history_size (Toloka: the whole history in the pool) by ``bound``,
    a number no annotator's history in the pool can exceed (the pool's answer rows)."""
    out = []
    for r in rules:
        if r.get("type") in ("fast_responses", "golden_set") and r.get("history_size") is None:
            r = {**r, "history_size": max(1, int(bound))}
        out.append(r)
    return tuple(out)


def _rule_comments(rules: Iterable[dict]) -> list[tuple[str, str]]:
    """(private comment, rule type) of every banning rule, for attributing restrictions."""
    out = []
    for r in rules:
        if "raw" in r:
            for rc in r["raw"].get("rules", []):
                action = rc.get("action") or {}
                comment = (action.get("parameters") or {}).get("private_comment")
                if comment and action.get("type") in ("RESTRICTION", "RESTRICTION_V2"):
                    out.append((str(comment), str(r["type"])))
        elif r.get("reason"):
            out.append((str(r["reason"]), str(r["type"])))
    return out


# --------------------------------------------------------------------------------------------
# reading a pool


@dataclass
class _PoolRead:
    run: Run
    pool: Any
    project: Any


def _problem(file: str, message: str, fix: str, column: str | None = None) -> ValidationError:
    problems = ProblemList(file)
    problems.add(message, fix, column=column)
    return ValidationError(problems.errors)


def _label_field(project, label_field: str | None, file: str) -> tuple[str | None, list[str] | None]:
    """The output field holding the label, and its allowed values (the declared label set)."""
    spec = getattr(getattr(project, "task_spec", None), "output_spec", None) or {}
    fields = list(spec)
    if label_field:
        name = label_field[len("OUTPUT:") :] if label_field.startswith("OUTPUT:") else label_field
        if fields and name not in spec:
            raise _problem(
                file,
                f"the project has no output field {name!r}.",
                "choose one of its output fields: " + ", ".join(fields) + ".",
                column="project.task_spec.output_spec",
            )
    elif len(fields) > 1:
        raise _problem(
            file,
            "the project's tasks have several output fields: " + ", ".join(fields) + ".",
            f"name the one that holds the label with label_field= (CLI: --label-field {fields[0]}).",
            column="project.task_spec.output_spec",
        )
    else:
        name = fields[0] if fields else None
    allowed = getattr(spec.get(name), "allowed_values", None) if name else None
    to_label = _Labels()
    labels = [to_label(v) for v in allowed] if allowed else None
    return name, labels


def _task_id(task, to_label: _Labels) -> str | None:
    """The task's id; without one (as in Toloka's TSV without task_id) its input values."""
    tid = getattr(task, "id", None)
    if tid:
        return str(tid)
    values = getattr(task, "input_values", None) or {}
    if not values:
        return None
    if len(values) == 1:
        return to_label(next(iter(values.values())))
    return " | ".join(to_label(values[k]) or "" for k in sorted(values))


def _golden(task, label_field: str, to_label: _Labels) -> tuple[str | None, bool]:
    """(known correct label, has several known solutions) of a control/training task.

    With several known solutions, the one with the highest correctness_weight (the first among
    equals) is the golden label: the canonical run holds one correct label per task.
    """
    sols = getattr(task, "known_solutions", None) or []
    best, best_w = None, None
    for s in sols:
        values = getattr(s, "output_values", None) or {}
        if label_field not in values:
            continue
        w = getattr(s, "correctness_weight", None)
        w = 1.0 if w is None else float(w)
        if best_w is None or w > best_w:
            best, best_w = values[label_field], w
    return (to_label(best) if best_w is not None else None), len(sols) > 1


class _Rows:
    """Answer rows accumulated page by page: per-assignment values once, per-task values per row."""

    def __init__(self, label_field: str | None):
        self.label_field = label_field
        self.to_label = _Labels()
        # per assignment
        self.assignment_id: list[str | None] = []
        self.worker_id: list[str | None] = []
        self.status: list[str | None] = []
        self.pool_id: list[str | None] = []
        self.reward = array("d")
        self.started = array("q")
        self.submitted = array("q")
        self.n_rows = array("q")
        # per row
        self.task_id: list[str | None] = []
        self.label: list[str | None] = []
        self.golden: list[str | None] = []
        self.hint = array("b")
        self.inputs: dict[str, dict] = {}
        self.several_known: set[str] = set()  # tasks with more than one known solution
        self.any_known = False
        self.task_ids_missing = False

    def add(self, a) -> None:
        tasks = a.tasks or []
        sols = a.solutions or []
        first = a.first_declined_solution_attempt or []
        field_name = self.label_field
        n = 0
        for i, t in enumerate(tasks):
            tid = _task_id(t, self.to_label)
            if getattr(t, "id", None) in (None, ""):
                self.task_ids_missing = True
            out = getattr(sols[i], "output_values", None) if i < len(sols) and sols[i] is not None else None
            hint = bool(getattr(t, "message_on_unknown_solution", None))
            value = None
            if out is not None and field_name is not None:
                value = out.get(field_name)
                if hint and i < len(first) and first[i] is not None:
                    # a training task: the first (declined) answer is what the annotator knew;
                    # the final one was given after seeing the hint
                    declined = getattr(first[i], "output_values", None) or {}
                    if field_name in declined:
                        value = declined[field_name]
            golden, several = (None, False)
            if field_name is not None and getattr(t, "known_solutions", None):
                golden, several = _golden(t, field_name, self.to_label)
                self.any_known = True
            if several and tid is not None:
                self.several_known.add(tid)
            self.task_id.append(tid)
            self.label.append(self.to_label(value))
            self.golden.append(golden)
            self.hint.append(1 if hint else 0)
            if tid is not None and tid not in self.inputs:
                self.inputs[tid] = getattr(t, "input_values", None) or {}
            n += 1
        if n == 0:
            return
        self.assignment_id.append(a.id)
        self.worker_id.append(a.user_id or None)
        self.status.append(_enum(a.status))
        self.pool_id.append(str(a.pool_id) if a.pool_id else None)
        self.reward.append(float(a.reward) if a.reward is not None else math.nan)
        self.started.append(_ns(a.created))
        self.submitted.append(_ns(a.submitted))
        self.n_rows.append(n)

    def frame(self) -> pd.DataFrame:
        reps = np.frombuffer(self.n_rows, dtype=np.int64) if len(self.n_rows) else np.zeros(0, dtype=np.int64)

        def per_assignment(values) -> pd.Series:
            cat = pd.Categorical(values)
            codes = np.repeat(cat.codes, reps)
            return pd.Series(pd.Categorical.from_codes(codes, categories=cat.categories.astype("str"), validate=False))

        def times(values: array) -> pd.Series:
            ints = np.repeat(
                np.frombuffer(values, dtype=np.int64) if len(values) else np.zeros(0, dtype=np.int64), reps
            )
            return pd.Series(pd.DatetimeIndex(ints.view("datetime64[ns]")).tz_localize("UTC"))

        reward = np.repeat(np.frombuffer(self.reward, dtype=np.float64) if len(self.reward) else np.zeros(0), reps)
        return pd.DataFrame(
            {
                "assignment_id": per_assignment(self.assignment_id),
                "task_id": pd.Categorical(self.task_id),
                "worker_id": per_assignment(self.worker_id),
                "label": pd.Categorical(self.label),
                "golden": pd.Categorical(self.golden),
                "status": per_assignment(self.status),
                "pool_id": per_assignment(self.pool_id),
                "started_at": times(self.started),
                "submitted_at": times(self.submitted),
                "reward": pd.Series(reward, dtype="float64"),
                "_hint": np.frombuffer(self.hint, dtype=np.int8).astype(bool)
                if len(self.hint)
                else np.zeros(0, dtype=bool),
            }
        )

    def tasks_frame(self) -> pd.DataFrame:
        if not self.inputs:
            return pd.DataFrame({"task_id": pd.Series(dtype="str")})
        names = list(dict.fromkeys(k for v in self.inputs.values() for k in v))
        data: dict[str, list] = {"task_id": list(self.inputs)}
        for k in names:
            data[k] = [self.to_label(v.get(k)) for v in self.inputs.values()]
        return pd.DataFrame(data)


def _known_from_tasks(
    client, pool_id: str, label_field: str, batch_size: int
) -> tuple[dict[str, str], set[str], set[str]]:
    """Golden label per task id, the training tasks, and those with several known solutions,
    read from the pool's tasks."""
    to_label = _Labels()
    golden: dict[str, str] = {}
    training: set[str] = set()
    several: set[str] = set()
    what = f"reading the tasks of pool {pool_id} for their known solutions"
    for t in _iterate(client, what, client.get_tasks(pool_id=str(pool_id), batch_size=batch_size)):
        if not getattr(t, "known_solutions", None):
            continue
        g, many = _golden(t, label_field, to_label)
        tid = _task_id(t, to_label)
        if many and tid is not None:
            several.add(tid)
        if g is not None and tid is not None:
            golden[tid] = g
            if getattr(t, "message_on_unknown_solution", None):
                training.add(tid)
    return golden, training, several


def _with_assignment_ids(err: ValidationError, frame: pd.DataFrame) -> ValidationError:
    """Name the assignments behind each problem: API rows have no line numbers to show."""
    ids = frame["assignment_id"].astype("str").to_numpy()
    problems = []
    for p in err.problems:
        if p.rows:
            idx = np.asarray(p.rows, dtype=np.int64) - 2  # build_run numbers row i as line i + 2
            idx = idx[(idx >= 0) & (idx < len(ids))]
            found = list(dict.fromkeys(str(x) for x in ids[idx]))
            shown = ", ".join(found[:5]) + (f" and {len(found) - 5:,} more" if len(found) > 5 else "")
            noun = "assignment" if len(found) == 1 else "assignments"
            p = dataclasses.replace(p, rows=(), message=f"{p.message} In {noun} {shown}.")
        problems.append(p)
    return ValidationError(problems)


def _pool_info(pool, kind: str, rules: tuple[dict, ...]) -> PoolInfo:
    mixer = getattr(pool, "mixer_config", None)
    per_suite = None
    if mixer is not None:
        per_suite = (
            sum(
                int(getattr(mixer, k, 0) or 0)
                for k in ("real_tasks_count", "golden_tasks_count", "training_tasks_count")
            )
            or None
        )
    overlap = getattr(getattr(pool, "defaults", None), "default_overlap_for_new_task_suites", None)
    status = _enum(getattr(pool, "status", None))
    return PoolInfo(
        pool_id=str(pool.id),
        name=str(getattr(pool, "private_name", "") or ""),
        kind=kind,
        reward_per_assignment=_number(getattr(pool, "reward_per_assignment", None)),
        overlap=int(overlap) if overlap is not None else None,
        tasks_per_suite=per_suite,
        rules=rules,
        opened_at=_stamp(getattr(pool, "last_started", None)),
        closed_at=_stamp(getattr(pool, "last_stopped", None)) if status in ("CLOSED", "ARCHIVED") else None,
    )


def _read_pool(
    client,
    pool_id: str,
    *,
    label_field: str | None,
    kind: str,
    fee_rate: float,
    fee_minimum: float,
    labels: Sequence[str] | None,
    batch_size: int,
    projects: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> _PoolRead:
    if kind not in POOL_KINDS:
        raise ValueError(f"The 'kind' parameter of read_pool must be one of {POOL_KINDS}. Got {kind!r} instead.")
    pool_id = str(pool_id).strip()
    file = f"Toloka pool {pool_id}"
    pool = _call(client, f"reading pool {pool_id}", client.get_pool, pool_id)
    projects = {} if projects is None else projects
    project_id = str(pool.project_id) if getattr(pool, "project_id", None) else None
    project = None
    if project_id is not None:
        if project_id not in projects:
            projects[project_id] = _call(
                client, f"reading project {project_id} of pool {pool_id}", client.get_project, project_id
            )
        project = projects[project_id]
    name, declared = _label_field(project, label_field, file)

    rows = _Rows(name)
    pending: list = []  # without an output spec: assignments held until an answer names the fields
    what = f"reading the assignments of pool {pool_id}"
    pages = client.get_assignments(pool_id=pool_id, status=list(ANSWER_STATUSES), batch_size=batch_size)
    n_read = 0
    for a in _iterate(client, what, pages):
        n_read += 1
        if progress is not None and n_read % PROGRESS_EVERY == 0:
            progress(pool_id, n_read)
        if name is not None:
            rows.add(a)
            continue
        pending.append(a)
        fields = list(dict.fromkeys(k for s in a.solutions or [] for k in (getattr(s, "output_values", None) or {})))
        if not fields:
            continue
        if len(fields) > 1:
            raise _problem(
                file,
                "the answers have several output fields: " + ", ".join(fields) + ".",
                f"name the one that holds the label with label_field= (CLI: --label-field {fields[0]}).",
            )
        name = fields[0]
        rows = _Rows(name)
        for b in pending:
            rows.add(b)
        pending = []
    for b in pending:
        rows.add(b)
    if progress is not None:
        progress(pool_id, n_read)
    frame = rows.frame()

    problems = ProblemList(file)
    mixer = getattr(pool, "mixer_config", None)
    mixes_known = kind == "exam" or bool(
        getattr(mixer, "golden_tasks_count", 0) or getattr(mixer, "training_tasks_count", 0)
    )
    several = set(rows.several_known)
    if len(frame) and name is not None and not rows.any_known and mixes_known:
        golden_map, training, several_t = _known_from_tasks(client, pool_id, name, TASK_BATCH)
        several |= several_t
        tids = frame["task_id"].astype("str")
        frame["golden"] = tids.map(golden_map).astype("category")
        frame["_hint"] = tids.isin(training).to_numpy()
    if several:
        problems.add(
            f"{len(several):,} control/training task(s) have several known solutions; the one with the "
            "highest correctness_weight is used as the golden label.",
            "nothing to do if that is the intended answer; metrics count only that label as correct.",
            column=f"assignment.tasks[].known_solutions[].output_values.{name}",
            severity="warning",
            count=len(several),
            values=sorted(several)[:10],
        )
    if _enum(getattr(pool, "status", None)) == "OPEN":
        problems.add(
            "the pool is still open: this is a snapshot of the answers submitted so far "
            "(suites being worked on are not included).",
            "import the pool again when it has closed for the final figures.",
            severity="warning",
        )

    has_golden = frame["golden"].notna().to_numpy()
    if kind == "exam":
        kinds = np.full(len(frame), KINDS.index("exam"), dtype=np.int8)
    elif kind == "training":
        kinds = np.full(len(frame), KINDS.index("training"), dtype=np.int8)
    else:
        kinds = np.where(
            frame["_hint"].to_numpy(),
            KINDS.index("training"),
            np.where(has_golden, KINDS.index("control"), KINDS.index("regular")),
        ).astype(np.int8)
    frame["kind"] = pd.Categorical.from_codes(kinds, categories=list(KINDS))
    frame = frame.drop(columns="_hint")

    columns = dict(API_FIELDS)
    if rows.task_ids_missing:
        columns["task_id"] = "assignment.tasks[].id (else input_values)"
    columns["label"] = (
        f"assignment.solutions[].output_values.{name}" if name else "assignment.solutions[].output_values"
    )
    columns["golden"] = (
        f"assignment.tasks[].known_solutions[].output_values.{name}" if name else "assignment.tasks[].known_solutions"
    )

    rules = _bound_history(pool_rules(pool), max(1, len(frame)))
    info = _pool_info(pool, kind, rules)
    project_name = str(getattr(project, "public_name", "") or "") if project is not None else ""
    instructions = getattr(pool, "public_instructions", None) or (
        getattr(project, "public_instructions", None) if project is not None else None
    )
    language = (
        getattr(getattr(project, "localization_config", None), "default_language", None)
        if project is not None
        else None
    )
    meta = RunMeta(
        project=project_name,
        pools=(info,),
        overlap=info.overlap if kind == "main" else None,
        instructions=instructions or None,
        language=str(language).lower() if language else None,
        label_field=name,
        source_files=(file,),
        extra={
            "toloka": {
                "api": _where(client),
                "project_id": project_id,
                "pools": {info.pool_id: _enum(getattr(pool, "status", None))},
            }
        },
    )
    pricing = Pricing(
        currency=CURRENCY,
        reward_per_assignment=info.reward_per_assignment,
        fee_rate=float(fee_rate),
        fee_minimum=float(fee_minimum),
    )
    try:
        run = build_run(
            frame,
            file=file,
            columns=columns,
            tasks=rows.tasks_frame(),
            pricing=pricing,
            meta=meta,
            labels=labels if labels is not None else declared,
            problems=problems,
        )
    except ValidationError as err:
        raise _with_assignment_ids(err, frame) from None
    return _PoolRead(run=run, pool=pool, project=project)


# --------------------------------------------------------------------------------------------
# restrictions


def _restrictions(client, reads: Sequence[_PoolRead]) -> pd.DataFrame:
    """The restrictions on the run's annotators: of its pools, their projects, and all projects.

    ``rule`` names the pool rule whose action's private comment the restriction carries (the
    restriction a rule creates has the comment set in the rule's action; the whole comment
    matching wins over one containing it), else ``manual``. ``pool_id`` is
    the restricted pool for POOL scope; for wider scopes, the pool whose rule created it when
    that is known, else empty (the restriction applies to every pool).
    """
    workers: set[str] = set()
    for r in reads:
        workers.update(str(w) for w in r.run.answers["worker_id"].cat.categories)
    comments: list[tuple[str, str, str]] = []  # (comment, rule type, pool id)
    for r in reads:
        info = r.run.meta.pools[0]
        comments += [(c, t, info.pool_id) for c, t in _rule_comments(info.rules)]
    searches: list[tuple[str, dict]] = []
    for r in reads:
        pid = str(r.pool.id)
        searches.append((f"reading the restrictions of pool {pid}", {"pool_id": pid}))
    for project_id in dict.fromkeys(str(r.pool.project_id) for r in reads if getattr(r.pool, "project_id", None)):
        searches.append((f"reading the restrictions of project {project_id}", {"project_id": project_id}))
    searches.append(("reading all-project restrictions", {"scope": "ALL_PROJECTS"}))

    seen: set[str] = set()
    rows = []
    for what, query in searches:
        for u in _iterate(client, what, client.get_user_restrictions(batch_size=RESTRICTION_BATCH, **query)):
            rid = str(getattr(u, "id", "") or "")
            if rid and rid in seen:
                continue
            seen.add(rid)
            worker = str(getattr(u, "user_id", "") or "")
            if worker not in workers:
                continue
            scope = _enum(getattr(u, "scope", None))
            comment = getattr(u, "private_comment", None)
            own_pool = str(u.pool_id) if scope == "POOL" and getattr(u, "pool_id", None) else None
            mine = [(c, t, p) for c, t, p in comments if comment and (own_pool is None or p == own_pool)]
            # the rule's comment as the whole restriction comment, else inside it
            matches = [(t, p) for c, t, p in mine if c == str(comment).strip()] or [
                (t, p) for c, t, p in mine if c in str(comment)
            ]
            rule = matches[0][0] if matches else "manual"
            pools = list(dict.fromkeys(p for _, p in matches))
            pool_id = own_pool or (pools[0] if len(pools) == 1 else None)
            rows.append(
                {
                    "worker_id": worker,
                    "scope": scope,
                    "pool_id": pool_id,
                    "reason": str(comment) if comment else None,
                    "rule": rule,
                    "created_at": _utc(getattr(u, "created", None)),
                    "expires_at": _utc(getattr(u, "will_expire", None)),
                }
            )
    if not rows:
        return empty_restrictions()
    frame = pd.DataFrame(rows)
    return restrictions_frame(frame.sort_values(["worker_id", "created_at"], kind="stable").reset_index(drop=True))


# --------------------------------------------------------------------------------------------
# public readers


def read_pool(
    client,
    pool_id: str,
    *,
    label_field: str | None = None,
    kind: str = "main",
    fee_rate: float = DEFAULT_FEE_RATE,
    fee_minimum: float = DEFAULT_FEE_MINIMUM,
    labels: Sequence[str] | None = None,
    batch_size: int = ASSIGNMENT_BATCH,
    progress: Progress | None = None,
) -> Run:
    """One pool's answers, tasks, rules and restrictions as a validated run.

    One answer row per task of each assignment (SUBMITTED, ACCEPTED, REJECTED, SKIPPED,
    EXPIRED; skipped and expired suites carry no label). A task with known solutions is a
    control task with that golden label; one with a hint (``message_on_unknown_solution``) is a
    training task, whose label is the annotator's first answer (``first_declined_solution_attempt``
    where Toloka recorded one, else the final answer). ``kind`` is the pool's role (main, exam,
    training, reannotation): every answer of an exam pool is an exam answer. Times are UTC
    (``assignment.created`` as started, ``assignment.submitted``); rewards are in USD.

    ``label_field`` names the output field holding the label (required when the project has
    several); the field's allowed values, when the project declares them, are the label set in
    their declared order unless ``labels`` is given. ``batch_size`` is the assignments asked
    for per request; ``progress(pool_id, assignments_read)`` is called every
    :data:`PROGRESS_EVERY` assignments and once when the pool is read. Raises ValidationError
    (the same checks as for files, naming API fields and assignment ids) or TolokaAPIError.
    """
    read = _read_pool(
        client,
        pool_id,
        label_field=label_field,
        kind=kind,
        fee_rate=fee_rate,
        fee_minimum=fee_minimum,
        labels=labels,
        batch_size=batch_size,
        progress=progress,
    )
    return dataclasses.replace(read.run, restrictions=_restrictions(client, [read]))


def read_project(
    client,
    pool_ids: Sequence[str],
    exam_pool_ids: Sequence[str] = (),
    *,
    label_field: str | None = None,
    fee_rate: float = DEFAULT_FEE_RATE,
    fee_minimum: float = DEFAULT_FEE_MINIMUM,
    labels: Sequence[str] | None = None,
    batch_size: int = ASSIGNMENT_BATCH,
    progress: Progress | None = None,
) -> Run:
    """Several pools (main pools, and exam pools marked ``kind="exam"``) merged into one run.

    Each pool is validated on its own; the problems of all pools are reported together.
    Restrictions are read once for all pools and projects. The first pool's project names the
    run; its label set (declared or seen) sets the tie order. Other parameters as
    :func:`read_pool`.
    """
    pool_ids = [str(p).strip() for p in pool_ids]
    exam_pool_ids = [str(p).strip() for p in exam_pool_ids]
    if not pool_ids and not exam_pool_ids:
        raise ValueError("The 'pool_ids' parameter of read_project must name at least one pool. Got none.")
    both = sorted(set(pool_ids) & set(exam_pool_ids))
    if both:
        raise ValueError(
            f"A pool cannot be both a main and an exam pool of read_project. Got {', '.join(both)} in both."
        )
    projects: dict[str, Any] = {}
    reads: list[_PoolRead] = []
    problems: list[Problem] = []
    jobs = [(p, "main") for p in dict.fromkeys(pool_ids)] + [(p, "exam") for p in dict.fromkeys(exam_pool_ids)]
    for pid, kind in jobs:
        try:
            reads.append(
                _read_pool(
                    client,
                    pid,
                    label_field=label_field,
                    kind=kind,
                    fee_rate=fee_rate,
                    fee_minimum=fee_minimum,
                    labels=labels,
                    batch_size=batch_size,
                    projects=projects,
                    progress=progress,
                )
            )
        except ValidationError as err:
            problems += err.problems
    if problems:
        raise ValidationError(problems)
    runs = [r.run for r in reads]
    first = runs[0].meta
    main_overlap = next((p.overlap for r in runs for p in r.meta.pools if p.kind == "main" and p.overlap), None)
    extra = {
        "toloka": {
            "api": _where(client),
            "project_ids": list(projects),
            "pools": {k: v for r in runs for k, v in r.meta.extra.get("toloka", {}).get("pools", {}).items()},
        }
    }
    meta = dataclasses.replace(first, pools=(), overlap=main_overlap, extra=extra)
    pricing = Pricing(
        currency=CURRENCY, reward_per_assignment=None, fee_rate=float(fee_rate), fee_minimum=float(fee_minimum)
    )
    merged = merge_runs(runs, meta=meta, pricing=pricing, file=", ".join(f"Toloka pool {p}" for p, _ in jobs))
    return dataclasses.replace(merged, restrictions=_restrictions(client, reads))


def label_fields(client, pool_id: str) -> list[str]:
    """The output fields of a pool's project (for a label-field picker)."""
    pool = _call(client, f"reading pool {pool_id}", client.get_pool, str(pool_id))
    project = _call(client, f"reading project {pool.project_id}", client.get_project, str(pool.project_id))
    return list(getattr(getattr(project, "task_spec", None), "output_spec", None) or {})


def import_from_toloka(
    workspace,
    pool_ids: Sequence[str],
    exam_pool_ids: Sequence[str] = (),
    name: str = "",
    version: str = "",
    parents: Sequence[str] = (),
    token: str | None = None,
    url: str | None = None,
    *,
    environment: str | None = None,
    label_field: str | None = None,
    fee_rate: float = DEFAULT_FEE_RATE,
    fee_minimum: float = DEFAULT_FEE_MINIMUM,
    labels: Sequence[str] | None = None,
    progress: Progress | None = None,
    client=None,
):
    """Read pools from Toloka and store them as a new version of ``workspace``; returns its VersionInfo.

    The name and version are checked before anything is downloaded. The version's metadata
    records the API, the pools and their statuses at import time (never the token). ``client``
    replaces ``token`` / ``url`` / ``environment`` (an already made client); other parameters
    as :func:`read_project`.
    """
    if not name or not str(name).strip():
        raise ValueError(
            "The 'name' parameter of import_from_toloka must be a non-empty string. Got an empty name instead."
        )
    if not version or not str(version).strip():
        raise ValueError(
            "The 'version' parameter of import_from_toloka must be a non-empty string such as '1.0.0'. Got an empty version instead."
        )
    listing = workspace.listing()
    if any(v.name == str(name).strip() and v.version == str(version).strip() for v in listing.versions):
        raise ValueError(
            f"a version {name} {version} already exists in {workspace.root}; versions are immutable, choose a new version number."
        )
    unknown = [p for p in parents if p not in listing.by_id()]
    if unknown:
        raise KeyError(
            f"parent version {unknown[0]!r} is not in the workspace {workspace.root}; nothing was downloaded."
        )
    client = client or make_client(token=token, environment=environment, url=url)
    run = read_project(
        client,
        pool_ids,
        exam_pool_ids,
        label_field=label_field,
        fee_rate=fee_rate,
        fee_minimum=fee_minimum,
        labels=labels,
        progress=progress,
    )
    toloka = dict(run.meta.extra.get("toloka", {}))
    metadata = {
        "source": "Toloka API",
        "toloka_api": _where(client),
        "pool_ids": [str(p) for p in pool_ids],
        "exam_pool_ids": [str(p) for p in exam_pool_ids],
        "pool_statuses": toloka.get("pools", {}),
        "imported_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
    return workspace.add_version(run, name=name, version=version, parents=parents, metadata=metadata)


# --------------------------------------------------------------------------------------------
# live progress


@dataclass(frozen=True)
class PoolProgress:
    """Where a running pool stands.

    ``submitted_assignments`` counts suites handed in (SUBMITTED + ACCEPTED + REJECTED);
    ``total_assignments`` is the suites the pool needs (Toloka's estimate, else
    ceil(general tasks / general tasks per suite) × overlap), None when unknown;
    ``percent_done`` is Toloka's completion percentage (share of general tasks done), else
    submitted / total × 100. ``workers`` counts annotators who submitted at least one suite;
    ``active_workers`` those who submitted in the last ``window_hours``, and ``rate_per_hour``
    the suites submitted per hour over that window. ``spent_rewards`` is what Toloka reports
    spent on rewards (fee excluded), ``spent_total`` adds ``fee_rate`` of it. ``estimated_finish``
    = ``as_of`` + remaining suites / rate, None for a closed pool or without recent
    submissions (``notes`` says why). ``source`` is ``analytics`` (Toloka's pool analytics) or
    ``assignments`` (counted from the assignments, when analytics are unavailable).
    """

    pool_id: str
    name: str
    status: str | None
    submitted_assignments: int
    total_assignments: int | None
    percent_done: float | None
    by_status: Mapping[str, int]
    workers: int | None
    active_workers: int
    window_hours: float
    rate_per_hour: float
    spent_rewards: float | None
    spent_total: float | None
    currency: str
    estimated_finish: pd.Timestamp | None
    as_of: pd.Timestamp
    source: str
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("estimated_finish", "as_of"):
            d[k] = None if d[k] is None else pd.Timestamp(d[k]).isoformat()
        d["by_status"] = dict(self.by_status)
        return d


# the pool analytics asked for (at most 10 per request, as get_analytics allows)
_ANALYTICS = (
    "submitted_assignments_count",
    "approved_assignments_count",
    "rejected_assignments_count",
    "skipped_assignments_count",
    "completion_percentage",
    "spent_budget",
    "unique_submitters_count",
    "real_tasks_count",
    "estimated_assignments_count",
)


def _analytics_value(result) -> float | None:
    # counts come as numbers; completion_percentage and estimated_assignments_count as {"value": x}
    if isinstance(result, dict):
        result = result.get("value")
    return _number(result) if result is not None else None


def _pool_analytics(client, pool_id: str, timeout: float) -> tuple[dict[str, float | None] | None, str]:
    """Toloka's pool analytics by name, or None and why they are unavailable."""
    from toloka.client import analytics_request as ar

    classes = {
        "submitted_assignments_count": ar.SubmittedAssignmentsCountPoolAnalytics,
        "approved_assignments_count": ar.ApprovedAssignmentsCountPoolAnalytics,
        "rejected_assignments_count": ar.RejectedAssignmentsCountPoolAnalytics,
        "skipped_assignments_count": ar.SkippedAssignmentsCountPoolAnalytics,
        "completion_percentage": ar.CompletionPercentagePoolAnalytics,
        "spent_budget": ar.SpentBudgetPoolAnalytics,
        "unique_submitters_count": ar.UniqueSubmittersCountPoolAnalytics,
        "real_tasks_count": ar.RealTasksCountPoolAnalytics,
        "estimated_assignments_count": ar.EstimatedAssignmentsCountPoolAnalytics,
    }
    requests = [classes[n](subject_id=str(pool_id)) for n in _ANALYTICS]
    try:
        op = client.get_analytics(requests)
        op = client.wait_operation(op, timeout=dt.timedelta(seconds=timeout), disable_progress=True)
    except TimeoutError:
        return None, f"Toloka's pool analytics did not finish within {timeout:g} s"
    except _failures() as err:
        return None, str(_api_error(err, client, f"asking for the analytics of pool {pool_id}"))
    if _enum(op.status) != "SUCCESS":
        return None, f"Toloka's pool analytics operation ended with status {_enum(op.status)}"
    values: dict[str, float | None] = {}
    details = op.details if isinstance(op.details, dict) else {}
    for item in details.get("value", []) or []:
        req = item.get("request") or {}
        values[str(req.get("name"))] = _analytics_value(item.get("result"))
    return values, ""


def _suites_needed(pool, real_tasks: float | None) -> int | None:
    mixer = getattr(pool, "mixer_config", None)
    per_suite = int(getattr(mixer, "real_tasks_count", 0) or 0) if mixer is not None else 0
    overlap = getattr(getattr(pool, "defaults", None), "default_overlap_for_new_task_suites", None)
    if real_tasks is None or per_suite <= 0 or not overlap:
        return None
    return int(math.ceil(real_tasks / per_suite) * int(overlap))


def pool_progress(
    client,
    pool_id: str,
    *,
    now: dt.datetime | pd.Timestamp | None = None,
    window_hours: float = 1.0,
    fee_rate: float = DEFAULT_FEE_RATE,
    analytics_timeout: float = 60.0,
) -> PoolProgress:
    """Live figures of a pool: status, suites submitted of those needed, percent done, active
    annotators, spend so far and an estimated finish.

    From Toloka's pool analytics (``get_analytics`` → an ANALYTICS operation, waited for) plus
    the assignments submitted in the last ``window_hours`` (active annotators and the current
    rate). Where analytics are unavailable (an account without access, a failed or slow
    operation), every assignment of the pool is counted instead and the number of suites needed
    is estimated from the pool's general tasks; ``source`` and ``notes`` say so.
    """
    if window_hours <= 0:
        raise ValueError(
            f"The 'window_hours' parameter of pool_progress must be a positive number of hours. Got {window_hours!r} instead."
        )
    pool_id = str(pool_id).strip()
    as_of = pd.Timestamp.now(tz="UTC") if now is None else _utc(now)
    since = (as_of - pd.Timedelta(hours=window_hours)).to_pydatetime()
    pool = _call(client, f"reading pool {pool_id}", client.get_pool, pool_id)
    status = _enum(getattr(pool, "status", None))
    notes: list[str] = []

    values, why = _pool_analytics(client, pool_id, analytics_timeout)
    if values is not None:
        source = "analytics"
        # submitted_assignments_count counts SUBMITTED, ACCEPTED and REJECTED suites together
        done = int(values.get("submitted_assignments_count") or 0)
        accepted = int(values.get("approved_assignments_count") or 0)
        rejected = int(values.get("rejected_assignments_count") or 0)
        by_status = {
            "SUBMITTED": max(0, done - accepted - rejected),
            "ACCEPTED": accepted,
            "REJECTED": rejected,
            "SKIPPED": int(values.get("skipped_assignments_count") or 0),
        }
        total = values.get("estimated_assignments_count")
        total = int(total) if total is not None else _suites_needed(pool, values.get("real_tasks_count"))
        percent = values.get("completion_percentage")
        workers = values.get("unique_submitters_count")
        workers = int(workers) if workers is not None else None
        spent = values.get("spent_budget")
        recent = _iterate(
            client,
            f"reading the recent assignments of pool {pool_id}",
            client.get_assignments(pool_id=pool_id, submitted_gte=since, batch_size=ASSIGNMENT_BATCH),
        )
        recent_workers: set[str] = set()
        recent_suites = 0
        for a in recent:
            recent_suites += 1
            if a.user_id:
                recent_workers.add(str(a.user_id))
    else:
        source = "assignments"
        notes.append(f"Pool analytics unavailable ({why}); figures are counted from the assignments.")
        counts = {s: 0 for s in ("ACTIVE",) + ANSWER_STATUSES}
        submitters: set[str] = set()
        recent_workers = set()
        recent_suites = 0
        spent = 0.0
        since_ns = _ns(since)
        for a in _iterate(
            client,
            f"counting the assignments of pool {pool_id}",
            client.get_assignments(pool_id=pool_id, batch_size=ASSIGNMENT_BATCH),
        ):
            st = _enum(a.status) or ""
            counts[st] = counts.get(st, 0) + 1
            if st in DONE_STATUSES and a.user_id:
                submitters.add(str(a.user_id))
            if st in PAID_STATUSES and a.reward is not None:
                spent += float(a.reward)
            if a.submitted is not None and _ns(a.submitted) >= since_ns:
                recent_suites += 1
                if a.user_id:
                    recent_workers.add(str(a.user_id))
        by_status = counts
        done = sum(counts.get(s, 0) for s in DONE_STATUSES)
        regular = sum(
            1
            for t in _iterate(
                client,
                f"counting the tasks of pool {pool_id}",
                client.get_tasks(pool_id=pool_id, batch_size=TASK_BATCH),
            )
            if not getattr(t, "known_solutions", None)
        )
        total = _suites_needed(pool, regular)
        percent = None
        workers = len(submitters)
    if percent is None and total:
        percent = min(100.0, 100.0 * done / total)
    rate = recent_suites / window_hours
    finish = None
    if status in ("CLOSED", "ARCHIVED"):
        notes.append(f"The pool is {status.lower()}: no finish to estimate.")
    elif total is None:
        notes.append("The number of suites the pool needs is unknown, so no finish can be estimated.")
    elif done >= total:
        finish = as_of
    elif rate <= 0:
        notes.append(f"No suite was submitted in the last {window_hours:g} h, so no finish can be estimated.")
    else:
        finish = as_of + pd.Timedelta(hours=(total - done) / rate)
    spent_rewards = None if spent is None else round(float(spent), 6)
    return PoolProgress(
        pool_id=pool_id,
        name=str(getattr(pool, "private_name", "") or ""),
        status=status,
        submitted_assignments=int(done),
        total_assignments=total,
        percent_done=None if percent is None else float(percent),
        by_status=by_status,
        workers=workers,
        active_workers=len(recent_workers),
        window_hours=float(window_hours),
        rate_per_hour=float(rate),
        spent_rewards=spent_rewards,
        spent_total=None if spent_rewards is None else round(spent_rewards * (1.0 + fee_rate), 6),
        currency=CURRENCY,
        estimated_finish=finish,
        as_of=as_of,
        source=source,
        notes=tuple(notes),
    )


__all__ = [
    "DEFAULT_FEE_RATE",
    "PoolProgress",
    "TolokaAPIError",
    "TolokaConfigError",
    "import_from_toloka",
    "label_fields",
    "make_client",
    "pool_progress",
    "pool_rules",
    "read_pool",
    "read_project",
]
