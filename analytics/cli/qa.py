"""QA what-ifs from the command line: ``rules`` (other thresholds), ``audit`` (golden labels), ``exam-review``.

``crowdlens rules VERSION --set RULE.KEY=VALUE ... [--pool ID] [--format text|json]`` replays the
pools' rules with the thresholds set against the recorded ones (analytics.metrics.whatif).
``crowdlens audit VERSION [--drop TASK] [--correct TASK=LABEL] [--propose --reviewer NAME]``
lists suspect golden labels and the bans resting on them, recomputed with the labels dropped or
corrected (by default every suspect one dropped); ``--propose`` stores it as a QA proposal in
the reviews database (the version is never changed). ``crowdlens exam-review VERSION
[--pass-mark SHARE]`` compares exam scores with main-pool accuracy.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from analytics import qa_records
from analytics.cli.engine import open_version
from analytics.cli.files import add_workspace_option, open_workspace
from analytics.metrics import registry
from analytics.metrics._qa import settable_keys
from analytics.metrics.audit import BanAudit
from analytics.metrics.whatif import WhatIf, normalize_settings
from analytics.sources import store as stores

FORMATS = ("text", "json")


def add_qa_commands(subparsers: Any) -> None:
    """Add ``rules``, ``audit`` and ``exam-review`` to the ``crowdlens`` command's subparsers."""
    keys = ", ".join(settable_keys())
    p = subparsers.add_parser(
        "rules",
        help="what-if: the ban rules replayed with other thresholds (who, when, what it removes, quality)",
        description=f"Replay the pools' ban rules with thresholds set by --set RULE.KEY=VALUE. Settable keys: {keys}. "
        "VALUE 'none' unsets history_size (the whole history) or a percentage condition.",
    )
    p.add_argument("version", metavar="VERSION", help="the dataset version's id, or a unique prefix of it")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="RULE.KEY=VALUE", help=keys)
    p.add_argument("--pool", metavar="ID", help="only this pool's rules (default: every pool with rules)")
    p.add_argument("--method", default="mv", help="the aggregation of what remains (default: mv)")
    p.add_argument("--format", choices=FORMATS, default="text")
    add_workspace_option(p)
    p.set_defaults(func=cmd_rules)

    p = subparsers.add_parser(
        "audit",
        help="ban audit: suspect golden labels, the bans resting on them, recomputed with them dropped or corrected",
    )
    p.add_argument("version", metavar="VERSION", help="the dataset version's id, or a unique prefix of it")
    p.add_argument("--drop", action="append", default=[], metavar="TASK", help="drop this control task's golden label")
    p.add_argument("--correct", action="append", default=[], metavar="TASK=LABEL", help="correct a golden label")
    p.add_argument("--propose", action="store_true", help="store the what-if as a QA proposal (needs --reviewer)")
    p.add_argument("--reviewer", metavar="NAME", help="who proposes it")
    p.add_argument("--note", default="", metavar="TEXT", help="why")
    p.add_argument("--format", choices=FORMATS, default="text")
    add_workspace_option(p)
    p.set_defaults(func=cmd_audit)

    p = subparsers.add_parser("exam-review", help="exam score against main-pool accuracy; what another pass mark does")
    p.add_argument("version", metavar="VERSION", help="the dataset version's id, or a unique prefix of it")
    p.add_argument("--pass-mark", type=float, metavar="SHARE", help="a pass mark to compare (0.9 for 90 %%)")
    p.add_argument("--format", choices=FORMATS, default="text")
    add_workspace_option(p)
    p.set_defaults(func=cmd_exam_review)


def _dump(obj: dict) -> str:
    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(obj), indent=1, ensure_ascii=False, default=str)


def _pct(x: Any) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * float(x):.1f} %"


def _quality_lines(q: dict[str, dict]) -> list[str]:
    out = []
    for name, f in q.items():
        alpha = f["krippendorff_alpha"]
        out.append(
            f"  {name:<9} answers {f['answers']:>7}  alpha {'—' if alpha is None else f'{alpha:.3f}'}  "
            f"accuracy vs golden {_pct(f['accuracy_vs_golden'])}  vs truth {_pct(f['accuracy_vs_truth'])}"
        )
    return out


