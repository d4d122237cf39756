"""The group-by metrics as engine-neutral SQL: votes, majority vote, per-worker and per-pair counts, DS steps."""

from __future__ import annotations

# Every statement here is a single SELECT over the tables of analytics/engine/schema.py
# (``answers`` and, for Dawid-Skene, ``posteriors``, ``errors``, ``priors``), written in the
# subset that DuckDB, Spark SQL (3.x) and Trino all accept with the same meaning. It uses
# only: WITH, SELECT [DISTINCT], inner/left/cross JOIN ... ON, GROUP BY (by column name),
# HAVING, the aggregates COUNT/SUM/MIN/MAX, window functions SUM/MAX/ROW_NUMBER OVER
# (PARTITION BY ... ORDER BY ...), CASE, COALESCE, CAST(x AS DOUBLE), EXP, LN and arithmetic.
# tests/test_engine_sql.py parses each one as Spark and as Trino (sqlglot), runs the
# re-generated text on DuckDB, and checks it against the numpy kernels.
#
# Constructs left out, and why:
# - QUALIFY, GROUP BY ALL, SELECT * EXCLUDE, ``::`` casts, list/struct functions (list,
#   array_agg ... ORDER BY, unnest), arg_max/arg_min/max_by: DuckDB (or Spark/Trino) only, or
#   spelled differently in each. "The row with the largest count" is ROW_NUMBER() in a
#   subquery plus WHERE rk = 1; "the lowest label among the top ones" is MIN(CASE ...).
# - COUNT(*) FILTER (WHERE ...), bool_or/bool_and, COUNT_IF: not in every engine (or not in
#   older Spark/Hive); SUM(CASE WHEN ... THEN 1 ELSE 0 END) means the same everywhere.
# - GREATEST/LEAST: their NULL handling differs (Spark skips NULLs, Trino returns NULL); the
#   1e-10 clip is a CASE.
# - LOG(x): log10 in DuckDB, LOG(base, x) in Spark and Trino; LN is the natural log in all.
# - Integer ``/``: Trino truncates (7 / 2 = 3), DuckDB and Spark do not. Every division casts
#   its numerator to DOUBLE first (also where it is a double already, so that no reader of the
#   text has to know the column types).
# - ORDER BY without NULLS FIRST/LAST: the default differs (Spark: NULLS FIRST for ASC, DuckDB
#   and Trino: NULLS LAST); it is spelled out.
# - Positional GROUP BY 1, 2, JOIN ... USING, quoted identifiers (double quotes vs
#   backticks), parameter markers (?, $1, :name): each engine has its own rules. Names are
#   unquoted lower-case non-reserved words, and the one parameter (min_shared) is rendered
#   as an integer literal by :func:`render`.
# - Floating-point literals are written as 1e-10 (DOUBLE in all three; 0.0000000001 would be
#   a DECIMAL in Spark and Trino).
# Sums of doubles run in whatever order the engine's partitions give, so results agree with
# the kernels to rounding (the tests ask for 1e-9), not bit for bit.

# 1. Votes per task and label (kernels.vote_counts / _arrays.count_votes): one row per
#    (task, label) with at least one vote; absent pairs are 0.
VOTE_COUNTS = """
SELECT task, label, COUNT(*) AS n
FROM answers
GROUP BY task, label
"""

# Majority vote (kernels.majority_vote): the label with the most votes, the lowest label code
# among those tied at the top (the kernels' tie rule); tied = more than one label at the top.
# answers = the task's total, so shares are n / answers.
MAJORITY_VOTE = """
WITH votes AS (
    SELECT task, label, COUNT(*) AS n
    FROM answers
    GROUP BY task, label
),
scored AS (
    SELECT task, label, n,
           MAX(n) OVER (PARTITION BY task) AS top,
           SUM(n) OVER (PARTITION BY task) AS total
    FROM votes
)
SELECT task,
       MIN(CASE WHEN n = top THEN label END) AS label,
       SUM(CASE WHEN n = top THEN 1 ELSE 0 END) AS n_top,
       MAX(top) AS top_votes,
       MAX(total) AS answers
FROM scored
GROUP BY task
"""

