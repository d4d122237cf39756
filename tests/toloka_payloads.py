"""Toloka-API-shaped JSON, written by hand, for the stub server (tests/toloka_stub.py).

Shapes follow toloka-kit 1.2.3's model classes (Pool with its filter, Project, Assignment, Task,
UserRestriction, UserBonus, quality_control.QualityControl with collectors / conditions / actions), as
``toloka.client.unstructure`` writes them; test_toloka_source.py checks that toloka-kit reads every
payload here without an unknown field. Times are naive UTC, as the API sends them.
"""

from __future__ import annotations

import copy

PROJECT_ID = "77"
POOL_ID = "1234"
EXAM_POOL_ID = "1233"
TOKEN = "AQAAAAAstubTOKENvalue0123456789"
EXAM_SKILL_ID = "5001"

PROJECT = {
    "id": PROJECT_ID,
    "public_name": "Cats or dogs",
    "public_description": "Tell cats from dogs",
    "public_instructions": "Is the animal on the photo a cat or a dog?",
    "status": "ACTIVE",
    "created": "2024-04-01T08:00:00",
    "assignments_issuing_type": "AUTOMATED",
    "task_spec": {
        "input_spec": {"image": {"type": "url", "required": True, "hidden": False}},
        "output_spec": {
            "result": {"type": "string", "required": True, "hidden": False, "allowed_values": ["cat", "dog"]}
        },
        "view_spec": {"type": "classic", "markup": "{{img src=image}}"},
    },
    "localization_config": {"default_language": "EN", "additional_languages": []},
}


def restriction_v2(comment: str, duration: int, unit: str = "DAYS", scope: str = "PROJECT") -> dict:
    return {
        "type": "RESTRICTION_V2",
        "parameters": {"scope": scope, "duration": duration, "duration_unit": unit, "private_comment": comment},
    }


FAST_CONFIG = {
    "collector_config": {
        "type": "ASSIGNMENT_SUBMIT_TIME",
        "uuid": "6bd4e2a4-1f0e-4b1a-9c53-4c0f2a9d1e01",
        "parameters": {"fast_submit_threshold_seconds": 15, "history_size": 5},
    },
    "rules": [
        {
            "conditions": [{"key": "fast_submitted_count", "operator": "GTE", "value": 1}],
            "action": restriction_v2("Fast responses", 1),
        }
    ],
}
GOLDEN_CONFIG = {
    "collector_config": {
        "type": "GOLDEN_SET",
        "uuid": "6bd4e2a4-1f0e-4b1a-9c53-4c0f2a9d1e02",
        "parameters": {"history_size": 10},
    },
    "rules": [
        {
            "conditions": [
                {"key": "golden_set_correct_answers_rate", "operator": "LT", "value": 50},
                {"key": "golden_set_answers_count", "operator": "GTE", "value": 4},
            ],
            "action": restriction_v2("Control tasks", 7),
        }
    ],
}
SKIPPED_CONFIG = {
    "collector_config": {"type": "SKIPPED_IN_ROW_ASSIGNMENTS", "uuid": "6bd4e2a4-1f0e-4b1a-9c53-4c0f2a9d1e03"},
    "rules": [
        {
            "conditions": [{"key": "skipped_in_row_count", "operator": "GTE", "value": 10}],
            "action": restriction_v2("Skipped 10 in a row", 12, unit="HOURS", scope="POOL"),
        }
    ],
}


def pool(
    pool_id: str = POOL_ID,
    *,
    name: str = "Cats — main",
    status: str = "CLOSED",
    reward: float = 0.03,
    overlap: int = 3,
    mixer: tuple[int, int, int] = (1, 1, 1),
    configs: list | None = None,
    project_id: str = PROJECT_ID,
    filter: dict | None = None,  # noqa: A002 - the API's name
) -> dict:
    real, golden, training = mixer
    extra = {"filter": copy.deepcopy(filter)} if filter is not None else {}
    return extra | {
        "id": pool_id,
        "project_id": project_id,
        "private_name": name,
        "may_contain_adult_content": False,
        "reward_per_assignment": reward,
        "assignment_max_duration_seconds": 600,
        "auto_accept_solutions": False,
        "auto_accept_period_day": 7,
        "will_expire": "2024-06-01T00:00:00",
        "defaults": {"default_overlap_for_new_task_suites": overlap, "default_overlap_for_new_tasks": overlap},
        "mixer_config": {"real_tasks_count": real, "golden_tasks_count": golden, "training_tasks_count": training},
        "quality_control": {
            "configs": copy.deepcopy(configs if configs is not None else [FAST_CONFIG, GOLDEN_CONFIG, SKIPPED_CONFIG])
        },
        "status": status,
        "created": "2024-04-30T08:00:00",
        "last_started": "2024-05-01T09:00:00",
        "last_stopped": "2024-05-03T18:00:00",
        "type": "REGULAR",
    }


