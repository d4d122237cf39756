"""The ban audit's shortcuts give the full computation's figures: one pass to change golden labels,
and the run's own figures reused when nothing is overridden (issue #16: Rules & audit at 10^7)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.metrics import audit, registry
from analytics.metrics._qa import with_golden


def _golden_by_task_loop(run, overrides: dict) -> np.ndarray:
    """with_golden's former way, one pass over the answers per task: the reference."""
    c = run.codes
    golden = c.golden.copy()
    categories = run.answers["golden"].cat.categories
    for task, label in overrides.items():
        rows = (c.task == c.task_names.get_loc(task)) & (golden >= 0)
        golden[rows] = categories.get_loc(label) if label is not None else -1
    return golden


def _control_tasks(run) -> list[str]:
    d = registry.compute(run, "control_task_difficulty")
    return list(d.index[:3])


def test_golden_labels_changed_in_one_pass_equal_the_per_task_loop(demo_run):
    first, second, third = _control_tasks(demo_run)
    other = next(lab for lab in demo_run.labels if lab != demo_run.answers["golden"].cat.categories[0])
    overrides = {first: None, second: str(other), third: str(demo_run.labels[0])}
    changed = with_golden(demo_run, overrides)
    want = _golden_by_task_loop(demo_run, overrides)
    assert np.array_equal(changed.codes.golden, want)
    assert np.array_equal(changed.answers["golden"].cat.codes.to_numpy(), want)
    assert changed.answers["golden"].dtype == demo_run.answers["golden"].dtype
    assert np.array_equal(demo_run.codes.golden, demo_run.answers["golden"].cat.codes.to_numpy())  # untouched


def test_nothing_overridden_reuses_the_runs_figures_and_equals_the_full_computation(demo_run):
    none = audit.ban_audit(demo_run, golden_overrides={})
    # the full path: a copy of the run whose golden labels are the same (an override to a task's own label)
    task = _control_tasks(demo_run)[0]
    own = str(registry.compute(demo_run, "control_task_difficulty").loc[task, "golden"])
    full = audit.ban_audit(demo_run, golden_overrides={task: own})
    assert none.headline["after"] == full.headline["after"] == none.headline["before"]
    assert none.quality["after"] == full.quality["after"] == none.quality["before"]
    pd.testing.assert_frame_equal(none.control_accuracy, full.control_accuracy)
    assert none.control_accuracy.empty
    pd.testing.assert_frame_equal(none.lifted, full.lifted)
    pd.testing.assert_frame_equal(none.new_bans, full.new_bans)
    # the "after" figures are copies: a reader changing one does not change "before"
    none.headline["after"]["answers"] = -1
    assert none.headline["before"]["answers"] != -1


def test_the_audit_shares_the_registrys_figures_of_the_run(demo_run):
    difficulty = registry.compute(demo_run, "control_task_difficulty")
    result = audit.ban_audit(demo_run)
    suspect = difficulty.index[difficulty["suspect"]]
    assert result.overrides == {t: None for t in suspect}
    assert set(result.control_tasks.index) >= set(suspect)
    assert registry.computed(demo_run, "run_agreement")  # quality() took alpha from the registry
