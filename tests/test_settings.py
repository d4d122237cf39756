"""analytics.settings: one order for every setting (flag > env > ./.streamlit > ~/.streamlit > default)."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics import settings


@pytest.fixture
def places(tmp_path, monkeypatch):
    """A project folder (the current directory) and a home folder, each with a .streamlit/ to write into."""
    project, home = tmp_path / "project", tmp_path / "home"
    for d in (project / ".streamlit", home / ".streamlit"):
        d.mkdir(parents=True)
    monkeypatch.chdir(project)
    monkeypatch.setenv("HOME", str(home))
    for name in (*settings.TOLOKA_VARIABLES, settings.WORKSPACE_VARIABLE, *settings.CLEARML_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    return project / ".streamlit" / "secrets.toml", home / ".streamlit" / "secrets.toml"


def test_each_level_wins_over_the_next(places, monkeypatch):
    project, home = places
    assert settings.workspace_root() == Path("workspace")
    home.write_text('CROWDLENS_WORKSPACE = "/from/home"\n')
    assert settings.setting("CROWDLENS_WORKSPACE").where == str(home)
    assert settings.workspace_root() == Path("/from/home")
    project.write_text('CROWDLENS_WORKSPACE = "/from/project"\n')
    assert settings.workspace_root() == Path("/from/project")
    monkeypatch.setenv("CROWDLENS_WORKSPACE", "/from/env")
    assert settings.workspace_root() == Path("/from/env")
    assert settings.workspace_root("/from/flag") == Path("/from/flag")


def test_the_dashboard_passes_st_secrets_for_the_files(places, monkeypatch):
    project, _ = places
    project.write_text('CROWDLENS_WORKSPACE = "/from/file"\n')
    assert settings.workspace_root(secrets={"CROWDLENS_WORKSPACE": "/from/st.secrets"}) == Path("/from/st.secrets")
    monkeypatch.setenv("CROWDLENS_WORKSPACE", "/from/env")
    assert settings.workspace_root(secrets={"CROWDLENS_WORKSPACE": "/from/st.secrets"}) == Path("/from/env")


def test_toloka_url_or_environment_by_level(places, monkeypatch):
    project, _ = places
    s = settings.toloka()
    assert (s.url.value, s.environment.value, s.token.value) == (None, "PRODUCTION", None)
    project.write_text('TOLOKA_TOKEN = "tok-from-file"\nTOLOKA_URL = "http://127.0.0.1:1"\n')
    s = settings.toloka()
    assert (s.url.value, s.environment.value, s.token.value) == ("http://127.0.0.1:1", None, "tok-from-file")
    monkeypatch.setenv("TOLOKA_ENVIRONMENT", "SANDBOX")  # the environment outranks the file's URL
    s = settings.toloka()
    assert (s.url.value, s.environment.value) == (None, "SANDBOX")
    s = settings.toloka(url="http://127.0.0.1:2")  # a flag outranks both
    assert (s.url.value, s.environment.value) == ("http://127.0.0.1:2", None)
    assert s.configured() == {"TOLOKA_TOKEN": ".streamlit/secrets.toml", "TOLOKA_URL": "argument"}


def test_a_broken_secrets_file_is_named_without_its_content(places):
    project, _ = places
    project.write_text('TOLOKA_TOKEN = "secret-value-123\n')
    with pytest.raises(settings.SecretsFileError) as err:
        settings.read_secrets()
    assert ".streamlit/secrets.toml" in str(err.value) and "line 1" in str(err.value)
    assert "secret-value-123" not in str(err.value)


def test_one_scrubber_for_every_secret(places, monkeypatch):
    project, _ = places
    project.write_text(
        'TOLOKA_TOKEN = "file-token-abcd"\n[auth]\nclient_secret = "oidc-secret-xyz"\ncookie_secret = "cookie-1234"\n'
    )
    monkeypatch.setenv("CLEARML_API_SECRET_KEY", "clearml-secret-999")
    text = "file-token-abcd oidc-secret-xyz cookie-1234 clearml-secret-999 client-given-5555 abc"
    assert settings.scrub(text, "client-given-5555") == "*** *** *** *** *** abc"
