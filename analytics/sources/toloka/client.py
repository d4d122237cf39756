"""The toloka-kit client crowdlens uses: settings, bounded retries, and errors a user can act on.

toloka-kit 1.2.3 retries 429 / 5xx answers through tenacity, and its wait callback returns the
retry state instead of a number when the answer carries ``Retry-After``
(``toloka/client/primitives/retry.py``, ``GetBackoffTime``), so a throttled request dies with
``TypeError: float() argument must be ... 'RetryCallState'``. :func:`make_client` therefore
switches toloka-kit's retries off (``retryer_factory`` giving a urllib3 ``Retry`` that never
retries) and sends each request through :func:`_send`, which retries 429 (any method) and 5xx
or a failed connection (idempotent methods only) with a bounded backoff that honours
``Retry-After`` (:class:`RetryPolicy`).

Every failure reaches the caller as :class:`TolokaAPIError` with what was being done, the
endpoint, and what to check; a 200 whose body has the wrong shape (not JSON, a missing field, a
wrong type) names the endpoint and what is wrong. The token is handed to toloka-kit and to
nothing else: messages go through :func:`analytics.settings.scrub`, and toloka-kit's exceptions
(which hold the request with its Authorization header) are never chained to ours.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import json
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from analytics import settings
from analytics.settings import ENVIRONMENT_VARIABLE, TOKEN_VARIABLE, URL_VARIABLE

ENVIRONMENTS = ("PRODUCTION", "SANDBOX")
# answers worth another try: throttled, or the service (or a proxy before it) failing
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# methods whose repetition cannot do anything twice (a 429 was not processed: any method)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# searches answer {"items": [...], "has_more": bool}
SEARCH_SHAPE = '{"items": [...], "has_more": true|false}'


class TolokaAPIError(RuntimeError):
    """Toloka could not be reached, refused a request or answered something unreadable; the
    message says what was being done and what to check.

    It never contains the token, and toloka-kit's exception (which holds the request with its
    Authorization header) is not chained to it.
    """


class TolokaConfigError(ValueError):
    """No token, or an environment / URL that cannot be used."""


@dataclass(frozen=True)
class RetryPolicy:
    """How a client from :func:`make_client` retries a request.

    ``attempts`` is the number of tries in all (the first and the retries). Before retry *k*
    (1, 2, ...) it waits the answer's ``Retry-After`` when there is one, else ``backoff`` ×
    2^(k-1) seconds; a single wait is at most ``max_wait`` seconds, and it gives up (with a
    :class:`TolokaAPIError` saying so) rather than wait more than ``budget`` seconds in all.
    ``sleep`` is the function that waits (tests pass one that only records).
    """

    attempts: int = 4
    backoff: float = 0.5
    max_wait: float = 30.0
    budget: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def __post_init__(self):
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or self.attempts < 1:
            raise ValueError(
                f"The 'attempts' parameter of RetryPolicy must be an int >= 1. Got {self.attempts!r} instead."
            )
        for name in ("backoff", "max_wait", "budget"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(
                    f"The '{name}' parameter of RetryPolicy must be a number of seconds >= 0. Got {value!r} instead."
                )

    def wait(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        wanted = retry_after if retry_after is not None else self.backoff * 2 ** (retry - 1)
        return min(max(0.0, float(wanted)), float(self.max_wait))


DEFAULT_RETRY = RetryPolicy()


# --------------------------------------------------------------------------------------------
# making the client


def make_client(
    token: str | None = None,
    environment: str | None = None,
    url: str | None = None,
    *,
    timeout: float = 30.0,
    retry: RetryPolicy | None = None,
):
    """A ``toloka.client.TolokaClient`` for ``environment`` (PRODUCTION / SANDBOX) or ``url``.

    ``token``, ``url`` and ``environment`` follow :mod:`analytics.settings` (an argument, else
    ``$TOLOKA_TOKEN`` / ``$TOLOKA_URL`` / ``$TOLOKA_ENVIRONMENT``, else the secrets files; without
    a URL or an environment, PRODUCTION). Passing both ``environment`` and ``url`` is an error.
    ``retry`` replaces the default :class:`RetryPolicy`.
    """
    if environment is not None and url is not None:
        raise TolokaConfigError(
            "The 'environment' and 'url' parameters of make_client exclude each other (toloka-kit "
            f"takes one). Got environment={environment!r} and url={url!r}."
        )
    token = token.strip() if token is not None else (settings.setting(TOKEN_VARIABLE).value or "")
    if not token:
        raise TolokaConfigError(
            f"No Toloka token: set the {TOKEN_VARIABLE} environment variable, or put "
            f'{TOKEN_VARIABLE} = "..." in {settings.secrets_files_text()} for the dashboard (that file is '
            "never committed)."
        )
    chosen = settings.toloka(url=url, environment=environment)
    cls = _client_class()
    options = {"timeout": timeout, "retryer_factory": _no_toloka_kit_retries}
    if chosen.url.value:
        url = chosen.url.value
        if not url.startswith(("http://", "https://")):
            raise TolokaConfigError(
                f"The Toloka URL ({URL_VARIABLE} or url=) must start with http:// or https://. Got {url!r} instead."
            )
        client = cls(token, url=url, **options)
    else:
        env = str(chosen.environment.value).strip().upper()
        if env not in ENVIRONMENTS:
            raise TolokaConfigError(
                f"The Toloka environment ({ENVIRONMENT_VARIABLE} or environment=) must be one of "
                f"{', '.join(ENVIRONMENTS)}. Got {chosen.environment.value!r} instead."
            )
        client = cls(token, environment=env, **options)
    client.retry_policy = retry or DEFAULT_RETRY
    return client


def _no_toloka_kit_retries():
    """A urllib3 Retry under which toloka-kit's tenacity adapter never retries (nor waits)."""
    from urllib3.util.retry import Retry

    return Retry(total=0, status_forcelist=(), respect_retry_after_header=False, raise_on_status=False)


