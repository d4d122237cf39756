"""A seeded, simulated food-labeling project, written as Toloka exports and imported as versions.

It reproduces the project crowdlens was conceived for: 105 candidates take an exam of 10 images
(5 solid, 4 liquid, 1 mixed plate whose right answer is "other" and that about 49 % get right) with
a pass mark of 100 %; those who pass label a main pool of 980 images (882 regular, 98 control) at
overlap 3 in suites of 10 (one control task per nine regular ones) in about 30 minutes; a
fast-response rule, and a control-task rule that removes an annotator on one wrong control
answer; about 6.54 USD in all. Three versions with lineage: the raw import, the annotated
(reviewed) version, and a re-annotation of the lowest-agreement items merged back.

The images are small generated PNGs written into the workspace (``media/food-types-demo/``) and
named by the tasks by that relative path, so they show offline.

Everything here is simulated and every version says so (``simulated: true``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.model import PoolInfo, Pricing, Run, RunMeta, merge_runs
from analytics.sources.demo_images import write_images
from analytics.sources.toloka_tsv import read_toloka_tsv
from analytics.sources.workspace import VersionInfo, Workspace
from analytics.versions.files import import_run

SEED = 20240917
LABELS = ("solid", "liquid", "other")
PROJECT = "Food type labeling (simulated demo)"
INSTRUCTIONS = (
    "Look at the photo and choose what the food on it is: SOLID (bread, fruit, a steak), LIQUID "
    "(soup, juice, a smoothie) or OTHER (a plate that mixes both, or no food at all)."
)
EXAM_POOL, MAIN_POOL, REANNOTATION_POOL = "41000001", "41000002", "41000003"
N_CANDIDATES = 105
N_REGULAR, N_CONTROL, OVERLAP, SUITE = 882, 98, 3, 10
EXAM_REWARD, MAIN_REWARD, REANNOTATION_REWARD = 0.005, 0.01735, 0.02
FEE_RATE, FEE_MINIMUM = 0.30, 0.001
EXAM_PASS = 1.0  # every exam item right
TRAP_RIGHT = 0.54  # of the careful candidates; with the spammers about 49 % of all
FAST_RULE = {
    "type": "fast_responses",
    "history_size": 5,
    "count": 1,
    "fast_submit_threshold_seconds": 15,
    "ban_days": 1,
    "scope": "PROJECT",
}
CONTROL_RULE = {
    "type": "golden_set",
    "history_size": 10,
    "min_answers": 1,
    "min_correct_percent": 100,  # one wrong control answer removes the annotator
    "ban_days": 7,
    "scope": "PROJECT",
}
T0 = dt.datetime(2024, 9, 16, 9, 0, tzinfo=dt.timezone.utc)
MEDIA_DIR = "media/food-types-demo"  # under the workspace root; the tasks name their image by this path
IMAGE_BASE = MEDIA_DIR + "/"
MAIN_POOL_MINUTES = 30  # the main pool, first suite taken to last submitted: about this long
VERSION_NAMESPACE = uuid.UUID("6f1d3c1e-2f5e-4a8e-9d8e-5b0c1f0d7a11")


@dataclasses.dataclass
class _Worker:
    id: str
    skill: float
    seconds_per_task: float
    spammer: bool
    activity: float
    careless: bool = False
    drifter: bool = False
    passed: bool = False
    banned_at: dt.datetime | None = None


def _hex(rng: np.random.Generator, n: int = 32) -> str:
    return "".join(rng.choice(list("0123456789abcdef"), size=n))


def _answer(rng, truth: int, skill: float, spammer: bool) -> int:
    if spammer:
        return int(rng.integers(0, 3))
    if rng.random() < skill:
        return truth
    # confusions: solid and liquid are mistaken for "other" more than for each other
    others = [x for x in range(3) if x != truth]
    weights = np.array([0.7 if x == 2 else 0.3 for x in others])
    return int(rng.choice(others, p=weights / weights.sum()))


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds")


ROW_COLUMNS = [
    "INPUT:image",
    "OUTPUT:result",
    "GOLDEN:result",
    "ASSIGNMENT:assignment_id",
    "ASSIGNMENT:task_id",
    "ASSIGNMENT:worker_id",
    "start",
    "secs",
]


def simulate(seed: int = SEED) -> dict[str, object]:
    """The simulated project as Toloka-shaped frames: exam, main, re-annotation, restrictions."""
    # one random stream per part, so that tuning one part does not reshuffle the others
    rng_workers, rng_exam, rng_main, rng_re = (np.random.default_rng([seed, k]) for k in range(4))
    workers = _simulate_workers(rng_workers)
    exam = _simulate_exam(rng_exam, workers)
    eligible = [w for w in workers if w.passed]
    main, restr, regular, clock, images = _simulate_main(rng_main, eligible)
    banned_by_control = set(restr.loc[restr["rule"] == "golden_set", "worker_id"]) if len(restr) else set()
    re, clock = _simulate_reannotation(rng_re, main, regular, eligible, clock)
    return {
        "exam": exam,
        "main": main,
        "reannotation": re,
        "restrictions": restr,
        "banned_by_control": banned_by_control,
        "bonuses": _bonuses(main, clock),
        "workers": workers,
        # every image (its path under the workspace) and what it shows: the exam's golden, the others' truth
        "images": {**dict(zip(exam["INPUT:image"], exam["GOLDEN:result"].map(LABELS.index), strict=True)), **images},
    }


def _simulate_workers(rng: np.random.Generator) -> list[_Worker]:
    # exact counts of each kind of annotator; which candidate is which is random
    kinds = np.array(["spammer"] * 8 + ["careless"] * 10 + ["drifter"] * 8 + ["honest"] * (N_CANDIDATES - 26))
    kinds = kinds[rng.permutation(N_CANDIDATES)]
    workers: list[_Worker] = []
    for kind in kinds:
        spammer = kind == "spammer"
        workers.append(
            _Worker(
                id=_hex(rng),
                skill=float(np.clip(rng.beta(9, 1.6), 0.6, 0.995)),
                seconds_per_task=float(0.9 + rng.random() * 0.6 if spammer else rng.lognormal(np.log(5.0), 0.35)),
                spammer=spammer,
                activity=float(rng.pareto(1.3) + 0.2),
                # careful in the exam, rushing in the paid pool: what the fast-response rule is for
                careless=kind == "careless",
                # careful at first, then guessing without hurrying: only control tasks catch this
                drifter=kind == "drifter",
            )
        )
    return workers


def _export(rows: list[tuple], pool: str, reward: float, status: str | None) -> pd.DataFrame:
    """Rows of (url, label, golden, assignment, task, worker, start, seconds so far) as a Toloka export."""
    frame = pd.DataFrame(rows, columns=ROW_COLUMNS)
    # one submit time per assignment
    total = frame.groupby("ASSIGNMENT:assignment_id")["secs"].transform("max")
    frame["ASSIGNMENT:started"] = frame["start"].map(_iso)
    frame["ASSIGNMENT:submitted"] = [
        _iso(s + dt.timedelta(seconds=float(x))) for s, x in zip(frame["start"], total, strict=True)
    ]
    if status is not None:
        frame["ASSIGNMENT:status"] = status
    frame["ASSIGNMENT:reward"] = f"{reward:.5f}"
    frame["ASSIGNMENT:link"] = [
        f"https://platform.toloka.ai/task/{pool}/{a}" for a in frame["ASSIGNMENT:assignment_id"]
    ]
    return frame.drop(columns=["start", "secs"])


def _simulate_exam(rng: np.random.Generator, workers: list[_Worker]) -> pd.DataFrame:
    """Exam: 10 images, one suite each candidate; sets each worker's ``passed``."""
    exam_truth = [0] * 5 + [1] * 4 + [2]
    exam_tasks = [(_hex(rng, 20), f"{IMAGE_BASE}exam_{i + 1:02d}.png", exam_truth[i]) for i in range(10)]
    exam_rows = []
    t = T0
    for w in workers:
        t = t + dt.timedelta(seconds=float(rng.exponential(180)))
        start = t
        correct = 0
        assignment = f"{_hex(rng, 10)}--{_hex(rng, 24)}"
        secs = 0.0
        for task_id, url, truth in exam_tasks:
            if truth == 2:
                # the mixed plate: a trap that about half the candidates fall into
                ans = 2 if (not w.spammer and rng.random() < TRAP_RIGHT) else int(rng.choice([0, 1], p=[0.6, 0.4]))
            else:
                # the exam images are clear ones: careful candidates get them right almost always
                ans = _answer(rng, truth, min(0.995, w.skill + 0.2), w.spammer)
            correct += ans == truth
            secs += w.seconds_per_task * rng.uniform(0.8, 1.4)
            exam_rows.append((url, LABELS[ans], LABELS[truth], assignment, task_id, w.id, start, secs))
        w.passed = correct / 10 >= EXAM_PASS
    return _export(exam_rows, EXAM_POOL, EXAM_REWARD, "APPROVED")