def task(
    task_id: str, image: str, *, known: str | None = None, hint: str | None = None, pool_id: str = POOL_ID
) -> dict:
    t = {"id": task_id, "pool_id": pool_id, "input_values": {"image": image}}
    if known is not None:
        t["known_solutions"] = [{"output_values": {"result": known}, "correctness_weight": 1}]
    if hint is not None:
        t["message_on_unknown_solution"] = hint
    return t


def assignment(
    aid: str,
    worker: str | None,
    status: str,
    tasks: list[dict],
    answers: list[str] | None,
    *,
    created: str,
    submitted: str | None = None,
    pool_id: str = POOL_ID,
    reward: float = 0.03,
    **times,
) -> dict:
    a = {
        "id": aid,
        "task_suite_id": f"suite-{aid}",
        "pool_id": pool_id,
        "status": status,
        "reward": reward,
        "mixed": True,
        "automerged": False,
        "created": created,
        "tasks": copy.deepcopy(tasks),
    }
    if worker is not None:
        a["user_id"] = worker
    if submitted is not None:
        a["submitted"] = submitted
    if answers is not None:
        a["solutions"] = [{"output_values": {"result": x}} for x in answers]
    a.update(times)
    return a


# ---- the main scenario: 3 suites of 3 tasks (a general, a control and a training task)

T1 = task("t1", "https://img.invalid/1.jpg")
T2 = task("t2", "https://img.invalid/2.jpg", known="cat")
T3 = task("t3", "https://img.invalid/3.jpg", known="dog", hint="Look at the ears")
SUITE = [T1, T2, T3]

MAIN_ASSIGNMENTS = [
    assignment(
        "a1",
        "w1",
        "ACCEPTED",
        SUITE,
        ["cat", "cat", "dog"],
        created="2024-05-01T10:00:00",
        submitted="2024-05-01T10:00:30.250",
        accepted="2024-05-02T09:00:00",
    ),
    dict(
        assignment(
            "a2",
            "w2",
            "REJECTED",
            SUITE,
            ["dog", "dog", "dog"],
            created="2024-05-01T11:00:00",
            submitted="2024-05-01T11:00:05",
            rejected="2024-05-02T09:00:00",
            public_comment="Too fast",
        ),
        # the training task was first answered "cat"; "dog" came after the hint
        first_declined_solution_attempt=[{"output_values": {"result": x}} for x in ("dog", "dog", "cat")],
    ),
    assignment("a3", "w3", "SKIPPED", SUITE, None, created="2024-05-01T12:00:00", skipped="2024-05-01T12:03:00"),
    # still being worked on: not an answer yet
    assignment("a4", "w4", "ACTIVE", SUITE, None, created="2024-05-01T12:30:00"),
]

RESTRICTIONS = [
    # created by the fast-response rule (its action's private comment)
    {
        "id": "101",
        "scope": "PROJECT",
        "user_id": "w2",
        "project_id": PROJECT_ID,
        "private_comment": "Fast responses",
        "created": "2024-05-01T11:00:06",
        "will_expire": "2024-05-02T11:00:06",
    },
    # set by hand on the pool
    {
        "id": "102",
        "scope": "POOL",
        "user_id": "w3",
        "pool_id": POOL_ID,
        "private_comment": "Skips everything, reviewed by hand",
        "created": "2024-05-01T12:10:00",
    },
    # an annotator who never answered in the pool
    {
        "id": "103",
        "scope": "PROJECT",
        "user_id": "w9",
        "project_id": PROJECT_ID,
        "private_comment": "Fast responses",
        "created": "2024-04-20T10:00:00",
        "will_expire": "2024-04-21T10:00:00",
    },
    # another project: not asked for
    {
        "id": "104",
        "scope": "PROJECT",
        "user_id": "w1",
        "project_id": "88",
        "private_comment": "Other project",
        "created": "2024-04-20T10:00:00",
    },
    # all projects of the requester
    {
        "id": "105",
        "scope": "ALL_PROJECTS",
        "user_id": "w1",
        "private_comment": "Suspected bot",
        "created": "2024-05-03T08:00:00",
        "will_expire": "2024-06-03T08:00:00",
    },
    {
        "id": "106",
        "scope": "ALL_PROJECTS",
        "user_id": "w9",
        "private_comment": "Suspected bot",
        "created": "2024-05-03T08:00:00",
    },
]

# ---- an exam pool of the same project: 2 candidates x 2 exam items

E1 = task("e1", "https://img.invalid/e1.jpg", known="cat", pool_id=EXAM_POOL_ID)
E2 = task("e2", "https://img.invalid/e2.jpg", known="dog", pool_id=EXAM_POOL_ID)
EXAM_ASSIGNMENTS = [
    assignment(
        "x1",
        "w1",
        "ACCEPTED",
        [E1, E2],
        ["cat", "dog"],
        created="2024-04-30T09:00:00",
        submitted="2024-04-30T09:01:00",
        pool_id=EXAM_POOL_ID,
        reward=0.01,
    ),
    assignment(
        "x2",
        "w2",
        "ACCEPTED",
        [E1, E2],
        ["cat", "cat"],
        created="2024-04-30T09:05:00",
        submitted="2024-04-30T09:05:40",
        pool_id=EXAM_POOL_ID,
        reward=0.01,
    ),
]


