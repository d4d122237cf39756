"""Import: upload a Toloka export in the browser, see every problem at once, store it as a version.

Beside the results: exam pools, a truth file, and what the Toloka API import reads (the pools'
configs, the restrictions, the bonuses: toloka-kit objects as ``to_json()`` writes them). The
platform fee starts at the one default of every import path (Pricing.DEFAULT_FEE_RATE) and is
shown as assumed until it is changed.

An upload is copied to a temporary file in 1 MiB chunks and read from that path as the CLI reads
one. The session keeps only small things (the temporary paths, the problems, a summary), never
the bytes or the run; the temporary files go when the version is stored, the check fails, or the
session ends (a browser tab closed before storing).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import shutil
import tempfile
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Sequence

import streamlit as st

from analytics.model import Pricing, Problem, Run, ValidationError
from analytics.sources import ReadOptions, read_files
from analytics.sources.toloka_tsv import output_fields
from dashboard import data, nav

STAGING_PREFIX = "crowdlens-import-"
STALE_AFTER_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Staged:
    """Uploads copied to a temporary folder: the paths to read and the names to show."""

    folder: str
    main: tuple[str, ...]
    main_names: tuple[str, ...]
    exam: tuple[str, ...] = ()
    exam_names: tuple[str, ...] = ()
    truth: str | None = None
    pool_config: tuple[str, ...] = ()
    restrictions: tuple[str, ...] = ()
    bonuses: tuple[str, ...] = ()


def stage(
    main: Sequence[IO[bytes]],
    exam: Sequence[IO[bytes]] = (),
    truth: IO[bytes] | None = None,
    *,
    pool_config: Sequence[IO[bytes]] = (),
    restrictions: Sequence[IO[bytes]] = (),
    bonuses: Sequence[IO[bytes]] = (),
) -> Staged:
    """Copy uploaded files (anything with ``name`` and ``read``) to a new temporary folder, 1 MiB at a time.

    ``pool_config``, ``restrictions`` and ``bonuses`` are files of toloka-kit objects (see
    :class:`analytics.sources.ReadOptions`)."""
    _remove_stale()
    folder = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX))

    def copy(i: int, upload: IO[bytes]) -> str:
        target = folder / f"{i}-{Path(getattr(upload, 'name', 'upload')).name}"
        upload.seek(0)
        with target.open("wb") as out:
            shutil.copyfileobj(upload, out, 1 << 20)
        upload.seek(0)
        return str(target)

    counter = itertools.count()

    def copies(group: Sequence[IO[bytes]]) -> tuple[str, ...]:
        return tuple(copy(next(counter), u) for u in group)

    return Staged(
        folder=str(folder),
        main=copies(main),
        main_names=tuple(_name(u) for u in main),
        exam=copies(exam),
        exam_names=tuple(_name(u) for u in exam),
        truth=copies([truth])[0] if truth is not None else None,
        pool_config=copies(pool_config),
        restrictions=copies(restrictions),
        bonuses=copies(bonuses),
    )


class FolderOfSession:
    """Kept in a session's state beside its staged upload: when Streamlit drops the state of a session
    that ended without storing (``server.disconnectedSessionTTL`` after its tab closed, 120 s by
    default), the folder goes with it, not a day later (see :func:`_remove_stale`)."""

    def __init__(self, folder: str):
        self.folder = folder
        weakref.finalize(self, shutil.rmtree, folder, True)


def discard(staged: Staged | None) -> None:
    """Delete a staged upload's temporary files."""
    if staged is not None:
        shutil.rmtree(staged.folder, ignore_errors=True)


def read_staged(staged: Staged, options: ReadOptions) -> Run:
    """The validated run of staged files (ValidationError with every problem otherwise)."""
    options = dataclasses.replace(
        options,
        pool_config=list(staged.pool_config),
        restrictions=list(staged.restrictions),
        bonuses=list(staged.bonuses),
    )
    return read_files(
        list(staged.main),
        options,
        exam=list(staged.exam),
        truth=staged.truth,
        names=list(staged.main_names),
        exam_names=list(staged.exam_names),
    )