@functools.lru_cache(maxsize=1)
def _client_class():
    from toloka.client import TolokaClient

    class CrowdlensTolokaClient(TolokaClient):
        """toloka-kit's client with crowdlens' retries (see :func:`_send`) in place of its own."""

        retry_policy: RetryPolicy = DEFAULT_RETRY

        def _do_request_with_retries(self, method, path, **kwargs):
            return _send(self, method, path, kwargs)

    return CrowdlensTolokaClient


# --------------------------------------------------------------------------------------------
# one request, retried


_LAST = threading.local()  # the request being sent, per thread, to name it in messages


def last_endpoint() -> str | None:
    """``METHOD /path`` of the last request this thread sent through a crowdlens client."""
    return getattr(_LAST, "endpoint", None)


class _GaveUp(Exception):
    """Retries used up; holds what the last answer was (never the request or its headers)."""

    def __init__(self, detail: str, attempts: int, waited: float, retry_after: float | None, throttled: bool):
        super().__init__(detail)
        self.detail, self.attempts, self.waited = detail, attempts, waited
        self.retry_after, self.throttled = retry_after, throttled


class _BadAnswer(Exception):
    """An error status whose body is not Toloka's JSON error (e.g. a proxy's HTML page)."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"HTTP {status} {reason}".strip())
        self.status = status


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as seconds from now; None if absent or unreadable."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        seconds = (when - (now or dt.datetime.now(dt.timezone.utc))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _send(client, method: str, path: str, kwargs: dict):
    """One request with the client's :class:`RetryPolicy`; toloka-kit's errors for other answers."""
    import httpx
    from toloka.client.exceptions import raise_on_api_error

    policy: RetryPolicy = getattr(client, "retry_policy", DEFAULT_RETRY)
    verb = str(method).upper()
    _LAST.endpoint = f"{verb} {path}"
    waited = 0.0
    for attempt in range(1, policy.attempts + 1):
        retry_after = None
        try:
            response = client._session.request(method, path, **kwargs)
        except (httpx.TimeoutException, httpx.NetworkError) as err:
            if verb not in IDEMPOTENT_METHODS:
                raise
            detail, throttled = f"{type(err).__name__}: {err}", False
        else:
            status = response.status_code
            if status not in RETRY_STATUSES or (status != 429 and verb not in IDEMPOTENT_METHODS):
                _raise_on_error(response, raise_on_api_error)
                return response
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            detail, throttled = f"HTTP {status} {response.reason_phrase}".strip(), status == 429
        if attempt == policy.attempts:
            break
        delay = policy.wait(attempt, retry_after)
        if waited + delay > policy.budget:
            break
        policy.sleep(delay)
        waited += delay
    raise _GaveUp(detail, attempt, waited, retry_after, throttled)


def _raise_on_error(response, raise_on_api_error) -> None:
    if 200 <= response.status_code < 300:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "code" not in body:
        raise _BadAnswer(response.status_code, response.reason_phrase)
    raise_on_api_error(response)


# --------------------------------------------------------------------------------------------
# errors in the user's words


def where(client) -> str:
    """The API a client talks to (its URL), for messages."""
    return str(getattr(client, "url", "") or "Toloka")


def scrub(text: str, client) -> str:
    """``text`` without any secret, the client's token included."""
    return settings.scrub(text, getattr(client, "token", None))


def _endpoint_text() -> str:
    endpoint = last_endpoint()
    return f" ({endpoint})" if endpoint else ""


