"""analytics.kernels against independent references: crowd-kit, krippendorff, statsmodels,
scikit-learn, and small frames computed by hand."""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from analytics import kernels as K
from analytics.kernels import agreement as kernels_agreement

# the attribute analytics.kernels.dawid_skene is the function, so the module is looked up by name
kernels_dawid_skene = importlib.import_module("analytics.kernels.dawid_skene")

ATOL = 1e-9

# crowd-kit 1.4.2 passes inplace= and copy= to pandas methods, deprecated in pandas 3.
pytestmark = [
    pytest.mark.filterwarnings("ignore:The inplace keyword"),
    pytest.mark.filterwarnings("ignore:The copy keyword"),
]


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@dataclass
class Answers:
    task: np.ndarray
    worker: np.ndarray
    label: np.ndarray
    n_tasks: int
    n_workers: int
    n_labels: int

    def frame(self, strings: bool = False, sort_by_label: bool = True) -> pd.DataFrame:
        """The answers as crowd-kit's long frame.

        crowd-kit breaks ties by the order in which labels first appear in the data; sorting
        the rows by label code (stably) makes that order the code order, i.e. our tie rule.
        String ids are zero-padded so that their sort order is the code order too.
        """
        df = pd.DataFrame({"task": self.task, "worker": self.worker, "label": self.label})
        if sort_by_label:
            df = df.sort_values("label", kind="stable").reset_index(drop=True)
        if strings:
            df = pd.DataFrame(
                {
                    "task": [f"t{v:05d}" for v in df["task"]],
                    "worker": [f"w{v:04d}" for v in df["worker"]],
                    "label": [f"L{v:02d}" for v in df["label"]],
                }
            )
        return df

    def permuted(self, seed: int) -> Answers:
        p = np.random.default_rng(seed).permutation(len(self.task))
        return Answers(self.task[p], self.worker[p], self.label[p], self.n_tasks, self.n_workers, self.n_labels)

    @property
    def tl(self):
        return self.task, self.label, self.n_tasks, self.n_labels

    @property
    def twl(self):
        return self.task, self.worker, self.label, self.n_tasks, self.n_workers, self.n_labels


def synth(
    seed: int,
    n_tasks: int = 240,
    n_workers: int = 24,
    n_labels: int = 4,
    overlap=3,
    n_single: int = 15,
    n_repeat: int = 25,
    extra_tasks: int = 2,
    extra_workers: int = 2,
    extra_labels: int = 0,
) -> Answers:
    """Seeded crowd: workers of different skill, ``overlap`` answers per task (an int or a
    (low, high) range), ``n_single`` tasks with one answer, ``n_repeat`` repeated answers (a
    worker answering the same task again, half of them with a different label), and codes
    with no answers at the end of each code range (``extra_*``)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_labels, n_tasks)
    skill = rng.uniform(0.35, 0.95, n_workers)
    rows = []
    for t in range(n_tasks):
        if t < n_single:
            k = 1
        elif isinstance(overlap, tuple):
            k = int(rng.integers(overlap[0], overlap[1] + 1))
        else:
            k = overlap
        for w in rng.choice(n_workers, size=k, replace=False):
            lab = truth[t] if rng.random() < skill[w] else rng.integers(0, n_labels)
            rows.append((t, w, lab))
    rows = np.array(rows, dtype=np.int64)
    if n_repeat:
        rep = rows[rng.integers(0, len(rows), n_repeat)].copy()
        rep[::2, 2] = rng.integers(0, n_labels, len(rep[::2]))
        rows = np.vstack([rows, rep])
    rows = rows[rng.permutation(len(rows))]
    return Answers(
        rows[:, 0], rows[:, 1], rows[:, 2], n_tasks + extra_tasks, n_workers + extra_workers, n_labels + extra_labels
    )


def toy(rows, n_tasks, n_workers, n_labels) -> Answers:
    a = np.array(rows, dtype=np.int64).reshape(-1, 3)
    return Answers(a[:, 0], a[:, 1], a[:, 2], n_tasks, n_workers, n_labels)


def _code(values) -> np.ndarray:
    """Codes back from ints or from our zero-padded string ids."""
    return np.array([int(v[1:]) if isinstance(v, str) else int(v) for v in values], dtype=np.int64)


def ck_task_matrix(df: pd.DataFrame, n_tasks: int, n_labels: int) -> np.ndarray:
    """crowd-kit's probas_ (present tasks x present labels) as (n_tasks, n_labels): NaN rows for
    tasks without answers, 0 for labels without answers."""
    out = np.full((n_tasks, n_labels), np.nan)
    rows, cols = _code(df.index), _code(df.columns)
    out[rows] = 0.0
    out[np.ix_(rows, cols)] = df.to_numpy(dtype=float)
    return out


def ck_task_labels(s: pd.Series, n_tasks: int) -> np.ndarray:
    out = np.full(n_tasks, -1, dtype=np.int64)
    out[_code(s.index)] = _code(s.to_numpy())
    return out


def ck_worker_vector(s: pd.Series, n_workers: int) -> np.ndarray:
    out = np.full(n_workers, np.nan)
    out[_code(s.index)] = s.to_numpy(dtype=float)
    return out


def assert_errors_match(ours: np.ndarray, errors_df: pd.DataFrame):
    """crowd-kit's errors_ rows are (worker, observed label), columns the true label."""
    w = _code(errors_df.index.get_level_values(0))
    obs = _code(errors_df.index.get_level_values(1))
    true = _code(errors_df.columns)
    ref = errors_df.to_numpy(dtype=float)
    mine = ours[w[:, None], true[None, :], obs[:, None]]
    np.testing.assert_allclose(mine, ref, rtol=0, atol=ATOL)