# the exam pool sets the skill from the share of exam items right; the main pool admits 80 and above
EXAM_SKILL_CONFIG = {
    "collector_config": {
        "type": "GOLDEN_SET",
        "uuid": "6bd4e2a4-1f0e-4b1a-9c53-4c0f2a9d1e04",
        "parameters": {"history_size": 2},
    },
    "rules": [
        {
            "conditions": [{"key": "golden_set_answers_count", "operator": "GTE", "value": 2}],
            "action": {
                "type": "SET_SKILL_FROM_OUTPUT_FIELD",
                "parameters": {"skill_id": EXAM_SKILL_ID, "from_field": "correct_answers_rate"},
            },
        }
    ],
}
MAIN_FILTER = {
    "and": [
        {"or": [{"category": "skill", "key": EXAM_SKILL_ID, "operator": "GTE", "value": 80}]},
        {"or": [{"category": "profile", "key": "languages", "operator": "IN", "value": "EN"}]},
    ]
}


def exam_pool(*, configs: list | None = None) -> dict:
    return pool(EXAM_POOL_ID, name="Cats — exam", reward=0.01, overlap=1, mixer=(0, 2, 0), configs=configs or [])


def bonus(bid: str, worker: str, amount: float, created: str, *, assignment: str | None = None, comment: str = ""):
    b = {
        "id": bid,
        "user_id": worker,
        "amount": amount,
        "private_comment": comment,
        "public_title": {"EN": "Thank you"},
        "public_message": {"EN": "For careful work"},
        "without_message": False,
        "created": created,
    }
    if assignment is not None:
        b["assignment_id"] = assignment
    return b


BONUSES = [
    bonus("201", "w1", 0.05, "2024-05-02T09:30:00", assignment="a1", comment="Careful answers"),  # for a run suite
    bonus("202", "w2", 0.10, "2024-05-03T10:00:00"),  # to a run annotator, after the pools were made
    bonus("203", "w9", 0.20, "2024-05-03T10:00:00"),  # to someone who never answered in the run
    bonus("204", "w1", 0.50, "2024-05-03T10:00:00", assignment="zz-other-pool"),  # for another pool's suite
    bonus("205", "w1", 1.00, "2024-04-01T10:00:00"),  # before the run's pools existed
]


LIVE_POOL_ID = "3000"
LIVE_ANALYTICS = {
    "submitted_assignments_count": 9,
    "approved_assignments_count": 3,
    "rejected_assignments_count": 1,
    "skipped_assignments_count": 2,
    "completion_percentage": {"value": 30.0},
    "spent_budget": 0.12,
    "unique_submitters_count": 4,
    "real_tasks_count": 20,
    "estimated_assignments_count": {"value": 30},
}


def live_pool(
    stub, *, tasks: int = 0, controls: int = 0, analytics: bool = True, assignments: list[tuple] | None = None
) -> str:
    """An open pool (LIVE_POOL_ID) with ``tasks`` general and ``controls`` control tasks, its suites
    (``assignments``: (id, worker, status, times...) as for :func:`assignment`; default two
    submitted suites) and, with ``analytics``, Toloka's pool analytics (LIVE_ANALYTICS); returns its id."""
    pid = LIVE_POOL_ID
    stub.pools[pid] = pool(pid, name="Cats — live", status="OPEN", reward=0.02, overlap=3, mixer=(2, 0, 0), configs=[])
    if assignments is None:
        assignments = [
            ("p1", "w1", "ACCEPTED", {"created": "2024-05-01T10:25:00", "submitted": "2024-05-01T10:30:00"}),
            ("p2", "w2", "SUBMITTED", {"created": "2024-05-01T11:05:00", "submitted": "2024-05-01T11:10:00"}),
        ]
    stub.assignments += [
        assignment(aid, w, status, [], None, pool_id=pid, reward=0.02, **times) for aid, w, status, times in assignments
    ]
    stub.tasks += [task(f"g{i:02d}", f"https://img.invalid/g{i}.jpg", pool_id=pid) for i in range(tasks)]
    stub.tasks += [task(f"c{i}", f"https://img.invalid/c{i}.jpg", known="cat", pool_id=pid) for i in range(controls)]
    if analytics:
        stub.analytics[pid] = copy.deepcopy(LIVE_ANALYTICS)
    return pid


def main_scenario(stub) -> None:
    """Load the project, the main and exam pools, their assignments and the restrictions."""
    stub.projects[PROJECT_ID] = copy.deepcopy(PROJECT)
    stub.projects["88"] = dict(copy.deepcopy(PROJECT), id="88", public_name="Another project")
    stub.pools[POOL_ID] = pool(filter=MAIN_FILTER)
    stub.pools[EXAM_POOL_ID] = exam_pool(configs=[EXAM_SKILL_CONFIG])
    stub.assignments += copy.deepcopy(MAIN_ASSIGNMENTS + EXAM_ASSIGNMENTS)
    stub.restrictions += copy.deepcopy(RESTRICTIONS)
    stub.bonuses += copy.deepcopy(BONUSES)