def _gave_up_text(err: _GaveUp, client, what: str) -> str:
    policy: RetryPolicy = getattr(client, "retry_policy", DEFAULT_RETRY)
    asked = f"; it asked to wait {err.retry_after:g} s (Retry-After)" if err.retry_after is not None else ""
    lead = (
        f"Toloka at {where(client)} kept refusing requests as too many (HTTP 429)"
        if err.throttled
        else f"Toloka at {where(client)} kept failing ({err.detail})"
    )
    return (
        f"{lead} while {what}{_endpoint_text()}: gave up after {err.attempts} attempt(s) and {err.waited:g} s of "
        f"waiting{asked} (waits are capped at {policy.max_wait:g} s each, {policy.budget:g} s in all). "
        + (
            "Try again in a few minutes; the account's request quota may be used up."
            if err.throttled
            else "Toloka or the network may be down: try again later, and check "
            f"{URL_VARIABLE} / {ENVIRONMENT_VARIABLE}."
        )
    )


def _api_error_text(err, client, what: str) -> str:
    status, code = err.status_code, err.code or ""
    detail = f"HTTP {status}{' ' + code if code else ''}" + (f": {err.message}" if err.message else "")
    at = where(client)
    if status == 401 or code in ("AUTHENTICATION_ERROR", "OAUTH_AUTHENTICATION_ERROR"):
        return (
            f"Toloka at {at} rejected the token while {what} ({detail}). Check that "
            f"{TOKEN_VARIABLE} (or {TOKEN_VARIABLE} in .streamlit/secrets.toml) holds a current OAuth "
            "token or API key of this environment: sandbox and production tokens differ "
            f"({ENVIRONMENT_VARIABLE}=SANDBOX for the sandbox)."
        )
    if status == 403 or code in ("ACCESS_DENIED", "ENTITY_ACCESS_DENIED"):
        return (
            f"Toloka at {at} denied access while {what} ({detail}). The token's account may not "
            "see this object: use the owner's token, or ask the owner for shared access."
        )
    if status == 404 or code in ("DOES_NOT_EXIST", "ENTITY_DOES_NOT_EXIST"):
        return (
            f"Toloka at {at} says it does not exist while {what} ({detail}). Check the id, and "
            "that it belongs to this environment (a sandbox pool is not in production)."
        )
    return f"Toloka at {at} answered an error while {what} ({detail})."


class ShapeError(ValueError):
    """A body read without error that lacks what crowdlens needs (the message says what)."""


def shape_problem(err: BaseException) -> str:
    """What is wrong with a body toloka-kit could not read, in a few words."""
    if isinstance(err, ShapeError):
        return str(err)
    if isinstance(err, json.JSONDecodeError):
        return f"the body is not JSON ({err.msg} at line {err.lineno}, column {err.colno})"
    if isinstance(err, KeyError):
        return f"the field {err.args[0]!r} is missing" if err.args else "a field is missing"
    leaves = _leaf_errors(err)
    if leaves:
        return "; ".join(leaves[:3]) + (f" and {len(leaves) - 3} more" if len(leaves) > 3 else "")
    return f"{type(err).__name__}: {err}"


def _leaf_errors(err: BaseException, path: str = "") -> list[str]:
    """cattrs' grouped structuring errors as "in <where>: <error>", where is read from the notes
    cattrs attaches ("Structuring typing.List[...Assignment] @ index 3" → ``Assignment[3]``)."""
    subs = getattr(err, "exceptions", None)
    if not subs:
        return []
    out = []
    for sub in subs:
        here = path + "".join(_note_path(str(n)) for n in getattr(sub, "__notes__", []))
        out += _leaf_errors(sub, here) or [f"in {here.lstrip('.') or 'the body'}: {shape_problem(sub)}"]
    return out


def _note_path(note: str) -> str:
    head, _, tail = note.partition(" @ ")
    kind = head.rsplit("[", 1)[-1].rstrip("]").rsplit(".", 1)[-1] if "[" in head else head.rsplit(" ", 1)[-1]
    if tail.startswith("index "):
        return f"{kind}[{tail[len('index ') :]}]"
    if tail.startswith("attribute "):
        return f".{tail[len('attribute ') :]}"
    return ""


def _shape_text(err: BaseException, client, what: str) -> str:
    return (
        f"Toloka at {where(client)} answered something crowdlens cannot read while {what}{_endpoint_text()}: "
        f"{shape_problem(err)}. The API (or a proxy before it) did not answer in Toloka's format: check "
        f"{URL_VARIABLE} / {ENVIRONMENT_VARIABLE}, and try again."
    )