DATASETS = {
    "overlap3": lambda: synth(1, overlap=3),
    "overlap5": lambda: synth(2, overlap=5, n_labels=5),
    "overlap2to5": lambda: synth(3, overlap=(2, 5), n_labels=3),
    "unused_label": lambda: synth(4, overlap=3, n_labels=4, extra_labels=1),
}


@pytest.fixture(params=list(DATASETS))
def answers(request) -> Answers:
    return DATASETS[request.param]()


# --------------------------------------------------------------------------------------------
# Majority vote
# --------------------------------------------------------------------------------------------

# task 0: 2 vs 1 tie; task 1: 0 wins; task 2: no answers; task 3: 3,1,3,1 tie; task 4: 2 alone
TOY_MV = toy(
    [(0, 0, 2), (0, 1, 1), (1, 0, 0), (1, 1, 0), (1, 2, 2), (3, 0, 3), (3, 1, 1), (3, 2, 3), (3, 3, 1), (4, 2, 2)],
    n_tasks=5,
    n_workers=4,
    n_labels=4,
)


def test_vote_counts_by_hand():
    counts = K.vote_counts(*TOY_MV.tl)
    expected = np.zeros((5, 4))
    expected[0, [1, 2]] = 1
    expected[1, 0], expected[1, 2] = 2, 1
    expected[3, [1, 3]] = 2
    expected[4, 2] = 1
    np.testing.assert_array_equal(counts, expected)
    weighted = K.vote_counts(*TOY_MV.tl, weights=np.arange(10) / 10)
    assert weighted[3, 3] == pytest.approx(0.5 + 0.7)
    assert weighted[3, 1] == pytest.approx(0.6 + 0.8)


def test_majority_vote_by_hand_with_lowest_code_tie_rule():
    res = K.majority_vote(*TOY_MV.tl)
    np.testing.assert_array_equal(res.labels, [1, 0, -1, 1, 2])
    np.testing.assert_array_equal(res.tied, [True, False, False, True, False])
    assert res.n_tied == 2
    expected = np.array([[0, 0.5, 0.5, 0], [2 / 3, 0, 1 / 3, 0], [np.nan] * 4, [0, 0.5, 0, 0.5], [0, 0, 1, 0]])
    np.testing.assert_allclose(res.probas, expected, rtol=0, atol=ATOL)


def test_majority_vote_ties_do_not_depend_on_row_order_unlike_crowdkit():
    ck = pytest.importorskip("crowdkit.aggregation")
    ours, theirs = set(), set()
    for seed in range(12):
        a = TOY_MV.permuted(seed)
        ours.add(tuple(K.majority_vote(*a.tl).labels))
        theirs.add(tuple(ck_task_labels(ck.MajorityVote().fit_predict(a.frame(sort_by_label=False)), 5)))
    assert ours == {(1, 0, -1, 1, 2)}
    # crowd-kit's answer on tied tasks follows the order in which labels first appear.
    assert len(theirs) > 1


def test_majority_vote_weighted_near_tie_is_a_tie():
    # 0.4 + 0.2 != 0.6 in floating point; both sides are 3/5 of a vote.
    a = toy([(0, 0, 1), (0, 1, 1), (0, 2, 0)], 1, 3, 2)
    res = K.majority_vote(*a.tl, weights=np.array([0.4, 0.2, 0.6]))
    assert res.tied[0] and res.labels[0] == 0
    res = K.majority_vote(*a.tl, weights=np.array([0.2, 0.4, 0.6]))
    assert res.tied[0] and res.labels[0] == 0


@pytest.mark.parametrize("strings", [False, True])
def test_majority_vote_matches_crowdkit(answers, strings):
    ck = pytest.importorskip("crowdkit.aggregation")
    res = K.majority_vote(*answers.tl)
    mv = ck.MajorityVote().fit(answers.frame(strings=strings))
    np.testing.assert_allclose(
        res.probas, ck_task_matrix(mv.probas_, answers.n_tasks, answers.n_labels), rtol=0, atol=ATOL
    )
    np.testing.assert_array_equal(res.labels, ck_task_labels(mv.labels_, answers.n_tasks))
    assert res.n_tied > 0  # the data does exercise the tie rule
    # In the original (shuffled) row order crowd-kit agrees wherever there is no tie.
    mv_raw = ck.MajorityVote().fit(answers.frame(strings=strings, sort_by_label=False))
    raw = ck_task_labels(mv_raw.labels_, answers.n_tasks)
    np.testing.assert_array_equal(res.labels[~res.tied], raw[~res.tied])