# 2. Per worker (kernels.worker_accuracy on the control answers): answers, control answers
#    (kind 'control' with a golden label), and those equal to the golden label.
WORKER_COUNTS = """
SELECT worker,
       COUNT(*) AS answers,
       SUM(CASE WHEN kind = 'control' AND golden IS NOT NULL THEN 1 ELSE 0 END) AS control_answers,
       SUM(CASE WHEN kind = 'control' AND golden IS NOT NULL AND label = golden THEN 1 ELSE 0 END)
           AS control_correct
FROM answers
GROUP BY worker
"""

# 3. Worker pairs (kernels.pairwise_agreement). Each worker is first reduced to one label per
#    task: their own most frequent label there, the lowest code on a tie (ROW_NUMBER ordered
#    by count desc, label asc). The self-join on task lists every pair of workers once
#    (worker_a < worker_b); it is the one large intermediate, sum over tasks of m_t(m_t-1)/2
#    rows, and is folded at once into a per-pair confusion table (at most labels^2 rows per
#    pair), from which shared tasks, agreements and the label marginals come. Cohen's kappa
#    as sklearn: 1 - (n - agree) * n / (n^2 - sum_c n_a,c * n_b,c); NULL where the
#    denominator is 0 (both workers gave one and the same label on every shared task).
PAIRS = """
WITH per_label AS (
    SELECT task, worker, label, COUNT(*) AS n
    FROM answers
    GROUP BY task, worker, label
),
own AS (
    SELECT task, worker, label
    FROM (
        SELECT task, worker, label,
               ROW_NUMBER() OVER (PARTITION BY task, worker ORDER BY n DESC, label ASC NULLS LAST) AS rk
        FROM per_label
    ) ranked
    WHERE rk = 1
),
confusion AS (
    SELECT a.worker AS worker_a, b.worker AS worker_b, a.label AS label_a, b.label AS label_b,
           COUNT(*) AS n
    FROM own a
    JOIN own b ON a.task = b.task AND a.worker < b.worker
    GROUP BY a.worker, b.worker, a.label, b.label
),
pair_totals AS (
    SELECT worker_a, worker_b,
           SUM(n) AS n_shared,
           SUM(CASE WHEN label_a = label_b THEN n ELSE 0 END) AS n_agree
    FROM confusion
    GROUP BY worker_a, worker_b
    HAVING SUM(n) >= {min_shared}
),
side_a AS (
    SELECT worker_a, worker_b, label_a AS label, SUM(n) AS n
    FROM confusion
    GROUP BY worker_a, worker_b, label_a
),
side_b AS (
    SELECT worker_a, worker_b, label_b AS label, SUM(n) AS n
    FROM confusion
    GROUP BY worker_a, worker_b, label_b
),
chance AS (
    SELECT sa.worker_a, sa.worker_b, SUM(sa.n * sb.n) AS chance
    FROM side_a sa
    JOIN side_b sb ON sa.worker_a = sb.worker_a AND sa.worker_b = sb.worker_b AND sa.label = sb.label
    GROUP BY sa.worker_a, sa.worker_b
)
SELECT p.worker_a, p.worker_b, p.n_shared, p.n_agree,
       CAST(p.n_agree AS DOUBLE) / p.n_shared AS agreement,
       CASE WHEN p.n_shared * p.n_shared = COALESCE(c.chance, 0) THEN NULL
            ELSE 1 - CAST((p.n_shared - p.n_agree) * p.n_shared AS DOUBLE)
                     / (p.n_shared * p.n_shared - COALESCE(c.chance, 0))
       END AS kappa
FROM pair_totals p
LEFT JOIN chance c ON c.worker_a = p.worker_a AND c.worker_b = p.worker_b
"""

# 4. Dawid-Skene (kernels.dawid_skene), one statement per step. The model lives on the
#    compressed codes the kernel uses: answered tasks, the labels some answer uses (the true
#    labels), and the (worker, observed label) combinations that occur. State between steps:
#      posteriors(task, label, p)            one row per answered task x true label
#      errors(worker, observed, truth, e)    one row per occurring (worker, observed) x true label
#      priors(label, prior)                  one row per true label
#
# Initial posteriors: majority-vote shares (counts / total), 0 for the labels present in the
# data that the task did not get.
DS_INITIAL_POSTERIORS = """
WITH votes AS (
    SELECT task, label, COUNT(*) AS n
    FROM answers
    GROUP BY task, label
),
totals AS (
    SELECT task, SUM(n) AS total
    FROM votes
    GROUP BY task
),
truths AS (
    SELECT DISTINCT label FROM answers
)
SELECT t.task, l.label, CAST(COALESCE(v.n, 0) AS DOUBLE) / t.total AS p
FROM totals t
CROSS JOIN truths l
LEFT JOIN votes v ON v.task = t.task AND v.label = l.label
"""