def check(staged: Staged, options: ReadOptions) -> tuple[dict | None, list[Problem] | str | None]:
    """(summary, None) when the files are fine, else (None, problems); failed uploads are discarded."""
    try:
        run = read_staged(staged, options)
    except ValidationError as err:
        discard(staged)
        return None, list(err.problems)
    except ValueError as err:
        discard(staged)
        return None, str(err)
    summary = run.summary()
    summary["notes"] = [f"{n.message} {n.fix}" for n in run.notes]
    summary["project"] = run.meta.project
    summary["scale"] = run.meta.scale
    summary["fee_note"] = run.pricing.fee_note()
    summary["restrictions"] = int(len(run.restrictions))
    summary["bonuses"] = int(len(run.pricing.bonuses))
    summary["pass_threshold"] = next((p.pass_threshold for p in run.meta.pools if p.kind == "exam"), None)
    return summary, None


def store(staged: Staged, options: ReadOptions, workspace, *, name: str, version: str, parents: Sequence[str]):
    """Read the staged files again, store them as a version, delete them; the VersionInfo."""
    from analytics.versions import import_run

    try:
        run = read_staged(staged, options)
        return import_run(workspace, run, name=name, version=version, parents=list(parents))
    finally:
        discard(staged)


def upload_key(uploads: Sequence, options: ReadOptions) -> str:
    """Identifies a set of uploads and options without reading the uploads."""
    digest = hashlib.sha256(repr(options).encode())
    for u in uploads:
        digest.update(f"{getattr(u, 'file_id', '')}|{_name(u)}|{getattr(u, 'size', '')}".encode())
    return digest.hexdigest()


def label_fields(uploads: Sequence[IO[bytes]]) -> list[str]:
    """The OUTPUT: fields of the uploads' headers (read from their first 64 KiB only)."""
    fields: list[str] = []
    for u in uploads:
        u.seek(0)
        head = u.read(1 << 16)
        u.seek(0)
        try:
            fields += [x for x in output_fields(head, name=_name(u)) if x not in fields]
        except ValidationError:
            pass
    return fields


