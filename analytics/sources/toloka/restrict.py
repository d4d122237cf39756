"""Setting and lifting a user restriction in Toloka, each change made at most once.

``PUT /api/v1/user-restrictions`` creates a new restriction every time it is carried out, so a
request whose answer never arrived (a timeout, a dropped connection, a 5xx from a proxy) may
have been carried out. :func:`set_restriction` therefore sends with the client's own retries
switched off, and after an unclear failure looks the restriction up (by the marker in its private
comment) before it tries again; a refusal (4xx) is final. :func:`lift_restriction` does the same
for ``DELETE /api/v1/user-restrictions/{id}``: after an unclear failure it asks whether the
restriction is still there; one already gone counts as lifted. Bodies are toloka-kit's
``UserRestriction`` models as ``TolokaClient.set_user_restriction`` sends them
(``toloka.client.unstructure``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterator

from analytics.sources.toloka.client import DEFAULT_RETRY, _GaveUp, api_error, failures, iterate

SCOPES = ("POOL", "PROJECT", "ALL_PROJECTS")  # what a requester may set (SYSTEM is Toloka's own)
PATH = "/api/v1/user-restrictions"


@dataclass(frozen=True)
class Outcome:
    """What came of one change: ``applied`` (``answer``: Toloka's restriction, or None for a lift)
    or not, with the ``reason``; ``attempts`` requests sent; ``confirmed_by_lookup`` where an
    unclear failure was settled by reading the restriction back."""

    applied: bool
    answer: Any = None
    reason: str = ""
    attempts: int = 0
    confirmed_by_lookup: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def restriction_body(
    worker_id: str,
    scope: str,
    comment: str,
    *,
    pool_id: str | None = None,
    project_id: str | None = None,
    will_expire: dt.datetime | None = None,
) -> dict[str, Any]:
    """The JSON toloka-kit's ``set_user_restriction`` sends for this restriction (its model, unstructured)."""
    from toloka.client import unstructure
    from toloka.client.user_restriction import (
        AllProjectsUserRestriction,
        PoolUserRestriction,
        ProjectUserRestriction,
    )

    scope = str(scope).upper()
    if scope not in SCOPES:
        raise ValueError(f"The 'scope' of a restriction must be one of {SCOPES}. Got {scope!r} instead.")
    common: dict[str, Any] = {"user_id": str(worker_id), "private_comment": str(comment)}
    if will_expire is not None:
        common["will_expire"] = will_expire.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if scope == "POOL":
        if not pool_id:
            raise ValueError("A POOL restriction needs the pool id.")
        model = PoolUserRestriction(pool_id=str(pool_id), **common)
    elif scope == "PROJECT":
        if not project_id:
            raise ValueError("A PROJECT restriction needs the project id.")
        model = ProjectUserRestriction(project_id=str(project_id), **common)
    else:
        model = AllProjectsUserRestriction(**common)
    return unstructure(model)


def restriction_model(body: dict[str, Any]):
    """toloka-kit's UserRestriction for a body of :func:`restriction_body`."""
    from toloka.client import structure
    from toloka.client.user_restriction import UserRestriction

    return structure(dict(body), UserRestriction)


def _plain(obj: Any) -> Any:
    from toloka.client import unstructure

    return unstructure(obj)


def user_restrictions(client, worker_id: str) -> list[dict[str, Any]]:
    """Every restriction Toloka holds on one annotator (unstructured), oldest id first."""
    what = f"reading the restrictions of annotator {worker_id}"
    found = iterate(client, what, client.get_user_restrictions(user_id=str(worker_id), batch_size=500))
    return [_plain(u) for u in found]


@contextlib.contextmanager
def _single_tries(client) -> Iterator[Any]:
    """The client's retry policy with one attempt per request, for the duration (restored after)."""
    policy = getattr(client, "retry_policy", DEFAULT_RETRY)
    client.retry_policy = dataclasses.replace(policy, attempts=1)
    try:
        yield policy
    finally:
        client.retry_policy = policy


def _unclear(err: BaseException) -> bool:
    """A failure after which the request may or may not have been carried out."""
    import httpx
    from toloka.client.exceptions import ApiError

    if isinstance(err, (_GaveUp, httpx.TimeoutException, httpx.NetworkError)):
        return True
    return isinstance(err, ApiError) and (err.status_code or 0) >= 500


def _try(client, what: str, fn, *args) -> tuple[Any, BaseException | None]:
    try:
        return fn(*args), None
    except failures() as err:
        return None, err


def _find_marked(client, worker_id: str, marker: str) -> dict | None:
    return next(
        (r for r in user_restrictions(client, worker_id) if marker in str(r.get("private_comment") or "")), None
    )


def set_restriction(client, body: dict[str, Any], marker: str, *, look_first: bool = False) -> Outcome:
    """Send ``body`` (set_user_restriction) once: after an unclear failure, or first with
    ``look_first`` (an earlier attempt's outcome is unknown), the annotator's restrictions are
    read and one whose private comment holds ``marker`` means it is set already. A 4xx is final.
    Retries wait as the client's RetryPolicy says (at most ``attempts`` requests)."""
    if marker not in str(body.get("private_comment") or ""):
        raise ValueError("the restriction's private comment must hold the marker that identifies it")
    model = restriction_model(body)
    worker = str(body["user_id"])
    what = f"setting a restriction on annotator {worker}"
    sent = 0
    with _single_tries(client) as policy:
        if look_first:
            found, err = _try(client, what, _find_marked, client, worker, marker)
            if err is not None:
                return Outcome(False, reason=_reason(err, client, what, "it was not sent again"), attempts=0)
            if found is not None:
                return Outcome(True, found, "set already (found by its marker)", 0, True)
        for attempt in range(1, policy.attempts + 1):
            answer, err = _try(client, what, client.set_user_restriction, model)
            sent += 1
            if err is None:
                return Outcome(True, _plain(answer), "", sent)
            if not _unclear(err):
                return Outcome(False, reason=_reason(err, client, what, "Toloka refused it"), attempts=sent)
            found, lookup_err = _try(client, what, _find_marked, client, worker, marker)
            if lookup_err is not None:
                why = "its outcome could not be checked, so it was not sent again (look in Toloka before retrying)"
                return Outcome(False, reason=_reason(err, client, what, why), attempts=sent)
            if found is not None:
                return Outcome(True, found, f"carried out although the answer was lost ({_short(err)})", sent, True)
            if attempt < policy.attempts:
                policy.sleep(policy.wait(attempt, None))
    return Outcome(False, reason=_reason(err, client, what, f"gave up after {sent} attempt(s)"), attempts=sent)


def lift_restriction(client, restriction_id: str) -> Outcome:
    """Delete restriction ``restriction_id``; after an unclear failure, read it back (gone: lifted).
    A restriction that does not exist (404) counts as lifted: it is not in force."""
    from toloka.client.exceptions import ApiError

    rid = str(restriction_id)
    what = f"lifting restriction {rid}"
    sent = 0
    with _single_tries(client) as policy:
        for attempt in range(1, policy.attempts + 1):
            _, err = _try(client, what, client.delete_user_restriction, rid)
            sent += 1
            if err is None:
                return Outcome(True, {"id": rid, "lifted": True}, "", sent)
            if isinstance(err, ApiError) and err.status_code == 404:
                return Outcome(True, {"id": rid, "lifted": True}, "it did not exist (lifted already)", sent)
            if not _unclear(err):
                return Outcome(False, reason=_reason(err, client, what, "Toloka refused it"), attempts=sent)
            _, lookup_err = _try(client, what, client.get_user_restriction, rid)
            if isinstance(lookup_err, ApiError) and lookup_err.status_code == 404:
                return Outcome(True, {"id": rid, "lifted": True}, f"carried out ({_short(err)})", sent, True)
            if lookup_err is not None and not _unclear(lookup_err):
                return Outcome(False, reason=_reason(lookup_err, client, what, "not retried"), attempts=sent)
            if attempt < policy.attempts:
                policy.sleep(policy.wait(attempt, None))
    return Outcome(False, reason=_reason(err, client, what, f"gave up after {sent} attempt(s)"), attempts=sent)


def _short(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:200]


def _reason(err: BaseException, client, what: str, then: str) -> str:
    return f"{api_error(err, client, what)} ({then})"
