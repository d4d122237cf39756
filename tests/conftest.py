"""Shared fixtures: the real data in ../shared/data and a demo workspace built once per session."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CROWDLENS_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test (with the reason) where it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (../shared/data lies beside the repository in CI)")
    return path


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory):
    from analytics.sources.demo import build_demo
    from analytics.sources.workspace import Workspace

    root = tmp_path_factory.mktemp("demo-ws")
    ws = Workspace(root)
    build_demo(ws)
    return ws


@pytest.fixture(scope="session")
def demo_versions(demo_workspace):
    return demo_workspace.versions()


@pytest.fixture(scope="session")
def demo_run(demo_workspace, demo_versions):
    """The annotated demo version (1.1.0): exam + reviewed main pool."""
    v = next(v for v in demo_versions if v.version == "1.1.0")
    return demo_workspace.open_run(v.id)


@pytest.fixture
def loopback_only(monkeypatch):
    """Refuse any connection that is not to this machine: a test must never reach a real server
    (toloka-kit, clearml and httpx all connect through socket.connect)."""
    real_connect = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("/"):
            raise OSError(f"test guard: connection to {address!r} refused (tests reach 127.0.0.1 only)")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def stub():
    """A Toloka API stand-in on 127.0.0.1 loaded with the main scenario (tests/toloka_payloads.py)."""
    import toloka_payloads as P
    from toloka_stub import TolokaStub

    with TolokaStub(token=P.TOKEN) as s:
        P.main_scenario(s)
        yield s


@pytest.fixture(autouse=True)
def _no_toloka_environment(monkeypatch):
    # a developer's own Toloka settings must never reach a test (nor a test reach Toloka)
    for var in ("TOLOKA_TOKEN", "TOLOKA_ENVIRONMENT", "TOLOKA_URL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(autouse=True)
def _no_home_workspace(monkeypatch, tmp_path):
    # a test must never read or write the user's default workspace
    monkeypatch.setenv("CROWDLENS_WORKSPACE", str(tmp_path / "default-ws"))