# --------------------------------------------------------------------------------------------
# Wawa
# --------------------------------------------------------------------------------------------


def test_wawa_by_hand():
    a = toy(
        [(0, 0, 0), (0, 1, 0), (0, 2, 1), (0, 2, 1), (1, 1, 1), (1, 2, 1), (2, 0, 1), (2, 0, 1), (2, 2, 0)], 3, 3, 2
    )
    res = K.wawa(*a.twl)
    # MV: t0 is 2 vs 2 (w2 answered twice) -> lowest code 0; t1 -> 1; t2 -> 1 (w0 twice vs w2).
    np.testing.assert_array_equal(res.majority.labels, [0, 1, 1])
    np.testing.assert_array_equal(res.majority.tied, [True, False, False])
    # Skills over distinct (task, label) answers, as crowd-kit's get_accuracy: w0 2/2, w1 2/2,
    # w2: (t0, 1) wrong (its duplicate counted once), (t1, 1) right, (t2, 0) wrong -> 1/3.
    np.testing.assert_allclose(res.skills, [1.0, 1.0, 1 / 3], rtol=0, atol=ATOL)
    # Weighted votes (every row counts): t0: 0 -> 1 + 1, 1 -> 1/3 + 1/3; t1: 1 -> 1 + 1/3;
    # t2: 1 -> 1 + 1, 0 -> 1/3.
    np.testing.assert_allclose(res.probas, [[0.75, 0.25], [0, 1], [1 / 7, 6 / 7]], rtol=0, atol=ATOL)
    np.testing.assert_array_equal(res.labels, [0, 1, 1])
    ck = pytest.importorskip("crowdkit.aggregation")
    w = ck.Wawa()
    np.testing.assert_allclose(w.fit_predict_proba(a.frame()).to_numpy(), res.probas, rtol=0, atol=ATOL)
    np.testing.assert_allclose(w.skills_.sort_index().to_numpy(), res.skills, rtol=0, atol=ATOL)


@pytest.mark.parametrize("strings", [False, True])
def test_wawa_matches_crowdkit(answers, strings):
    ck = pytest.importorskip("crowdkit.aggregation")
    res = K.wawa(*answers.twl)
    df = answers.frame(strings=strings)
    w = ck.Wawa()
    probas = w.fit_predict_proba(df)
    np.testing.assert_allclose(res.skills, ck_worker_vector(w.skills_, answers.n_workers), rtol=0, atol=ATOL)
    np.testing.assert_allclose(res.probas, ck_task_matrix(probas, answers.n_tasks, answers.n_labels), rtol=0, atol=ATOL)
    theirs = ck_task_labels(w.labels_, answers.n_tasks)
    np.testing.assert_array_equal(res.labels[~res.tied], theirs[~res.tied])
    # On tied tasks crowd-kit (rows sorted by label) must have picked one of the top labels.
    tied = np.flatnonzero(res.tied)
    top = res.probas[tied].max(axis=1)
    assert np.all(res.probas[tied, theirs[tied]] >= top - 1e-9)


# --------------------------------------------------------------------------------------------
# Dawid-Skene
# --------------------------------------------------------------------------------------------


def _check_ds_against(res: K.DawidSkeneResult, model, a: Answers):
    np.testing.assert_allclose(res.probas, ck_task_matrix(model.probas_, a.n_tasks, a.n_labels), rtol=0, atol=ATOL)
    priors = np.zeros(a.n_labels)
    priors[_code(model.priors_.index)] = model.priors_.to_numpy(dtype=float)
    np.testing.assert_allclose(res.priors, priors, rtol=0, atol=ATOL)
    assert_errors_match(res.errors, model.errors_)
    assert res.n_iter_run == len(model.loss_history_)
    np.testing.assert_allclose(res.loss_history, model.loss_history_, rtol=0, atol=ATOL)
    # Labels: identical wherever the top posterior is not within 1e-9 of the runner-up.
    theirs = ck_task_labels(model.labels_, a.n_tasks)
    answered = res.labels >= 0
    srt = np.sort(res.probas[answered], axis=1)
    clear = np.zeros(a.n_tasks, dtype=bool)
    clear[answered] = srt[:, -1] - srt[:, -2] > 1e-9
    np.testing.assert_array_equal(res.labels[clear], theirs[clear])
    # Elsewhere (ties, frequent with n_iter=0 where P is the vote share) crowd-kit's label is
    # also at the top.
    near = np.flatnonzero(answered & ~clear)
    assert np.all(res.probas[near, theirs[near]] >= res.probas[near].max(axis=1) - 1e-9)
    np.testing.assert_array_equal(res.labels[~answered], -1)


@pytest.mark.parametrize("strings", [False, True])
@pytest.mark.parametrize("n_iter", [0, 3, 100])
def test_dawid_skene_matches_crowdkit(answers, strings, n_iter):
    ck = pytest.importorskip("crowdkit.aggregation")
    res = K.dawid_skene(*answers.twl, n_iter=n_iter)
    model = ck.DawidSkene(n_iter=n_iter).fit(answers.frame(strings=strings))
    _check_ds_against(res, model, answers)
    assert res.skills is None
    assert res.converged == (res.n_iter_run < n_iter)


