"""The ``crowdlens diff`` command: a version against its parent (what its answers and money bought).

``crowdlens diff CHILD [--parent PARENT] [--method M] [--format text|json] [--tasks N]`` prints
the answers and money added, the labels that changed, accuracy against golden and truth before
and after (95 % Wilson intervals) and cost per label before and after; where the child was
imported with ``--plan``, the plan's predicted fixes against the realised ones and the money per
realised fix. CHILD and PARENT are ids or the unique prefixes ``crowdlens versions`` prints;
PARENT defaults to the child's first parent.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from analytics import versions
from analytics.cli.files import add_workspace_option, open_workspace
from analytics.metrics import aggregation
from analytics.metrics.lineage import LineageDiff, Share

SHOWN_TASKS = 20  # changed tasks the text lists by default


def _pct(s: Share | None) -> str:
    if s is None or s.accuracy is None:
        return "n/a"
    return f"{100 * s.accuracy:.1f} % ({100 * s.ci_low:.1f}-{100 * s.ci_high:.1f} %, {s.correct:,}/{s.tasks:,})"


def _money(x: float | None, currency: str, signed: bool = False) -> str:
    if x is None:
        return "n/a"
    return f"{x:+.2f} {currency}" if signed else f"{x:.2f} {currency}"


def _cost(x: float | None, currency: str) -> str:
    return "n/a" if x is None else f"{x:.4f} {currency}"


def _realised_lines(d: LineageDiff) -> list[str]:
    r = d.realised
    if r is None:
        return []
    cur = d.currency
    predicted = "n/a" if r.predicted_fixes is None else f"{r.predicted_fixes:.1f}"
    if r.predicted_low is not None and r.predicted_high is not None:
        predicted += f" ({r.predicted_low:.1f}-{r.predicted_high:.1f})"
    lines = [
        f"plan: {r.plan_tasks:,} tasks, {r.compared:,} labeled in both, {r.changed:,} changed; "
        f"predicted fixes {predicted} for {_money(r.predicted_cost, cur)}",
    ]
    if r.net_fixes is None:
        lines.append(
            f"  realised: no reference on the plan's tasks; by the child's posterior {r.expected_net_fixes:+.1f}"
        )
    else:
        share = "" if r.share_of_predicted is None else f", {r.share_of_predicted:.0%} of predicted"
        lines.append(
            f"  realised against {r.reference} on {r.known:,} tasks: {r.fixed:,} fixed, {r.broken:,} broken, "
            f"net {r.net_fixes:+,}{share}; by the child's posterior {r.expected_net_fixes:+.1f}"
        )
    lines.append(
        f"  money per realised fix {_cost(r.money_per_fix, cur)} (predicted {_cost(r.predicted_money_per_fix, cur)})"
    )
    return lines


def diff_text(d: LineageDiff, tasks: int = SHOWN_TASKS) -> str:
    """The diff as a short text for a terminal (``tasks`` changed tasks listed)."""
    cur = d.currency
    money = ", ".join(f"{k} {_money(d.spend_added[k], cur, signed=True)}" for k in ("rewards", "fees", "bonuses"))
    lines = [
        f"{(d.child_id or 'child')[:8]} against {(d.parent_id or 'parent')[:8]} ({aggregation.METHODS[d.method]})",
        f"answers {d.answers_before:,} -> {d.answers_after:,} ({d.answers_added:+,}); "
        f"tasks {d.tasks_before:,} -> {d.tasks_after:,}; annotators {d.annotators_before:,} -> {d.annotators_after:,}",
        f"spend {_money(d.spend_before['total'], cur)} -> {_money(d.spend_after['total'], cur)} "
        f"({_money(d.money_added, cur, signed=True)}: {money})",
        f"cost per label {_cost(d.cost_per_label_before, cur)} -> {_cost(d.cost_per_label_after, cur)}",
        f"labels changed: {d.labels_changed:,} of {d.tasks_compared:,} tasks labeled in both"
        + (f"; {d.tasks_labeled_only_after:,} newly labeled" if d.tasks_labeled_only_after else "")
        + (f"; {d.tasks_labeled_only_before:,} no longer labeled" if d.tasks_labeled_only_before else ""),
    ]
    for name, a in d.accuracy.items():
        lines.append(f"accuracy vs {name}, same {a.before.tasks:,} tasks: {_pct(a.before)} -> {_pct(a.after)}")
        lines.append(f"  overall: {_pct(a.overall_before)} -> {_pct(a.overall_after)}")
    lines += _realised_lines(d)
    for t, row in d.changed.head(tasks).iterrows():
        ref = "" if row["reference"] is None else f"  (reference {row['reference']})"
        lines.append(
            f"  {t}: {row['label_before']} ({row['confidence_before']:.2f}) -> "
            f"{row['label_after']} ({row['confidence_after']:.2f}){ref}"
        )
    if d.labels_changed > tasks:
        lines.append(f"  ... and {d.labels_changed - tasks:,} more (--tasks N, or --format json)")
    lines += [f"note: {n}" for n in d.notes]
    return "\n".join(lines)


def cmd_diff(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    d = versions.compare(ws, args.child, args.parent, method=args.method, n_iter=args.iterations)
    if args.format == "json":
        print(json.dumps(d.as_dict(), indent=1, default=str))
    else:
        print(diff_text(d, args.tasks))
    return 0


def add_lineage_commands(sub: Any) -> None:
    """Register diff."""
    p = sub.add_parser("diff", help="a version against its parent: answers, money, labels changed, accuracy, fixes")
    p.add_argument("child", metavar="CHILD", help="version id, or its first characters as `crowdlens versions` prints")
    p.add_argument("--parent", metavar="PARENT", help="the version to compare with (default: the child's first parent)")
    add_workspace_option(p)
    p.add_argument("--method", choices=tuple(aggregation.METHODS), default="mv", help="aggregator (default mv)")
    p.add_argument("--iterations", type=int, metavar="N", help="EM iterations for ds/onecoin/glad")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--tasks", type=int, default=SHOWN_TASKS, metavar="N", help="changed tasks the text lists")
    p.set_defaults(func=cmd_diff)


__all__ = ["add_lineage_commands", "diff_text"]