def whatif_text(w: WhatIf) -> str:
    """The what-if in a few lines."""
    lines = [f"settings: {json.dumps(w.settings) if w.settings else 'the recorded thresholds'}"]
    lines.append(f"banned as set: {len(w.banned)} (new {len(w.newly_banned)}, no longer {len(w.no_longer_banned)})")
    for r in w.banned.itertuples():
        risk = "" if math.isnan(r.false_ban_risk) else f"  false-ban risk {_pct(r.false_ban_risk)}"
        lines.append(f"  {r.worker_id}  {r.rule:<14} at {r.at}  [{r.change}]{risk}")
    for r in w.no_longer_banned.itertuples():
        lines.append(f"  {r.worker_id}  no longer banned (was {r.rule} at {r.at})")
    lines.append(
        f"suites removed {w.suites_removed} ({w.spend_removed:.2f} {w.currency}), "
        f"restored {w.suites_restored} ({w.spend_restored:.2f} {w.currency})"
    )
    lines.append("quality of what remains:")
    return "\n".join(lines + _quality_lines(w.quality))


def cmd_rules(args: argparse.Namespace) -> int:
    settings = normalize_settings(args.settings)  # refuses an unknown key before the run is opened
    run = open_version(args)
    flat = {f"{rule}.{k}": v for rule, keys in settings.items() for k, v in keys.items()}
    w = registry.compute(run, "rules_whatif", settings=flat, pool_id=args.pool, method=args.method)
    print(_dump(w.as_dict()) if args.format == "json" else whatif_text(w))
    return 0


def _overrides(args: argparse.Namespace) -> dict[str, str | None] | None:
    out: dict[str, str | None] = {t: None for t in args.drop}
    for item in args.correct:
        task, sep, label = item.partition("=")
        if not sep or not task or not label:
            raise ValueError(f"--correct takes TASK=LABEL; got {item!r}")
        out[task] = label
    return out or None


def audit_text(a: BanAudit) -> str:
    lines = [f"golden labels changed: {json.dumps(a.overrides) if a.overrides else 'none'}"]
    lines.append(f"control tasks most annotators miss or suspect: {len(a.control_tasks)}")
    for t, r in a.control_tasks.iterrows():
        flag = " SUSPECT" if r["suspect"] else ""
        lines.append(
            f"  {t}  golden {r['golden']}  right {r['correct']}/{r['answers']}  "
            f"most chose {r['most_common_answer']}{flag}"
        )
    resting = a.bans[a.bans["rests_on_suspect"]] if len(a.bans) else a.bans
    lines.append(f"bans resting on suspect answers: {len(resting)}; lifted by the change: {len(a.lifted)}")
    for r in resting.itertuples():
        lines.append(f"  {r.worker_id}  {r.rule} at {r.at}  on {r.suspect_tasks}  {'LIFTED' if r.lifted else ''}")
    b, f = a.headline["before"], a.headline["after"]
    lines.append(f"control accuracy {_pct(b.get('control_accuracy'))} -> {_pct(f.get('control_accuracy'))}")
    return "\n".join(lines + _quality_lines(a.quality))


def cmd_audit(args: argparse.Namespace) -> int:
    if args.propose and not (args.reviewer or "").strip():
        raise ValueError("--propose needs --reviewer NAME (who proposes it)")
    ws = open_workspace(args)
    info = stores.resolve(ws.listing(), args.version, where=f"the workspace {ws.root}")
    run = ws.open_run(info.id)
    a = registry.compute(run, "ban_audit", golden_overrides=_overrides(args))
    out = a.as_dict()
    if args.propose:
        summary = {"lifted": out["lifted"], "new_bans": out["new_bans"], "headline": a.headline, "quality": a.quality}
        p = qa_records.record_proposal(
            ws, info.id, "golden_overrides", a.overrides, args.reviewer, args.note, summary=json.loads(_dump(summary))
        )
        out["proposal_id"] = p.id
    if args.format == "json":
        print(_dump(out))
    else:
        print(audit_text(a) + (f"\nstored as proposal {out['proposal_id']}" if args.propose else ""))
    return 0


def cmd_exam_review(args: argparse.Namespace) -> int:
    run = open_version(args)
    e = registry.compute(run, "exam_review", pass_mark=args.pass_mark)
    if args.format == "json":
        print(_dump(e.as_dict()))
        return 0
    c = e.correlation
    lines = [f"pass mark {e.recorded_pass_mark} (as set: {e.pass_mark})", f"{c['measure']}: n = {c['n']}"]
    lines.append(
        f"  r = {c['pearson_r']:.3f} [{c['ci_low']:.3f}, {c['ci_high']:.3f}], rho = {c['spearman_rho']:.3f}"
        if c["pearson_r"] is not None
        else f"  undefined: {c['why']}"
    )
    for name in ("let_in", "kept_out", "kept"):
        g = getattr(e, name)
        lines.append(
            f"{name.replace('_', ' ')}: {g['candidates']} "
            f"(worked {g['worked']}, later accuracy {_pct(g['control_accuracy'])})"
        )
    print("\n".join(lines))
    return 0
