"""Reaching ClearML: the errors crowdlens raises, the credentials check and the reachability check.

Credentials are read only to say which are missing (environment > secrets files, through
:func:`analytics.settings.setting`); they are never shown, and a message that quotes the server
goes through :func:`analytics.settings.scrub`.
"""

from __future__ import annotations

import os
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from analytics import settings

CREDENTIAL_VARS = ("CLEARML_API_HOST", "CLEARML_API_ACCESS_KEY", "CLEARML_API_SECRET_KEY")
CLEARML_ID_LENGTH = 32  # ClearML dataset ids are uuid4().hex
HOW_TO_CONFIGURE = (
    "Set CLEARML_API_HOST, CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY in the environment "
    "(create the key pair in the ClearML web app: Settings > Workspace > Create new credentials), "
    "or put them as top-level keys in .streamlit/secrets.toml, which Streamlit exports as environment "
    "variables (never commit that file); `clearml-init` writing ~/clearml.conf works too."
)


class ClearMLError(RuntimeError):
    """A ClearML operation could not be done; the message says why and what to do."""


class ClearMLCredentialsError(ClearMLError):
    """ClearML credentials are missing or were rejected (the message names the variables to set)."""


class ClearMLUnavailableError(ClearMLError):
    """The ClearML API server cannot be reached."""


class MissingParentError(ClearMLError):
    """A version's parent is not on the other side yet (not published, or not pulled), so its lineage cannot be kept."""


def _set(*names: str) -> str | None:
    """The first of ``names`` that is set (environment > secrets files, :func:`analytics.settings.setting`)."""
    return next((v for v in (settings.setting(n).value for n in names) if v), None)


def check_configured() -> None:
    """Fail before any network call when ClearML has neither credentials (environment or secrets
    files) nor a config file.

    With a config file the SDK decides (it raises MissingConfigError, also before the network,
    when the file holds no key pair).
    """
    if _set("CLEARML_AUTH_TOKEN"):
        return
    if _set("CLEARML_API_ACCESS_KEY", "TRAINS_API_ACCESS_KEY") and _set(
        "CLEARML_API_SECRET_KEY", "TRAINS_API_SECRET_KEY"
    ):
        return
    override = _set("CLEARML_CONFIG_FILE", "TRAINS_CONFIG_FILE")
    candidates = [override] if override else []
    candidates += ["~/trains.conf", "~/clearml.conf"]
    if any(Path(os.path.expandvars(c)).expanduser().is_file() for c in candidates):
        return
    missing = [v for v in CREDENTIAL_VARS if not _set(v)]
    raise ClearMLCredentialsError(
        f"ClearML is not configured: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set "
        f"and there is no ~/clearml.conf. {HOW_TO_CONFIGURE}"
    )


def api_host() -> str:
    host = _set("CLEARML_API_HOST", "TRAINS_API_HOST")
    if host:
        return host.rstrip("/")
    try:
        from clearml.backend_api import Session

        return str(Session.get_api_server_host()).rstrip("/")
    except Exception:  # pragma: no cover - the SDK resolves its own default
        return ""


def check_reachable(host: str, timeout: float) -> None:
    """Any answer from the API server will do (an HTTP error, a certificate the SDK may be told to
    accept); only a connection that fails or times out is an error."""
    if not host:
        return
    try:
        with urllib.request.urlopen(urllib.request.Request(host + "/debug.ping", method="GET"), timeout=timeout):
            pass
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, ssl.SSLError) or isinstance(err, ssl.SSLError):
            return
        raise ClearMLUnavailableError(
            f"the ClearML API server at {host} cannot be reached ({settings.scrub(str(reason))}, "
            f"waited {timeout:g} s). "
            "Check CLEARML_API_HOST (e.g. http://localhost:8008 for a local clearml-server) and the network. "
            + HOW_TO_CONFIGURE
        ) from None


def sdk_error(action: str, err: BaseException) -> ClearMLError | None:
    """The crowdlens error for an exception the SDK raised while doing ``action`` (None: not one of
    its configuration, login, connection or server errors, so the caller lets it through).

    A server error (HTTP 5xx: the SDK's ``SendError``) says it is the server's; a 4xx other than
    a login is left to the caller (an unknown dataset id is a lookup error, not a service problem).
    """
    names = {c.__name__ for c in type(err).__mro__}
    text = settings.scrub(str(err))
    if "MissingConfigError" in names:
        return ClearMLCredentialsError(f"cannot {action}: ClearML credentials are missing. {HOW_TO_CONFIGURE}")
    if "LoginError" in names:
        return ClearMLCredentialsError(
            f"cannot {action}: the ClearML server refused the credentials ({text}). "
            "Check that the key pair belongs to the server CLEARML_API_HOST names and was not revoked. "
            + HOW_TO_CONFIGURE
        )
    if names & {"ConnectionError", "MaxRetryError", "NewConnectionError", "Timeout", "ConnectTimeout"}:
        return ClearMLUnavailableError(
            f"cannot {action}: the ClearML server cannot be reached ({text}). Check CLEARML_API_HOST and the network."
        )
    meta = getattr(getattr(err, "result", None), "meta", None)
    code = getattr(meta, "result_code", None)
    if "SendError" in names and isinstance(code, int) and code >= 500:
        endpoint = getattr(getattr(meta, "endpoint", None), "name", None) or "a request"
        said = settings.scrub(str(getattr(meta, "result_msg", "") or ""))[:300]
        return ClearMLUnavailableError(
            f"cannot {action}: the ClearML server failed on {endpoint} (HTTP {code}: {said or 'no message'}). "
            "This is the server's error, not crowdlens': try again later; if it persists, check the ClearML "
            "server's logs or ask its administrator."
        )
    return None