def _remove_stale() -> None:
    """Staging folders of sessions that ended without storing (older than a day)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{STAGING_PREFIX}*"):
        try:
            if time.time() - folder.stat().st_mtime > STALE_AFTER_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


def _name(upload) -> str:
    return str(getattr(upload, "name", "uploaded file"))


def _pairs(text: str) -> dict[str, str]:
    out = {}
    for part in [p for p in text.split(",") if p.strip()]:
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def _split(text: str) -> list[str] | None:
    return [x.strip() for x in text.split(",")] if text.strip() else None


# ---- the page


@dataclass
class _Uploads:
    """What the options form uploads beside the main results."""

    exam: list
    truth: object
    pool_config: list
    restrictions: list
    bonuses: list

    def all(self) -> list:
        return self.exam + ([self.truth] if self.truth else []) + self.pool_config + self.restrictions + self.bonuses


def _toloka_files_form() -> tuple[list, list, list, float | None]:
    """Uploads of what the Toloka API import reads (toloka-kit objects), and the exam pass mark."""
    st.caption(
        "What the Toloka API import reads, as toloka-kit writes it (`obj.to_json()`, one per line or a JSON array): "
        "the pools' configs (reward, overlap, suite size, quality-control rules, the exam pass mark of the main "
        "pool's skill filter), the restrictions (bans) and the bonuses."
    )
    json_types = ["json", "jsonl", "txt"]
    c1, c2, c3 = st.columns(3)
    pools = c1.file_uploader("Pool configs (Pool)", type=json_types, accept_multiple_files=True, key="pool_files")
    bans = c2.file_uploader(
        "Restrictions (UserRestriction)", type=json_types, accept_multiple_files=True, key="restriction_files"
    )
    bonuses = c3.file_uploader("Bonuses (UserBonus)", type=json_types, accept_multiple_files=True, key="bonus_files")
    threshold = st.number_input(
        "Exam pass mark, % (0: from the main pool's skill filter)", min_value=0.0, max_value=100.0, value=0.0, step=5.0
    )
    return list(pools or []), list(bans or []), list(bonuses or []), float(threshold) if threshold else None


def _pricing_form() -> dict:
    """Currency, fee and rewards; the fee at its default is marked as assumed."""
    c1, c2, c3, c4 = st.columns(4)
    currency = c1.text_input("Currency", value="USD")
    fee_rate = c2.number_input(
        "Platform fee (share of rewards)",
        min_value=0.0,
        max_value=1.0,
        value=Pricing.DEFAULT_FEE_RATE,
        step=0.05,
        help="Toloka's published 30 % unless you change it; neither the API nor an export states the fee.",
    )
    reward = c3.number_input(
        "Reward per suite where the export has none", min_value=0.0, value=0.0, step=0.001, format="%.3f"
    )
    per_answer = c4.number_input("Long table: reward per answer", min_value=0.0, value=0.0, step=0.001, format="%.3f")
    assumed = fee_rate == Pricing.DEFAULT_FEE_RATE
    if assumed:
        st.caption(
            f"Platform fee {Pricing.DEFAULT_FEE_RATE * 100:g} % assumed (Toloka's published rate); "
            "set your invoice's rate above to change it."
        )
    return {
        "currency": currency.strip() or "USD",
        "fee_rate": None if assumed else float(fee_rate),
        "reward_per_assignment": float(reward) if reward else None,
        "reward_per_answer": float(per_answer) if per_answer else None,
    }


SCALE_HELP = {
    None: "say nothing (nominal; numbers with more than 12 distinct values are refused)",
    "nominal": "nominal: categories",
    "ordinal": "ordinal: ordered grades (order: the label set below, else numeric)",
    "interval": "interval: numbers (differences count)",
    "ratio": "ratio: numbers with a true zero",
}


def _options_form(main_files) -> tuple[_Uploads, ReadOptions]:
    scale = st.selectbox(
        "Label scale",
        list(SCALE_HELP),
        format_func=SCALE_HELP.get,
        key="scale",
        help="How answers are measured (crowdlens --scale): grades and numbers get alpha, errors and spread "
        "on their scale; nominal answers stay categories.",
    )
    with st.expander("Exam pool, truth file, Toloka files and reading options"):
        exam_files = st.file_uploader(
            "Results of the exam pool(s) (optional)", type=["tsv"], accept_multiple_files=True, key="exam_files"
        )
        truth_file = st.file_uploader(
            "Truth file: task, label (optional, for evaluation)", type=["tsv", "csv", "txt"], key="truth_file"
        )
        pools, bans, bonuses, threshold = _toloka_files_form()
        fmt = st.radio(
            "Format",
            ["auto", "toloka", "long"],
            horizontal=True,
            help="auto recognises a Toloka TSV by its ASSIGNMENT:/OUTPUT: columns",
        )
        fields = label_fields(main_files or [])
        label_field = st.selectbox("Output field that holds the label", fields) if len(fields) > 1 else None
        columns = st.text_input(
            "Long table: column mapping (optional)", placeholder="task=question,worker=annotator,label=answer"
        )
        names = st.text_input("Headerless file: column names (optional)", placeholder="worker,task,label")
        labels = st.text_input(
            "Label set in tie order (optional; an ordinal scale's order)", placeholder="solid,liquid,other"
        )
        dedupe = st.checkbox("Keep only a worker's first answer to a task", value=False)
        pricing = _pricing_form()
    options = ReadOptions(
        format=fmt,
        label_field=label_field,
        columns=_pairs(columns),
        names=_split(names),
        labels=_split(labels),
        dedupe=dedupe,
        scale=scale,
        exam_threshold=threshold,
        **pricing,
    )
    return _Uploads(list(exam_files or []), truth_file, pools, bans, bonuses), options


def _check_uploads(main_files, side: _Uploads, options) -> None:
    """Stage and check the uploads once per set of files and options (the result stays in the session)."""
    key = upload_key(list(main_files) + side.all(), options)
    state = st.session_state
    if state.get("import_key") == key:
        return
    if state.get("import_staged"):
        discard(Staged(**state["import_staged"]))
    for k in ("import_staged", "import_problems", "import_summary", "import_stored", "import_folder"):
        state.pop(k, None)
    state["import_key"] = key
    with st.status("Reading and checking the files…", expanded=False) as status:
        staged = stage(
            main_files,
            side.exam,
            side.truth,
            pool_config=side.pool_config,
            restrictions=side.restrictions,
            bonuses=side.bonuses,
        )
        summary, problems = check(staged, options)
        if problems is None:
            # plain dicts: a class defined in a page script is a new class on every rerun
            state["import_staged"], state["import_summary"] = asdict(staged), summary
            state["import_folder"] = FolderOfSession(staged.folder)
            status.update(label="Checked: no problems.", state="complete")
        else:
            state["import_problems"] = problems
            many = isinstance(problems, list)
            label = f"{len(problems)} problem(s) found." if many else "The files cannot be read with these options."
            status.update(label=label, state="error")


def _show_problems(problems: list[Problem] | str) -> None:
    if isinstance(problems, str):
        st.error(problems)
        return
    table = ValidationError(problems).table()
    st.error(
        f"{len(problems)} problem(s) found — nothing was stored. Fix them in the export (or the options above) "
        "and upload again."
    )
    st.dataframe(table, hide_index=True, width="stretch")
    st.download_button("Download the problems as CSV", table.to_csv(index=False), "import-problems.csv", "text/csv")


def _show_summary(s: dict) -> None:
    c = st.columns(4)
    c[0].metric("Answers", f"{s['answers']:,}")
    c[1].metric("Tasks", f"{s['tasks']:,}")
    c[2].metric("Annotators", f"{s['workers']:,}")
    c[3].metric("Labels", len(s["labels"]))
    shown = s["labels"] if len(s["labels"]) <= 30 else [*s["labels"][:3], "…", *s["labels"][-3:]]
    st.caption(
        "Task kinds: "
        + ", ".join(f"{k} {v:,}" for k, v in s["kinds"].items())
        + (f" · scale: {s['scale']}" if s.get("scale") else "")
        + " · labels: "
        + ", ".join(str(x) for x in shown)
    )
    if s.get("restrictions") or s.get("bonuses") or s.get("pass_threshold") is not None:
        extra = [f"{s.get('restrictions', 0):,} restriction(s)", f"{s.get('bonuses', 0):,} bonus(es)"]
        if s.get("pass_threshold") is not None:
            extra.append(f"exam pass mark {s['pass_threshold']:.0%}")
        st.caption("Beside the answers: " + " · ".join(extra))
    if s.get("fee_note"):
        st.info(s["fee_note"])
    for note in s["notes"]:
        st.warning(note)


def _store_form(main_files, options: ReadOptions, summary: dict) -> None:
    ws = data.workspace()
    ls = data.listing(str(ws.root))
    with st.form("store"):
        st.subheader("Store as a dataset version")
        c1, c2 = st.columns(2)
        name = c1.text_input("Dataset name", value=(summary["project"] or main_files[0].name.rsplit(".", 1)[0])[:60])
        version = c2.text_input("Version", value="1.0.0")
        parent_ids = ["(none)"] + [v.id for v in reversed(ls.versions)]
        labels_by_id = {v.id: f"{v.label} · {v.id[:8]}" for v in ls.versions}
        parent = st.selectbox("Parent version", parent_ids, format_func=lambda i: labels_by_id.get(i, i))
        submitted = st.form_submit_button("Store", type="primary")
    if not submitted:
        return
    staged = Staged(**st.session_state.pop("import_staged"))
    try:
        with st.spinner("Storing the version…"):
            info = store(
                staged, options, ws, name=name, version=version, parents=[] if parent == "(none)" else [parent]
            )
    except (ValueError, KeyError) as err:
        st.session_state.pop("import_key", None)  # the staged files are gone: check the uploads again
        st.error(err.args[0] if err.args else str(err))
        st.stop()
    data.listing.clear()
    st.session_state["import_stored"] = (info.label, info.id)


def _page() -> None:
    st.title("Import a labeling run")
    st.caption(
        "Upload the results of a Toloka pool (Download results → TSV) or a table with one answer per row "
        "(task, worker, label). Nothing is stored until every problem is fixed and you press *Store*."
    )
    main_files = st.file_uploader(
        "Results of the main pool(s)", type=["tsv", "csv", "txt"], accept_multiple_files=True, key="main_files"
    )
    side, options = _options_form(main_files)
    if not main_files:
        st.info("Choose one or more results files to begin.")
        st.stop()
    _check_uploads(main_files, side, options)
    state = st.session_state
    if state.get("import_problems") is not None:
        _show_problems(state["import_problems"])
        st.stop()
    if state.get("import_stored"):
        label, version_id = state["import_stored"]
        st.success(f"Stored {label} ({version_id[:8]}).")
        nav.link("overview.py", f"Open {label}", version=version_id)
        st.stop()
    _show_summary(state["import_summary"])
    _store_form(main_files, options, state["import_summary"])
    if state.get("import_stored"):
        st.rerun()


if __name__ == "__main__":
    _page()