@pytest.mark.parametrize("n_iter", [0, 3, 100])
def test_one_coin_dawid_skene_matches_crowdkit(answers, n_iter):
    ck = pytest.importorskip("crowdkit.aggregation")
    res = K.one_coin_dawid_skene(*answers.twl, n_iter=n_iter)
    model = ck.OneCoinDawidSkene(n_iter=n_iter).fit(answers.frame())
    _check_ds_against(res, model, answers)
    np.testing.assert_allclose(res.skills, ck_worker_vector(model.skills_, answers.n_workers), rtol=0, atol=ATOL)


def test_dawid_skene_blocked_e_step_matches_crowdkit(monkeypatch):
    # Large runs split the E-step into task blocks run on threads; force many small blocks.
    ck = pytest.importorskip("crowdkit.aggregation")
    monkeypatch.setattr(kernels_dawid_skene, "_BLOCK_TASKS", 16)
    a = synth(5, n_tasks=300, overlap=(2, 5))
    _check_ds_against(K.dawid_skene(*a.twl), ck.DawidSkene(n_iter=100).fit(a.frame()), a)
    res = K.one_coin_dawid_skene(*a.twl)
    _check_ds_against(res, ck.OneCoinDawidSkene(n_iter=100).fit(a.frame()), a)


def test_dawid_skene_float32_e_step_keeps_labels_and_probabilities_to_1e6(monkeypatch):
    # Runs of FLOAT32_ANSWERS answers and more take the E-step's exp and log in float32; force
    # either path on a run big enough for many blocks and compare them.
    a = synth(11, n_tasks=20_000, n_workers=300, n_labels=5, overlap=(2, 6), n_repeat=500)
    for fn in (K.dawid_skene, K.one_coin_dawid_skene):
        monkeypatch.setattr(kernels_dawid_skene, "FLOAT32_ANSWERS", 10**12)
        ref = fn(*a.twl, n_iter=20, tol=-np.inf)
        monkeypatch.setattr(kernels_dawid_skene, "FLOAT32_ANSWERS", 0)
        fast = fn(*a.twl, n_iter=20, tol=-np.inf)
        np.testing.assert_array_equal(fast.labels, ref.labels)
        np.testing.assert_allclose(fast.probas, ref.probas, rtol=0, atol=1e-6)
        np.testing.assert_allclose(fast.priors, ref.priors, rtol=0, atol=1e-6)
        np.testing.assert_allclose(fast.loss_history, ref.loss_history, rtol=0, atol=1e-6)
        assert np.nanmax(np.abs(fast.probas - ref.probas)) > 0  # the float32 path did run


def test_dawid_skene_by_hand():
    # t0: w0 -> 0, w1 -> 0; t1: w0 -> 1, w1 -> 0. MV shares: t0 = [1, 0], t1 = [.5, .5].
    a = toy([(0, 0, 0), (0, 1, 0), (1, 0, 1), (1, 1, 0)], 2, 2, 2)
    res = K.dawid_skene(*a.twl, n_iter=1)
    # M-step from MV: w0 | true 0 -> obs 0: 1/(1 + .5), obs 1: .5/1.5; w0 | true 1 -> obs 0: eps/(.5+eps),
    # obs 1: .5/(.5+eps); w1 used only label 0, so crowd-kit normalizes over it: 1 for both true labels.
    # E-step: t0 ~ [.75 * 2/3 * 1, .25 * 2e-10 * 1] -> [1, 0]; t1 ~ [.75 * 1/3, .25 * 1] -> [.5, .5].
    np.testing.assert_allclose(res.probas, [[1, 0], [0.5, 0.5]], rtol=0, atol=ATOL)
    np.testing.assert_allclose(res.priors, [0.75, 0.25], rtol=0, atol=ATOL)
    np.testing.assert_allclose(res.errors[0], [[2 / 3, 1 / 3], [0, 1]], rtol=0, atol=ATOL)
    np.testing.assert_allclose(res.errors[1], [[1, 0], [1, 0]], rtol=0, atol=ATOL)
    np.testing.assert_array_equal(res.labels, [0, 0])
    ck = pytest.importorskip("crowdkit.aggregation")
    _check_ds_against(res, ck.DawidSkene(n_iter=1).fit(a.frame()), a)


