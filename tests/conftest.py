"""Shared fixtures: the real data in ../shared/data and a demo workspace built once per session."""

from __future__ import annotations

import os
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


@pytest.fixture(autouse=True)
def _no_home_workspace(monkeypatch, tmp_path):
    # a test must never read or write the user's default workspace
    monkeypatch.setenv("CROWDLENS_WORKSPACE", str(tmp_path / "default-ws"))
