"""Every setting crowdlens reads (workspace, Toloka, ClearML, cache), in one order, and the one secret scrubber.

The order is the same for the CLI and the dashboard:

1. an explicit argument (a command-line flag, a parameter of the function);
2. the environment (``TOLOKA_TOKEN=... crowdlens ...``);
3. ``.streamlit/secrets.toml`` in the directory the command or the dashboard runs from;
4. ``~/.streamlit/secrets.toml``;
5. the tool's default.

Settings are top-level keys of the secrets files (what Streamlit also exports as environment
variables); tables such as ``[auth]`` belong to Streamlit's sign-in and are left to it. A secret
(a Toloka token, ClearML keys, OIDC secrets) is never shown, logged or written: every message
that could quote one goes through :func:`scrub`.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

# Streamlit's secrets files, the project's (relative to where the command runs) before the user's
SECRETS_FILES: tuple[str, ...] = (".streamlit/secrets.toml", "~/.streamlit/secrets.toml")

WORKSPACE_VARIABLE = "CROWDLENS_WORKSPACE"
CACHE_VARIABLE = "CROWDLENS_CACHE"
DEFAULT_WORKSPACE = "workspace"

TOKEN_VARIABLE = "TOLOKA_TOKEN"
ENVIRONMENT_VARIABLE = "TOLOKA_ENVIRONMENT"
URL_VARIABLE = "TOLOKA_URL"
TOLOKA_VARIABLES = (TOKEN_VARIABLE, URL_VARIABLE, ENVIRONMENT_VARIABLE)
DEFAULT_TOLOKA_ENVIRONMENT = "PRODUCTION"

CLEARML_CREDENTIALS = ("CLEARML_API_ACCESS_KEY", "CLEARML_API_SECRET_KEY")
CLEARML_VARIABLES = ("CLEARML_API_HOST", "CLEARML_WEB_HOST", "CLEARML_FILES_HOST", *CLEARML_CREDENTIALS)

# values never shown, even inside a message that quotes them
SECRET_NAMES = (TOKEN_VARIABLE, *CLEARML_CREDENTIALS, "CLEARML_AUTH_TOKEN")
# secret keys of Streamlit's [auth] table (st.login), also never shown
AUTH_SECRET_KEYS = ("client_secret", "cookie_secret")
# a value this short is not a real secret, and blanking it would mangle ordinary words
MIN_SECRET_LENGTH = 4


class SecretsFileError(RuntimeError):
    """A secrets file exists but cannot be read as TOML (the message never quotes its content)."""


@dataclass(frozen=True)
class Setting:
    """A setting's value and where it came from ("argument", "environment", a secrets file's
    path, or "default"). ``value`` is None where nothing set it and there is no default."""

    name: str
    value: str | None
    where: str

    def __bool__(self) -> bool:
        return bool(self.value)


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        # the decoder's message gives a position only, never the text around it
        raise SecretsFileError(f"{path} is not valid TOML ({err}); fix the file or move it away.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SecretsFileError(
            f"{path} cannot be read ({type(err).__name__}); check its permissions and that it is UTF-8 text."
        ) from None


def secrets_documents(files: Sequence[str | os.PathLike] | None = None) -> list[tuple[str, dict]]:
    """(path, parsed TOML) of each secrets file that exists, in order of precedence (first wins)."""
    out = []
    for name in tuple(SECRETS_FILES if files is None else files):
        path = Path(name).expanduser()
        if path.is_file():
            out.append((str(path), _read_toml(path)))
    return out


def _text(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = str(value).strip()
    return text or None


def read_secrets(files: Sequence[str | os.PathLike] | None = None) -> dict[str, str]:
    """Top-level text values of the secrets files that exist; an earlier file wins over a later one."""
    out: dict[str, str] = {}
    for _, doc in reversed(secrets_documents(files)):
        out.update({str(k): t for k, v in doc.items() if (t := _text(v)) is not None})
    return out


def setting(
    name: str,
    explicit: str | os.PathLike | None = None,
    *,
    default: str | None = None,
    files: Sequence[str | os.PathLike] | None = None,
    secrets: Mapping | None = None,
) -> Setting:
    """The setting ``name`` in the documented order: ``explicit`` > environment > secrets files > ``default``.

    ``secrets`` stands for the secrets files where a caller has them read already: the dashboard
    passes ``st.secrets`` (Streamlit reads the same two files, the project's over the user's).
    """
    if explicit is not None and str(explicit).strip():
        return Setting(name, str(explicit).strip(), "argument")
    env = (os.environ.get(name) or "").strip()
    if env:
        return Setting(name, env, "environment")
    if secrets is not None:
        text = _text(secrets.get(name))
        if text is not None:
            return Setting(name, text, "secrets.toml")
        return Setting(name, default, "default")
    for path, doc in secrets_documents(files):
        text = _text(doc.get(name))
        if text is not None:
            return Setting(name, text, path)
    return Setting(name, default, "default")


def secrets_files_text() -> str:
    """The secrets files as a user would type them, for messages ("put X in ... or ...")."""
    return " or ".join(str(Path(f)) for f in SECRETS_FILES)


# ---- the workspace and the cache


def workspace_root(explicit: str | os.PathLike | None = None, *, secrets: Mapping | None = None) -> Path:
    """The workspace folder: ``--workspace``, else ``CROWDLENS_WORKSPACE``, else ``./workspace``."""
    return Path(setting(WORKSPACE_VARIABLE, explicit, default=DEFAULT_WORKSPACE, secrets=secrets).value).expanduser()


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """crowdlens' cache: ``CROWDLENS_CACHE``, else ``$XDG_CACHE_HOME/crowdlens`` (``~/.cache`` by default)."""
    chosen = setting(CACHE_VARIABLE, explicit)
    if chosen.value:
        return Path(chosen.value).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "crowdlens"