def test_aggregators_leave_codes_without_answers_empty():
    a = synth(6, n_tasks=60, n_workers=10, n_labels=3, extra_tasks=3, extra_workers=2, extra_labels=1)
    no_task = np.arange(a.n_tasks) >= 60
    for res in (K.majority_vote(*a.tl), K.wawa(*a.twl), K.dawid_skene(*a.twl), K.one_coin_dawid_skene(*a.twl)):
        np.testing.assert_array_equal(res.labels[no_task], -1)
        assert np.isnan(res.probas[no_task]).all()
        np.testing.assert_array_equal(res.probas[~no_task, 3], 0.0)
        np.testing.assert_allclose(res.probas[~no_task].sum(axis=1), 1.0, rtol=0, atol=ATOL)
    assert np.isnan(K.wawa(*a.twl).skills[10:]).all()
    for res in (K.dawid_skene(*a.twl), K.one_coin_dawid_skene(*a.twl)):
        assert np.isnan(res.errors[10:]).all()
        assert np.isnan(res.errors[:10, 3, :]).all()  # true label 3 is outside the model
        np.testing.assert_array_equal(res.errors[:10, :3, 3], 0.0)  # nobody answers 3
        np.testing.assert_allclose(res.errors[:10, :3, :].sum(axis=2), 1.0, rtol=0, atol=1e-6)
        assert res.priors[3] == 0.0
    empty = K.dawid_skene(np.zeros(0, int), np.zeros(0, int), np.zeros(0, int), 2, 2, 2)
    assert (empty.labels == -1).all() and np.isnan(empty.probas).all() and empty.n_iter_run == 0


# --------------------------------------------------------------------------------------------
# Krippendorff's alpha and Fleiss' kappa
# --------------------------------------------------------------------------------------------


def reliability_matrix(a: Answers, coder: str) -> np.ndarray:
    """coder x unit matrix with NaN for missing; coder = the worker, or the answer's rank
    within its task (any coder assignment gives the same nominal alpha)."""
    df = pd.DataFrame({"task": a.task, "worker": a.worker, "label": a.label})
    if coder == "rank":
        df["coder"] = df.groupby("task").cumcount()
    else:
        assert not df.duplicated(["task", "worker"]).any()
        df["coder"] = df["worker"]
    m = np.full((df["coder"].max() + 1, a.n_tasks), np.nan)
    m[df["coder"], df["task"]] = df["label"]
    return m


@pytest.mark.parametrize(
    "a, coder",
    [
        (synth(7, overlap=(1, 5), n_repeat=0), "worker"),
        (synth(8, overlap=3, n_repeat=0, n_labels=5), "worker"),
        (synth(9, overlap=(2, 6), n_repeat=30), "rank"),
        (synth(10, overlap=5, n_labels=2, extra_labels=2), "rank"),
    ],
)
def test_krippendorff_alpha_matches_package(a, coder):
    kd = pytest.importorskip("krippendorff")
    ref = kd.alpha(reliability_data=reliability_matrix(a, coder), level_of_measurement="nominal")
    assert K.krippendorff_alpha_nominal(*a.tl) == pytest.approx(ref, abs=ATOL)


def test_krippendorff_alpha_undefined_is_nan():
    same = toy([(0, 0, 1), (0, 1, 1), (1, 0, 1), (1, 2, 1), (2, 1, 0)], 3, 3, 2)  # pairable answers all 1
    assert np.isnan(K.krippendorff_alpha_nominal(*same.tl))
    singles = toy([(0, 0, 1), (1, 0, 0)], 2, 1, 2)
    assert np.isnan(K.krippendorff_alpha_nominal(*singles.tl))


@pytest.mark.parametrize("overlap, n_labels, seed", [(3, 4, 11), (5, 5, 12), (2, 3, 13)])
def test_fleiss_kappa_matches_statsmodels_at_constant_overlap(overlap, n_labels, seed):
    ir = pytest.importorskip("statsmodels.stats.inter_rater")
    a = synth(seed, overlap=overlap, n_labels=n_labels, n_single=0, n_repeat=0, extra_tasks=0)
    items = reliability_matrix(a, "rank").T.astype(int)  # items x raters, all present
    table, _ = ir.aggregate_raters(items, n_cat=n_labels)
    ref = ir.fleiss_kappa(table, method="fleiss")
    assert K.fleiss_kappa(*a.tl) == pytest.approx(ref, abs=ATOL)


def test_fleiss_kappa_varying_overlap_by_hand():
    # items: [0,0,1], [1,1], [0,1,2,2], [2] (one answer: drops out)
    a = toy(
        [(0, 0, 0), (0, 1, 0), (0, 2, 1), (1, 0, 1), (1, 1, 1), (2, 0, 0), (2, 1, 1), (2, 2, 2), (2, 3, 2), (3, 0, 2)],
        4,
        4,
        3,
    )
    # P_i = 1/3, 1, 1/6 -> P_bar = 1/2; pi = mean of shares = [11/36, 19/36, 6/36];
    # P_e = 518/1296; kappa = (1/2 - 518/1296) / (1 - 518/1296) = 130/778.
    assert K.fleiss_kappa(*a.tl) == pytest.approx(130 / 778, abs=ATOL)
    assert np.isnan(K.fleiss_kappa(*toy([(0, 0, 1), (1, 0, 0)], 2, 1, 2).tl))


# --------------------------------------------------------------------------------------------
# Per-item and per-worker agreement
# --------------------------------------------------------------------------------------------


