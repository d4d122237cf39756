"""Import: upload a Toloka export in the browser, see every problem at once, store it as a version."""

from __future__ import annotations

import hashlib

import streamlit as st

from analytics.model import ValidationError
from analytics.sources import ReadOptions, read_files
from analytics.sources.toloka_tsv import output_fields
from dashboard import data, nav

st.title("Import a labeling run")
st.caption(
    "Upload the results of a Toloka pool (Download results → TSV) or a table with one answer per row "
    "(task, worker, label). Nothing is stored until every problem is fixed and you press *Store*."
)

ws = data.workspace()
ls = data.listing(str(ws.root))

main_files = st.file_uploader(
    "Results of the main pool(s)", type=["tsv", "csv", "txt"], accept_multiple_files=True, key="main_files"
)
with st.expander("Exam pool, truth file and reading options"):
    exam_files = st.file_uploader(
        "Results of the exam pool(s) (optional)", type=["tsv"], accept_multiple_files=True, key="exam_files"
    )
    truth_file = st.file_uploader(
        "Truth file: task, label (optional, for evaluation)", type=["tsv", "csv", "txt"], key="truth_file"
    )
    fmt = st.radio(
        "Format",
        ["auto", "toloka", "long"],
        horizontal=True,
        help="auto recognises a Toloka TSV by its ASSIGNMENT:/OUTPUT: columns",
    )
    label_field = None
    fields = []
    for f in main_files or []:
        try:
            fields += [x for x in output_fields(f.getvalue(), name=f.name) if x not in fields]
        except ValidationError:
            pass
    if len(fields) > 1:
        label_field = st.selectbox("Output field that holds the label", fields)
    columns = st.text_input(
        "Long table: column mapping (optional)", placeholder="task=question,worker=annotator,label=answer"
    )
    names = st.text_input("Headerless file: column names (optional)", placeholder="worker,task,label")
    labels = st.text_input("Label set in tie order (optional)", placeholder="solid,liquid,other")
    dedupe = st.checkbox("Keep only a worker's first answer to a task", value=False)
    c1, c2, c3 = st.columns(3)
    currency = c1.text_input("Currency", value="USD")
    fee_rate = c2.number_input("Platform fee (share of rewards)", min_value=0.0, max_value=1.0, value=0.0, step=0.05)
    reward = c3.number_input(
        "Reward per suite where the export has none", min_value=0.0, value=0.0, step=0.001, format="%.3f"
    )

if not main_files:
    st.info("Choose one or more results files to begin.")
    st.stop()


def _pairs(text: str) -> dict[str, str]:
    out = {}
    for part in [p for p in text.split(",") if p.strip()]:
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


options = ReadOptions(
    format=fmt,
    label_field=label_field,
    columns=_pairs(columns),
    names=[x.strip() for x in names.split(",")] if names.strip() else None,
    labels=[x.strip() for x in labels.split(",")] if labels.strip() else None,
    dedupe=dedupe,
    currency=currency.strip() or "USD",
    fee_rate=float(fee_rate),
    reward_per_assignment=float(reward) if reward else None,
)
digest = hashlib.sha256(repr(options).encode())
for f in list(main_files) + list(exam_files or []) + ([truth_file] if truth_file else []):
    digest.update(f.name.encode())
    digest.update(f.getvalue())
key = digest.hexdigest()

if st.session_state.get("import_key") != key:
    st.session_state.pop("import_run", None)
    st.session_state.pop("import_problems", None)
    st.session_state["import_key"] = key
    with st.status("Reading and checking the files…", expanded=False) as status:
        try:
            run = read_files(
                [f.getvalue() for f in main_files],
                options,
                exam=[f.getvalue() for f in exam_files or []],
                truth=truth_file.getvalue() if truth_file else None,
                names=[f.name for f in main_files],
                exam_names=[f.name for f in exam_files or []],
            )
            st.session_state["import_run"] = run
            status.update(label="Checked: no problems.", state="complete")
        except ValidationError as err:
            st.session_state["import_problems"] = err
            status.update(label=f"{len(err.problems)} problem(s) found.", state="error")
        except ValueError as err:
            st.session_state["import_problems"] = err
            status.update(label="The files cannot be read with these options.", state="error")

problems = st.session_state.get("import_problems")
if problems is not None:
    if isinstance(problems, ValidationError):
        st.error(
            f"{len(problems.problems)} problem(s) found — nothing was stored. Fix them in the export (or the options above) and upload again."
        )
        st.dataframe(problems.table(), hide_index=True, width="stretch")
        st.download_button(
            "Download the problems as CSV", problems.table().to_csv(index=False), "import-problems.csv", "text/csv"
        )
    else:
        st.error(str(problems))
    st.stop()

run = st.session_state["import_run"]
s = run.summary()
c = st.columns(4)
c[0].metric("Answers", f"{s['answers']:,}")
c[1].metric("Tasks", f"{s['tasks']:,}")
c[2].metric("Annotators", f"{s['workers']:,}")
c[3].metric("Labels", len(s["labels"]))
st.caption(
    "Task kinds: " + ", ".join(f"{k} {v:,}" for k, v in s["kinds"].items()) + " · labels: " + ", ".join(s["labels"])
)
for n in run.notes:
    st.warning(f"{n.message} {n.fix}")

with st.form("store"):
    st.subheader("Store as a dataset version")
    c1, c2 = st.columns(2)
    name = c1.text_input("Dataset name", value=(run.meta.project or main_files[0].name.rsplit(".", 1)[0])[:60])
    version = c2.text_input("Version", value="1.0.0")
    parent_ids = ["(none)"] + [v.id for v in reversed(ls.versions)]
    labels_by_id = {v.id: f"{v.label} · {v.id[:8]}" for v in ls.versions}
    parent = st.selectbox("Parent version", parent_ids, format_func=lambda i: labels_by_id.get(i, i))
    submitted = st.form_submit_button("Store", type="primary")

if submitted:
    try:
        info = ws.add_version(run, name=name, version=version, parents=[] if parent == "(none)" else [parent])
    except (ValueError, KeyError) as err:
        st.error(err.args[0] if err.args else str(err))
        st.stop()
    data.listing.clear()
    st.success(f"Stored {info.label} ({info.id[:8]}).")
    nav.link("overview.py", f"Open {info.label}", version=info.id)