# ---- Toloka


@dataclass(frozen=True)
class TolokaSettings:
    """Where and how to reach Toloka. ``token`` is for making a client only: never show it."""

    token: Setting
    url: Setting
    environment: Setting

    def configured(self) -> dict[str, str]:
        """name -> where it came from, for the settings that are set (never their values)."""
        return {s.name: s.where for s in (self.token, self.url, self.environment) if s.value}


def toloka(url: str | None = None, environment: str | None = None, *, secrets: Mapping | None = None) -> TolokaSettings:
    """Toloka's settings. An explicit or configured URL wins over an environment name at the same
    level; with neither, PRODUCTION. ``secrets``: see :func:`setting`."""
    url_s = setting(URL_VARIABLE, url, secrets=secrets)
    env_s = setting(ENVIRONMENT_VARIABLE, environment, secrets=secrets)
    if url_s.value and env_s.value:
        # both set: the more explicit one wins (argument > environment > files); a URL on a tie
        rank = _rank(url_s.where), _rank(env_s.where)
        if rank[0] <= rank[1]:
            env_s = Setting(ENVIRONMENT_VARIABLE, None, "overridden by " + URL_VARIABLE)
        else:
            url_s = Setting(URL_VARIABLE, None, "overridden by " + ENVIRONMENT_VARIABLE)
    if not url_s.value and not env_s.value:
        env_s = Setting(ENVIRONMENT_VARIABLE, DEFAULT_TOLOKA_ENVIRONMENT, "default")
    return TolokaSettings(setting(TOKEN_VARIABLE, secrets=secrets), url_s, env_s)


def _rank(where: str) -> int:
    return {"argument": 0, "environment": 1, "secrets.toml": 2}.get(where, 2 + _file_rank(where))


def _file_rank(where: str) -> int:
    for i, name in enumerate(SECRETS_FILES):
        if str(Path(name).expanduser()) == where:
            return i
    return len(SECRETS_FILES)


# ---- ClearML


def clearml() -> dict[str, Setting]:
    """ClearML's ``CLEARML_*`` settings that are set (environment > secrets files)."""
    out = {name: setting(name) for name in CLEARML_VARIABLES}
    return {k: s for k, s in out.items() if s.value}


@contextlib.contextmanager
def clearml_environment() -> Iterator[None]:
    """ClearML's settings from the secrets files as environment variables while the block runs.

    The ClearML SDK reads its credentials from the environment (or ``~/clearml.conf``); variables
    already set win; the environment is restored afterwards.
    """
    added = {k: s.value for k, s in clearml().items() if s.where not in ("environment", "argument")}
    previous = {k: os.environ.get(k) for k in added}
    os.environ.update(added)
    try:
        yield
    finally:
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ---- the one scrubber


def secret_values(extra: Sequence[str | None] = (), *, secrets: Mapping | None = None) -> set[str]:
    """Every secret value crowdlens knows of: the environment's, the secrets files' (top level and
    Streamlit's ``[auth]`` secrets), and ``extra`` (e.g. a client's token)."""
    values = {(os.environ.get(n) or "").strip() for n in SECRET_NAMES}
    try:
        docs = secrets_documents()
    except SecretsFileError:
        docs = []
    if secrets is not None:
        docs = [("secrets", secrets), *docs]
    for _, doc in docs:
        values |= {t for n in SECRET_NAMES if (t := _text(doc.get(n)))}
        values |= _auth_secrets(doc.get("auth"))
    values |= {str(v).strip() for v in extra if v}
    return {v for v in values if v and len(v) >= MIN_SECRET_LENGTH}


def _auth_secrets(table) -> set[str]:
    if not isinstance(table, Mapping):
        return set()
    found = {t for k in AUTH_SECRET_KEYS if (t := _text(table.get(k)))}
    for sub in table.values():  # [auth.provider] tables
        if isinstance(sub, Mapping):
            found |= {t for k in AUTH_SECRET_KEYS if (t := _text(sub.get(k)))}
    return found


def scrub(text: str, *extra: str | None) -> str:
    """``text`` with every known secret value (see :func:`secret_values`) replaced by ``***``."""
    for value in sorted(secret_values(extra), key=len, reverse=True):
        text = text.replace(value, "***")
    return text