def test_item_agreement_by_hand():
    a = toy([(0, 0, 0), (0, 1, 0), (0, 2, 1), (1, 0, 2), (3, 0, 0), (3, 1, 1)], 4, 3, 3)
    res = K.item_agreement(*a.tl)
    np.testing.assert_array_equal(res.n_answers, [3, 1, 0, 2])
    np.testing.assert_allclose(res.majority_share, [2 / 3, 1, np.nan, 0.5], rtol=0, atol=ATOL)
    h = -(2 / 3 * np.log2(2 / 3) + 1 / 3 * np.log2(1 / 3))
    np.testing.assert_allclose(res.entropy_bits, [h, 0, np.nan, 1], rtol=0, atol=ATOL)
    np.testing.assert_allclose(res.pairwise_agreement, [1 / 3, np.nan, np.nan, 0], rtol=0, atol=ATOL)
    agg = K.item_agreement(*a.tl, aggregate=np.array([1, 2, -1, 0]))
    np.testing.assert_allclose(agg.majority_share, [1 / 3, 1, np.nan, 0.5], rtol=0, atol=ATOL)


def test_worker_accuracy_by_hand():
    res = K.worker_accuracy(np.array([0, 0, 2, 2, 2]), np.array([True, False, True, True, False]), 4)
    np.testing.assert_array_equal(res.n, [2, 0, 3, 0])
    np.testing.assert_array_equal(res.n_correct, [1, 0, 2, 0])
    np.testing.assert_allclose(res.accuracy, [0.5, np.nan, 2 / 3, np.nan])


def _reference_pairs(a: Answers, min_shared: int) -> dict:
    """Pairs via pandas merges and sklearn, one label per (task, worker): the most frequent,
    lowest code on a tie."""
    metrics = pytest.importorskip("sklearn.metrics")
    df = pd.DataFrame({"task": a.task, "worker": a.worker, "label": a.label})
    one = df.groupby(["task", "worker"])["label"].agg(lambda s: s.value_counts().sort_index().idxmax()).reset_index()
    out = {}
    by_worker = {w: g.set_index("task")["label"] for w, g in one.groupby("worker")}
    workers = sorted(by_worker)
    for i, wa in enumerate(workers):
        for wb in workers[i + 1 :]:
            shared = by_worker[wa].index.intersection(by_worker[wb].index)
            if len(shared) < min_shared:
                continue
            la, lb = by_worker[wa].loc[shared].to_numpy(), by_worker[wb].loc[shared].to_numpy()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                kappa = metrics.cohen_kappa_score(la, lb)
            out[(wa, wb)] = (len(shared), float(np.mean(la == lb)), float(kappa))
    return out


@pytest.mark.parametrize("seed, min_shared", [(14, 5), (15, 12), (16, 1)])
@pytest.mark.parametrize("dense_limit", [1 << 25, 0], ids=["bincount", "sorted-keys"])
@pytest.mark.parametrize("chunk_pairs", [1 << 22, 7], ids=["one-chunk", "many-chunks"])
def test_pairwise_agreement_matches_sklearn(seed, min_shared, dense_limit, chunk_pairs, monkeypatch):
    # both ways of counting pairs: a dense bincount (few workers) and sorted keys (many); the
    # tasks in one chunk or in chunks of ~7 pairs (counts merged across chunks)
    monkeypatch.setattr(kernels_agreement, "_DENSE_PAIR_KEYS", dense_limit)
    monkeypatch.setattr(kernels_agreement, "_CHUNK_PAIRS", chunk_pairs)
    a = synth(seed, n_tasks=200, n_workers=9, n_labels=3, overlap=(2, 4), n_repeat=40)
    res = K.pairwise_agreement(a.task, a.worker, a.label, a.n_workers, a.n_labels, min_shared=min_shared)
    ref = _reference_pairs(a, min_shared)
    assert len(ref) > 0
    assert list(zip(res.worker_a.tolist(), res.worker_b.tolist(), strict=True)) == sorted(ref)
    np.testing.assert_array_equal(res.n_shared, [ref[p][0] for p in sorted(ref)])
    np.testing.assert_allclose(res.agreement, [ref[p][1] for p in sorted(ref)], rtol=0, atol=ATOL)
    np.testing.assert_allclose(res.kappa, [ref[p][2] for p in sorted(ref)], rtol=0, atol=ATOL)


def test_pairwise_agreement_by_hand():
    # w0 and w1 share t0..t3; w1 answered t0 twice (0, 1, 1 -> 1); w2 shares one task only.
    a = toy(
        [(0, 0, 1), (0, 1, 0), (0, 1, 1), (0, 1, 1), (1, 0, 1), (1, 1, 1), (2, 0, 0), (2, 1, 0), (3, 0, 0), (3, 1, 1)]
        + [(3, 2, 0), (4, 2, 1)],
        5,
        3,
        2,
    )
    res = K.pairwise_agreement(a.task, a.worker, a.label, 3, 2, min_shared=2)
    assert res.worker_a.tolist() == [0] and res.worker_b.tolist() == [1]
    # w0: 1,1,0,0  w1: 1,1,0,1 -> p_o = 3/4; p_e = (2/4)(3/4) + (2/4)(1/4) = 1/2; kappa = 1/2.
    assert res.n_shared[0] == 4 and res.agreement[0] == 0.75 and res.kappa[0] == pytest.approx(0.5)
    same = toy([(0, 0, 1), (0, 1, 1), (1, 0, 1), (1, 1, 1)], 2, 2, 2)
    assert np.isnan(K.pairwise_agreement(same.task, same.worker, same.label, 2, 2, min_shared=2).kappa[0])
    with pytest.raises(ValueError, match="max_task_pairs"):
        K.pairwise_agreement(a.task, a.worker, a.label, 3, 2, min_shared=1, max_task_pairs=2)


