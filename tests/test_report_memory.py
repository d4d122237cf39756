"""The report drops the large tables it computed for a section, keeps what was cached before, and its figures stay."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analytics import report
from analytics.metrics import registry


def tables(run) -> set[tuple]:
    return {k for k, v in registry.cached(run).items() if isinstance(v, pd.DataFrame)}


def fresh(demo_workspace, demo_versions):
    v = next(v for v in demo_versions if v.version == "1.1.0")
    return demo_workspace.open_run(v.id)  # a run of its own: an empty cache


def test_no_large_table_outlives_its_section(demo_workspace, demo_versions, monkeypatch):
    kept = report.build_report(fresh(demo_workspace, demo_versions), method="ds")
    monkeypatch.setattr(report, "LARGE_TABLE_BYTES", 0)  # every table counts as large
    run = fresh(demo_workspace, demo_versions)
    dropped = report.build_report(run, method="ds")
    assert tables(run) == set(), "a table the report computed stayed cached"
    assert dropped == kept
    assert registry.computed(run, "aggregate", method="ds")  # the aggregations are kept


def test_a_table_cached_before_the_report_stays(demo_workspace, demo_versions, monkeypatch):
    monkeypatch.setattr(report, "LARGE_TABLE_BYTES", 0)
    run = fresh(demo_workspace, demo_versions)
    items = registry.compute(run, "item_agreement", method="mv")
    key = registry.cache_key("item_agreement", method="mv")
    report.build_report(run, method="mv")
    assert registry.cached(run)[key] is items


def test_the_cli_runs_without_transparent_huge_pages(tmp_path):
    # in a process of its own: the setting is a process's (and inherited, so the test run's own is no evidence)
    status = Path("/proc/self/status")
    if not status.is_file() or "THP_enabled" not in status.read_text():
        pytest.skip("no THP_enabled in /proc/self/status here (not Linux 5.0 or later)")
    code = (
        "from pathlib import Path; from analytics.cli import main; "
        f"main(['versions', '--workspace', {str(tmp_path / 'ws')!r}]); "
        "print([l for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('THP_enabled')][0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1].split() == ["THP_enabled:", "0"]


def test_a_run_and_its_cache_are_freed_once_no_one_holds_it(demo_workspace, demo_versions):
    # a cached refusal kept its traceback, whose frames held the run: the run's weak cache key never died
    import gc
    import weakref

    from analytics.metrics._base import MetricUnavailable

    run = fresh(demo_workspace, demo_versions)
    report.build_report(run, method="mv")
    for _ in range(2):  # a refusal raised again from the cache, and outcome's value of it
        for name in ("scale_agreement", "model_agreement", "accuracy_vs_truth"):
            registry.outcome(run, name)
    assert any(isinstance(v, MetricUnavailable) for v in registry.cached(run).values()), "no refusal to test"
    gone = weakref.ref(run)
    del run
    gc.collect()
    assert gone() is None, "the run outlived every reference to it (its cache holds it)"


KEPT_AFTER_COMMAND = """
import contextlib, io, sys
from pathlib import Path
import numpy as np
from analytics.cli import main
from analytics.sources.memory import release_memory

with contextlib.redirect_stdout(io.StringIO()):
    main(sys.argv[1:])
def rss_mb():
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 >> 20
before = rss_mb(); big = np.ones(25_000_000); del big  # 200 MB, touched, then freed
freed = rss_mb() - before; release_memory()
print(freed, rss_mb() - before)
"""


def kept_after(*command: str) -> tuple[int, int]:
    """The resident MB a freed 200 MB array leaves after ``crowdlens COMMAND``, and after release_memory()."""
    out = subprocess.run([sys.executable, "-c", KEPT_AFTER_COMMAND, *command], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    freed, released = map(int, out.stdout.split())
    return freed, released


def test_the_report_keeps_freed_memory_for_its_next_step_until_it_is_released(demo_workspace, demo_versions):
    # glibc's default maps every array over 32 MB anew and unmaps it when freed; a report keeps it
    if not Path("/proc/self/statm").is_file():
        pytest.skip("no /proc/self/statm here (not Linux): resident memory cannot be read")
    from analytics.sources.memory import _LIBC

    if _LIBC is None or not hasattr(_LIBC, "mallopt"):
        pytest.skip("not glibc: keep_freed_memory does nothing here")
    version = next(v for v in demo_versions if v.version == "1.1.0").id
    freed, released = kept_after("report", version, "--workspace", str(demo_workspace.root), "--format", "json")
    assert freed > 150 and released < 50, (freed, released)
    freed, _ = kept_after("versions", "--workspace", str(demo_workspace.root))  # the default, for contrast
    assert freed < 50, freed