def api_error(err: BaseException, client, what: str) -> TolokaAPIError:
    """Our error for a failure while ``what`` (e.g. "reading pool 12"): what to check, no secret."""
    import httpx
    from toloka.client.exceptions import ApiError

    if isinstance(err, _GaveUp):
        text = _gave_up_text(err, client, what)
    elif isinstance(err, ApiError):
        text = _api_error_text(err, client, what)
    elif isinstance(err, _BadAnswer):
        text = f"Toloka at {where(client)} answered {err} without Toloka's error body while {what}{_endpoint_text()}."
    elif isinstance(err, httpx.HTTPStatusError):
        text = f"Toloka at {where(client)} answered HTTP {err.response.status_code} with no body while {what}."
    elif isinstance(err, httpx.HTTPError):
        text = (
            f"Toloka could not be reached at {where(client)} while {what} ({type(err).__name__}: {err}). "
            f"Check the network, and {URL_VARIABLE} / {ENVIRONMENT_VARIABLE}."
        )
    elif _is_retry_state_bug(err):
        text = (
            f"Toloka at {where(client)} asked to wait (HTTP 429 with Retry-After) while {what}, and toloka-kit's "
            "own retries cannot wait for it: make the client with analytics.sources.toloka.make_client, "
            "which retries such answers itself."
        )
    elif isinstance(err, _SHAPE_ERRORS) or _is_structuring_error(err):
        text = _shape_text(err, client, what)
    else:  # urllib3's retry errors, from a client whose toloka-kit retries are on
        text = f"Toloka at {where(client)} did not answer while {what} ({type(err).__name__}: {err})."
    return TolokaAPIError(scrub(text, client))


_SHAPE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError)


def _is_retry_state_bug(err: BaseException) -> bool:
    return isinstance(err, TypeError) and "RetryCallState" in str(err)


def _is_structuring_error(err: BaseException) -> bool:
    # cattrs' ClassValidationError / IterableValidationError, toloka-kit's SpecClassIdentificationError
    return type(err).__name__ in ("ClassValidationError", "IterableValidationError", "SpecClassIdentificationError")


@functools.lru_cache(maxsize=1)
def failures() -> tuple[type[BaseException], ...]:
    """What toloka-kit raises for a failed or unreadable request (and what :func:`_send` raises)."""
    import httpx
    import urllib3
    from toloka.client.exceptions import ApiError, SpecClassIdentificationError

    return (
        ApiError,
        SpecClassIdentificationError,
        httpx.HTTPError,
        urllib3.exceptions.HTTPError,
        _GaveUp,
        _BadAnswer,
        *_SHAPE_ERRORS,
        *_structuring_errors(),
    )


def _structuring_errors() -> tuple[type[BaseException], ...]:
    try:
        from cattrs.errors import BaseValidationError
    except ImportError:  # pragma: no cover - an older cattrs
        return ()
    return (BaseValidationError,)


def call(client, what: str, fn: Callable, *args, **kwargs) -> Any:
    """``fn(*args, **kwargs)`` (a toloka-kit client method), its failures as :class:`TolokaAPIError`.

    ``what`` says what is being done, as the message will ("reading pool 12").
    """
    _LAST.endpoint = None
    try:
        return fn(*args, **kwargs)
    except failures() as err:
        error = api_error(err, client, what)
    # raised outside the except block: toloka-kit's exception, which holds the request and its
    # Authorization header, is neither the cause nor the context of ours
    raise error


def iterate(client, what: str, items: Iterable) -> Iterator:
    """Iterate a toloka-kit generator (it requests pages as it goes), translating its errors.

    Each page request is retried by the client (:func:`_send`); a search answer without its
    ``items`` list is a :class:`TolokaAPIError` naming the endpoint.
    """
    _LAST.endpoint = None
    it = iter(items)
    while True:
        error = None
        try:
            item = next(it)
        except StopIteration:
            return
        except failures() as err:
            error = api_error(_search_shape(err), client, what)
        if error is not None:
            raise error
        yield item


def _search_shape(err: BaseException) -> BaseException:
    # toloka-kit's _find_all iterates result.items: None there means the list was missing
    if isinstance(err, TypeError) and "NoneType" in str(err) and "iterable" in str(err):
        return ShapeError(f"the search result has no 'items' list (expected {SEARCH_SHAPE})")
    return err


def require(obj: Any, fields: Iterable[str], client, what: str, noun: str) -> None:
    """A TolokaAPIError naming the endpoint when ``obj`` (toloka-kit's object) lacks ``fields``."""
    missing = [f for f in fields if getattr(obj, f, None) in (None, "")]
    if missing:
        err = ShapeError(f"the {noun} has no {', '.join(repr(f) for f in missing)}")
        raise api_error(err, client, what)