def test_narrow_codes_give_the_int64_results():
    # the kernels take int8/int32 codes as they are (no int64 copy of 10^7 codes): the keys they
    # combine (a * n_workers + b, label * n_tasks + task) must not wrap. 50,000 workers make
    # a * n_workers + b exceed int32, so a wrap would pair the wrong annotators.
    a = synth(21, n_tasks=300, n_workers=12, n_labels=3, overlap=(2, 4), n_repeat=10)
    spread = np.array([0, 7, 999, 4_321, 12_345, 20_000, 30_001, 39_999, 41_000, 45_678, 48_888, 49_999])
    n_workers = 50_000
    wide = (a.task.astype(np.int64), spread[a.worker].astype(np.int64), a.label.astype(np.int64))
    narrow = (a.task.astype(np.int32), spread[a.worker].astype(np.int32), a.label.astype(np.int8))
    ref = K.pairwise_agreement(*wide, n_workers, a.n_labels, min_shared=3)
    got = K.pairwise_agreement(*narrow, n_workers, a.n_labels, min_shared=3)
    assert len(ref.worker_a) > 0 and ref.worker_b.max() > 46_341  # past sqrt(2^31)
    for field in ("worker_a", "worker_b", "n_shared", "agreement", "kappa"):
        np.testing.assert_array_equal(getattr(got, field), getattr(ref, field))
    np.testing.assert_array_equal(
        K.vote_counts(narrow[0], narrow[2], a.n_tasks, a.n_labels),
        K.vote_counts(wide[0], wide[2], a.n_tasks, a.n_labels),
    )
    ds_wide = K.dawid_skene(*wide, a.n_tasks, n_workers, a.n_labels, n_iter=5)
    ds_narrow = K.dawid_skene(*narrow, a.n_tasks, n_workers, a.n_labels, n_iter=5)
    np.testing.assert_array_equal(ds_narrow.labels, ds_wide.labels)
    np.testing.assert_allclose(ds_narrow.probas, ds_wide.probas, rtol=0, atol=1e-12)


def test_pair_keys_at_the_top_of_int32_give_the_int64_results():
    # under 46,341 annotators the pair keys a * n_workers + b are int32 (faster to sort): with
    # codes up to 46,339 the largest key is 2,147,441,939, just under 2^31 - 1; the same codes
    # counted with 50,000 annotators take int64 keys and must give the same pairs and figures
    a = synth(22, n_tasks=300, n_workers=10, n_labels=3, overlap=(2, 4), n_repeat=10)
    spread = np.array([0, 5, 17_000, 33_333, 46_000, 46_300, 46_337, 46_338, 46_339, 46_336])
    w = spread[a.worker].astype(np.int32)
    assert kernels_agreement.key_dtype(46_340**2) is np.int32
    assert kernels_agreement.key_dtype(46_341**2) is np.int64
    got = K.pairwise_agreement(a.task, w, a.label, 46_340, a.n_labels, min_shared=3)
    ref = K.pairwise_agreement(a.task, w, a.label, 50_000, a.n_labels, min_shared=3)
    assert (got.worker_a * 46_340 + got.worker_b).max() > 2**31 - 200_000  # keys near the top did occur
    for field in ("worker_a", "worker_b", "n_shared", "agreement", "kappa"):
        np.testing.assert_array_equal(getattr(got, field), getattr(ref, field))


# --------------------------------------------------------------------------------------------
# Wilson interval
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_interval_matches_statsmodels(confidence):
    prop = pytest.importorskip("statsmodels.stats.proportion")
    s = np.array([0, 1, 3, 5, 7, 50, 999, 1000, 0])
    n = np.array([1, 1, 10, 5, 20, 80, 1000, 1000, 0])
    low, high = K.wilson_interval(s, n, confidence)
    ok = n > 0
    ref_low, ref_high = prop.proportion_confint(s[ok], n[ok], alpha=1 - confidence, method="wilson")
    np.testing.assert_allclose(low[ok], ref_low, rtol=0, atol=ATOL)
    np.testing.assert_allclose(high[ok], ref_high, rtol=0, atol=ATOL)
    assert np.isnan(low[~ok]).all() and np.isnan(high[~ok]).all()


# --------------------------------------------------------------------------------------------
# Invariants
# --------------------------------------------------------------------------------------------