# Priors: the mean posterior over the answered tasks. posteriors holds one row per answered
# task and true label (the initial step cross-joins the labels, the E-step joins every answer
# with every true label of its worker's error matrix), so AVG per label is that mean, without
# another pass over the answers.
DS_PRIORS = """
SELECT label, AVG(p) AS prior
FROM posteriors
GROUP BY label
"""

# M-step (crowd-kit DawidSkene._m_step): for each occurring (worker, observed) and true label,
# the sum of P(task's true label) over the worker's answers with that observed label (each
# answer row counts, repeated ones twice), clipped below at 1e-10 (also where the sum is
# absent, i.e. 0), then normalised over the observed labels the worker used.
DS_M_STEP = """
WITH used AS (
    SELECT DISTINCT worker, label AS observed FROM answers
),
truths AS (
    SELECT DISTINCT label AS truth FROM answers
),
sums AS (
    SELECT a.worker, a.label AS observed, p.label AS truth, SUM(p.p) AS s
    FROM answers a
    JOIN posteriors p ON p.task = a.task
    GROUP BY a.worker, a.label, p.label
),
clipped AS (
    SELECT u.worker, u.observed, t.truth,
           CASE WHEN s.s IS NULL OR s.s < 1e-10 THEN 1e-10 ELSE s.s END AS c
    FROM used u
    CROSS JOIN truths t
    LEFT JOIN sums s ON s.worker = u.worker AND s.observed = u.observed AND s.truth = t.truth
)
SELECT worker, observed, truth, CAST(c AS DOUBLE) / SUM(c) OVER (PARTITION BY worker, truth) AS e
FROM clipped
"""

# E-step: log prior (clipped at 1e-10) + the sum of log e over the task's answers, shifted by
# the task's maximum (so that EXP cannot underflow on long products), exponentiated and
# normalised per task.
DS_E_STEP = """
WITH loglik AS (
    SELECT a.task, e.truth AS label, SUM(LN(e.e)) AS ll
    FROM answers a
    JOIN errors e ON e.worker = a.worker AND e.observed = a.label
    GROUP BY a.task, e.truth
),
scored AS (
    SELECT l.task, l.label,
           l.ll + LN(CASE WHEN r.prior < 1e-10 THEN 1e-10 ELSE r.prior END) AS s
    FROM loglik l
    JOIN priors r ON r.label = l.label
),
shifted AS (
    SELECT task, label, EXP(s - MAX(s) OVER (PARTITION BY task)) AS u
    FROM scored
)
SELECT task, label, CAST(u AS DOUBLE) / SUM(u) OVER (PARTITION BY task) AS p
FROM shifted
"""

EXPRESSIONS: dict[str, str] = {
    "vote_counts": VOTE_COUNTS,
    "majority_vote": MAJORITY_VOTE,
    "worker_counts": WORKER_COUNTS,
    "pairs": PAIRS,
    "ds_initial_posteriors": DS_INITIAL_POSTERIORS,
    "ds_priors": DS_PRIORS,
    "ds_m_step": DS_M_STEP,
    "ds_e_step": DS_E_STEP,
}


def render(name: str, *, min_shared: int = 10) -> str:
    """The SQL text of expression ``name`` with its parameter filled in (min_shared, for pairs)."""
    if name not in EXPRESSIONS:
        raise ValueError(f"unknown expression {name!r}; one of: {', '.join(EXPRESSIONS)}")
    if isinstance(min_shared, bool) or not isinstance(min_shared, int) or min_shared < 1:
        raise ValueError(f"min_shared must be an integer >= 1, got {min_shared!r}")
    text = EXPRESSIONS[name]
    return text.replace("{min_shared}", str(int(min_shared))) if name == "pairs" else text