def _main_items(rng: np.random.Generator) -> tuple[list, list, list]:
    """The main pool's regular and control tasks, and its suites (9 regular + 1 control)."""
    p_true = np.array([0.5, 0.35, 0.15])
    regular = [
        (_hex(rng, 20), f"{IMAGE_BASE}img_{i + 1:04d}.png", int(rng.choice(3, p=p_true)), float(rng.beta(1.2, 8)))
        for i in range(N_REGULAR)
    ]
    control = []
    for i in range(N_CONTROL):
        truth = int(rng.choice(3, p=[0.45, 0.45, 0.10]))
        golden = truth
        if i in (7, 41):
            # two control tasks carry a wrong known answer: most annotators will "miss" them
            golden = (truth + 1) % 3
        control.append((_hex(rng, 20), f"{IMAGE_BASE}ctl_{i + 1:03d}.png", truth, golden, 0.0))
    suites = []
    for _round in range(OVERLAP):
        order = rng.permutation(N_REGULAR)
        ctl_order = rng.permutation(N_CONTROL)
        for s in range(N_REGULAR // (SUITE - 1)):
            suites.append(([int(x) for x in order[s * 9 : (s + 1) * 9]], int(ctl_order[s % N_CONTROL])))
    return regular, control, suites


def _simulate_main(rng: np.random.Generator, eligible: list[_Worker]):
    """The main pool answered suite by suite, the rules banning as they go: (export, restrictions,
    regular tasks, the clock at the end)."""
    regular, control, suites = _main_items(rng)
    weights = np.array([w.activity for w in eligible])
    main_rows: list[tuple] = []
    restrictions = []
    history: dict[str, list] = {w.id: [] for w in eligible}
    done_tasks: dict[str, set] = {w.id: set() for w in eligible}
    clock = T0 + dt.timedelta(days=1)
    # suites are taken at this mean gap, so the pool closes after about MAIN_POOL_MINUTES
    gap = 0.9 * MAIN_POOL_MINUTES * 60 / len(suites)
    free_at: dict[str, dt.datetime] = {}  # an annotator takes their next suite once the last is submitted
    pending = list(range(len(suites)))
    misses = 0
    while pending:
        avail = [i for i, w in enumerate(eligible) if w.banned_at is None]
        if not avail or misses > 10_000:
            raise RuntimeError(f"the demo's main pool ran out of annotators with {len(pending)} suites left")
        if not misses:
            clock = clock + dt.timedelta(seconds=float(rng.exponential(gap)))
        # whoever is free takes the suite (everyone busy: the first to be free)
        free = [i for i in avail if free_at.get(eligible[i].id, clock) <= clock]
        avail = free or [min(avail, key=lambda i: free_at[eligible[i].id])]
        p = weights[avail] / weights[avail].sum()
        w = eligible[avail[int(rng.choice(len(avail), p=p))]]
        # the first pending suite this worker has not seen any task of
        pick = next((k for k, s in enumerate(pending) if not (set(suites[s][0]) & done_tasks[w.id])), None)
        if pick is None:
            misses += 1
            continue
        misses = 0
        reg_idx, ctl_i = suites[pending.pop(pick)]
        start = max(clock, free_at.get(w.id, clock))
        secs, ctl_correct = _answer_suite(
            rng, w, reg_idx, ctl_i, regular, control, history, done_tasks, start, main_rows
        )
        submitted = start + dt.timedelta(seconds=secs)
        free_at[w.id] = submitted + dt.timedelta(seconds=float(rng.exponential(5)))
        history[w.id].append((secs, ctl_correct, submitted))
        ban = _check_rules(history[w.id])
        if ban is not None:
            w.banned_at = submitted
            restrictions.append(_restriction(w.id, *ban, submitted))
    clock = max([clock, *free_at.values()])
    images = {url: truth for _, url, truth, *_ in [*regular, *control]}
    return _export(main_rows, MAIN_POOL, MAIN_REWARD, None), pd.DataFrame(restrictions), regular, clock, images


def _answer_suite(rng, w: _Worker, reg_idx, ctl_i, regular, control, history, done_tasks, start, rows) -> tuple:
    """One worker's answers to one suite, appended to ``rows``: (seconds taken, control correct)."""
    assignment = f"{_hex(rng, 10)}--{_hex(rng, 24)}"
    secs = 0.0
    items = [("regular", r) for r in reg_idx]
    items.insert(int(rng.integers(0, SUITE)), ("control", ctl_i))
    ctl_correct = None
    rushing = w.careless and rng.random() < 0.5
    skill = 0.45 if rushing else (0.3 if w.drifter and len(history[w.id]) >= 2 else w.skill)
    speed = 1.1 if rushing else w.seconds_per_task
    for kind, idx in items:
        if kind == "regular":
            task_id, url, truth, difficulty = regular[idx]
            ans = _answer(rng, truth, skill * (1 - difficulty), w.spammer)
            golden = ""
            done_tasks[w.id].add(idx)
        else:
            task_id, url, truth, golden_i, difficulty = control[idx]
            # control images are picked to be unambiguous: a careful annotator misses one rarely
            ctl_skill = skill if (rushing or skill < w.skill) else max(skill, 0.99)
            ans = _answer(rng, truth, ctl_skill * (1 - difficulty), w.spammer)
            golden = LABELS[golden_i]
            ctl_correct = ans == golden_i
        secs += speed * rng.uniform(0.7, 1.5)
        rows.append((url, LABELS[ans], golden, assignment, task_id, w.id, start, secs))
    return secs, ctl_correct


def _restriction(worker_id: str, rule: str, reason: str, at: dt.datetime) -> dict:
    days = (FAST_RULE if rule == "fast_responses" else CONTROL_RULE)["ban_days"]
    return {
        "worker_id": worker_id,
        "scope": "PROJECT",
        "pool_id": MAIN_POOL,
        "reason": reason,
        "rule": rule,
        "created_at": at,
        "expires_at": at + dt.timedelta(days=days),
    }


def _simulate_reannotation(rng: np.random.Generator, main: pd.DataFrame, regular, eligible, clock):
    """Re-annotation of the least-agreed regular items by the best unbanned annotators: (export, clock)."""
    votes = (
        main[main["GOLDEN:result"] == ""]
        .groupby("ASSIGNMENT:task_id")["OUTPUT:result"]
        .agg(lambda s: s.value_counts().iloc[0] / len(s))
    )
    worst = list(votes.sort_values(kind="stable").index[:45])
    by_id = {r[0]: r for r in regular}
    top = sorted((w for w in eligible if w.banned_at is None and not w.spammer), key=lambda w: -w.skill)[:12]
    re_rows = []
    clock = clock + dt.timedelta(days=2)
    for chunk in range(0, len(worst), 9):
        items = worst[chunk : chunk + 9]
        for w in rng.choice(len(top), size=2, replace=False):
            ww = top[int(w)]
            clock = clock + dt.timedelta(seconds=float(rng.exponential(90)))
            assignment = f"{_hex(rng, 10)}--{_hex(rng, 24)}"
            secs = 0.0
            for task_id in items:
                _, url, truth, difficulty = by_id[task_id]
                ans = _answer(rng, truth, ww.skill * (1 - difficulty / 2), False)
                secs += ww.seconds_per_task * rng.uniform(0.9, 1.6)
                re_rows.append((url, LABELS[ans], "", assignment, task_id, ww.id, clock, secs))
    return _export(re_rows, REANNOTATION_POOL, REANNOTATION_REWARD, "APPROVED"), clock


def _bonuses(main: pd.DataFrame, clock: dt.datetime) -> pd.DataFrame:
    """The five most accurate (on control tasks) prolific annotators get 0.065 USD."""
    ctl = main[main["GOLDEN:result"] != ""]
    acc = (ctl["OUTPUT:result"] == ctl["GOLDEN:result"]).groupby(ctl["ASSIGNMENT:worker_id"]).agg(["mean", "size"])
    best = acc[acc["size"] >= 8].sort_values(["mean", "size"], ascending=False, kind="stable").head(5).index
    return pd.DataFrame(
        {"worker_id": list(best), "amount": 0.065, "reason": "top accuracy on control tasks", "created_at": clock}
    )


def _check_rules(hist: list) -> tuple[str, str] | None:
    """Toloka's rules as the demo pool had them, applied after each submitted suite."""
    last = hist[-FAST_RULE["history_size"] :]
    fast = sum(1 for secs, _, _ in last if secs < FAST_RULE["fast_submit_threshold_seconds"])
    if fast >= FAST_RULE["count"]:
        return "fast_responses", (
            f"Fast responses: {fast} of the last {len(last)} task suites submitted in under "
            f"{FAST_RULE['fast_submit_threshold_seconds']} s"
        )
    ctl = [c for _, c, _ in hist if c is not None][-CONTROL_RULE["history_size"] :]
    if len(ctl) >= CONTROL_RULE["min_answers"]:
        pct = 100.0 * sum(ctl) / len(ctl)
        if pct < CONTROL_RULE["min_correct_percent"]:
            return "golden_set", (
                f"Control tasks: {sum(ctl)} of the last {len(ctl)} correct "
                f"(the rule removes an annotator on one wrong control answer)"
            )
    return None


def _meta(pools: tuple[PoolInfo, ...]) -> RunMeta:
    return RunMeta(
        project=PROJECT,
        labels=LABELS,
        pools=pools,
        overlap=OVERLAP,
        instructions=INSTRUCTIONS,
        language="en",
        simulated=True,
    )


VERSIONS = (  # version, created, description
    (
        "1.0.0",
        "2024-09-17T16:00:00Z",
        "Raw import: the exam and main pool results as downloaded when the pool closed (nothing reviewed yet).",
    ),
    (
        "1.1.0",
        "2024-09-18T10:00:00Z",
        "Annotated: the same answers after review; suites of annotators banned by the control-task rule rejected.",
    ),
    (
        "1.2.0",
        "2024-09-20T12:00:00Z",
        "Re-annotation of the 45 lowest-agreement items by 12 top annotators (2 more answers each), merged back.",
    ),
)
EXAM_INFO = PoolInfo(EXAM_POOL, "Food type — exam", "exam", EXAM_REWARD, None, 10, EXAM_PASS, ())
MAIN_INFO = PoolInfo(
    MAIN_POOL, "Food type — main pool", "main", MAIN_REWARD, OVERLAP, SUITE, None, (FAST_RULE, CONTROL_RULE)
)
RE_INFO = PoolInfo(
    REANNOTATION_POOL,
    "Food type — re-annotation of low-agreement items",
    "reannotation",
    REANNOTATION_REWARD,
    2,
    9,
    None,
    (),
)


def build_demo(
    workspace: Workspace | str | Path, seed: int = SEED, keep_exports: Path | None = None
) -> list[VersionInfo]:
    """Write the three demo versions into ``workspace`` (which must not hold them yet)."""
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    sim = simulate(seed)
    write_images(ws.root / MEDIA_DIR, sim["images"], seed)
    pricing = Pricing(currency="USD", fee_rate=FEE_RATE, fee_minimum=FEE_MINIMUM, bonuses=sim["bonuses"])
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(keep_exports) if keep_exports else Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        exam_path = out / f"assignments_from_pool_{EXAM_POOL}.tsv"
        sim["exam"].to_csv(exam_path, sep="\t", index=False)
        main = sim["main"].copy()
        # v1: downloaded right after the pool closed — nothing reviewed yet
        main["ASSIGNMENT:status"] = "SUBMITTED"
        raw_path = out / f"assignments_from_pool_{MAIN_POOL}__raw.tsv"
        main.to_csv(raw_path, sep="\t", index=False)
        # v2: after review — suites of annotators banned by the control-task rule rejected
        reviewed = sim["main"].copy()
        rejected = reviewed["ASSIGNMENT:worker_id"].isin(sim["banned_by_control"])
        reviewed["ASSIGNMENT:status"] = np.where(rejected, "REJECTED", "APPROVED")
        reviewed_path = out / f"assignments_from_pool_{MAIN_POOL}.tsv"
        reviewed.to_csv(reviewed_path, sep="\t", index=False)
        re_path = out / f"assignments_from_pool_{REANNOTATION_POOL}.tsv"
        sim["reannotation"].to_csv(re_path, sep="\t", index=False)

        def read(path, kind, info):
            return read_toloka_tsv(path, pool_kind=kind, labels=LABELS, pricing=pricing, meta=_meta((info,)))

        exam_run = read(exam_path, "exam", EXAM_INFO)
        restr = sim["restrictions"]
        v1 = _with_restrictions(
            merge_runs([exam_run, read(raw_path, "main", MAIN_INFO)], meta=_meta((EXAM_INFO, MAIN_INFO))), restr
        )
        v2 = _with_restrictions(
            merge_runs([exam_run, read(reviewed_path, "main", MAIN_INFO)], meta=_meta((EXAM_INFO, MAIN_INFO))), restr
        )
        v3 = _with_restrictions(
            merge_runs(
                [exam_run, read(reviewed_path, "main", MAIN_INFO), read(re_path, "reannotation", RE_INFO)],
                meta=_meta((EXAM_INFO, MAIN_INFO, RE_INFO)),
            ),
            restr,
        )
    ids = [uuid.uuid5(VERSION_NAMESPACE, f"{seed}-{i}").hex for i in range(3)]
    common = {"simulated": True, "source": "crowdlens demo (seeded simulation)", "seed": seed}
    infos: list[VersionInfo] = []
    for i, (run, (version, created, description)) in enumerate(zip((v1, v2, v3), VERSIONS, strict=True)):
        infos.append(
            import_run(
                ws,
                run,
                name="food-types",
                version=version,
                parents=[ids[i - 1]] if i else [],
                version_id=ids[i],
                created=created,
                metadata={**common, "description": description},
            )
        )
    return infos


def _with_restrictions(run: Run, restrictions: pd.DataFrame) -> Run:
    from analytics.model import restrictions_frame

    return dataclasses.replace(run, restrictions=restrictions_frame(restrictions))