KERNELS = {
    "vote_counts": lambda a: K.vote_counts(*a.tl),
    "majority_vote": lambda a: K.majority_vote(*a.tl),
    "weighted_majority_vote": lambda a: K.majority_vote(*a.tl, weights=(a.worker % 5 + 1) / 10.0),
    "wawa": lambda a: K.wawa(*a.twl),
    "dawid_skene": lambda a: K.dawid_skene(*a.twl),
    "one_coin_dawid_skene": lambda a: K.one_coin_dawid_skene(*a.twl),
    "krippendorff_alpha_nominal": lambda a: K.krippendorff_alpha_nominal(*a.tl),
    "fleiss_kappa": lambda a: K.fleiss_kappa(*a.tl),
    "item_agreement": lambda a: K.item_agreement(*a.tl),
    "worker_accuracy": lambda a: K.worker_accuracy(a.worker, a.label == 0, a.n_workers),
    "pairwise_agreement": lambda a: K.pairwise_agreement(a.task, a.worker, a.label, a.n_workers, a.n_labels, 3),
}


def _assert_same(x, y, path="result"):
    if hasattr(x, "__dataclass_fields__"):
        for f in x.__dataclass_fields__:
            _assert_same(getattr(x, f), getattr(y, f), f"{path}.{f}")
    elif isinstance(x, tuple):
        for i, (u, v) in enumerate(zip(x, y, strict=True)):
            _assert_same(u, v, f"{path}[{i}]")
    elif x is None:
        assert y is None, path
    else:
        xa, ya = np.asarray(x), np.asarray(y)
        if xa.dtype.kind in "biu":
            np.testing.assert_array_equal(xa, ya, err_msg=path)
        else:
            np.testing.assert_allclose(xa, ya, rtol=0, atol=1e-12, err_msg=path)


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_row_order_does_not_change_any_result(kernel):
    # Overlap 2-4 over 3 labels with repeats: many ties, including weighted ones.
    a = synth(17, n_tasks=150, n_workers=8, n_labels=3, overlap=(2, 4), n_repeat=40)
    base = KERNELS[kernel](a)
    for seed in range(3):
        _assert_same(base, KERNELS[kernel](a.permuted(seed)), kernel)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: K.majority_vote(np.array([0, 3]), np.array([0, 1]), 3, 2), "'task' parameter of majority_vote"),
        (lambda: K.majority_vote(np.array([0, 1]), np.array([0, -1]), 3, 2), "'label' parameter"),
        (lambda: K.wawa(np.array([0]), np.array([0, 1]), np.array([0]), 1, 2, 1), "one element per answer"),
        (lambda: K.dawid_skene(np.array([0.0]), np.array([0]), np.array([0]), 1, 1, 1), "integer codes"),
        (lambda: K.dawid_skene(np.array([0]), np.array([0]), np.array([0]), 1, 1, 1, n_iter=-1), "'n_iter'"),
        (lambda: K.wilson_interval([1], [2], confidence=1.5), "'confidence'"),
        (lambda: K.majority_vote(np.array([0]), np.array([0]), 1, 1, weights=np.array([-1.0])), "'weights'"),
        (lambda: K.pairwise_agreement(np.array([-1]), np.array([0]), np.array([0]), 1, 1), "'task'"),
        (lambda: K.item_agreement(np.array([0]), np.array([0]), 1, 1, aggregate=np.array([3])), "'aggregate'"),
    ],
)
def test_bad_input_names_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64])
def test_order_by_is_a_stable_argsort(dtype):
    from analytics.kernels._arrays import order_by

    rng = np.random.default_rng(5)
    for size in (1, 7, 120):
        codes = rng.integers(0, size, 5_000).astype(dtype)
        np.testing.assert_array_equal(order_by(codes, size), np.argsort(codes, kind="stable"))
    assert len(order_by(np.zeros(0, dtype=dtype), 3)) == 0


def test_tied_tasks_by_hand():
    from analytics.kernels import TIE_RTOL, tied_tasks

    probas = np.array([[0.5, 0.5, 0.0], [0.7, 0.3, 0.0], [np.nan] * 3, [0.4, 0.4 + TIE_RTOL / 2, 0.2], [0.2, 0.2, 0.6]])
    labels = np.array([0, 0, -1, 1, 2])
    assert tied_tasks(probas, labels).tolist() == [True, False, False, True, False]
    # every task labeled (the probas are read in place, not copied)
    assert tied_tasks(probas[[0, 1, 4]], labels[[0, 1, 4]]).tolist() == [True, False, False]
    assert tied_tasks(np.zeros((0, 3)), np.zeros(0, dtype=np.int64)).tolist() == []


def test_majority_choice_by_hand_and_as_majority_from_counts():
    # tasks: a clear winner, a tie (lowest code wins), no votes, one vote
    counts = np.asfortranarray(np.array([[1.0, 3.0, 0.0], [2.0, 2.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    labels, tied, share = K.majority_choice(counts)
    assert labels.tolist() == [1, 0, -1, 2]
    assert tied.tolist() == [False, True, False, False]
    np.testing.assert_array_equal(share, [0.75, 0.4, np.nan, 1.0])
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 4, size=(5_000, 4)).astype(np.float64)
    full = K.majority_from_counts(counts)
    labels, tied, share = K.majority_choice(counts)
    assert np.array_equal(labels, full.labels) and np.array_equal(tied, full.tied)
    rows = np.flatnonzero(labels >= 0)
    assert np.array_equal(share[rows], full.probas[rows, labels[rows]])  # bit for bit
    assert np.isnan(share[labels < 0]).all()
