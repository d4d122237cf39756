"""Long tables and truth files, on toy frames and on every real data set in ../shared/data."""

from __future__ import annotations

import pytest
from conftest import shared

from analytics.model import ValidationError
from analytics.sources import ReadOptions, read_files
from analytics.sources.long_table import read_long_table, read_truth


def test_crowdkit_and_benchmark_headers_both_load(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("task,worker,label\nt1,w1,x\nt1,w2,y\nt2,w1,x\n")
    b = tmp_path / "b.csv"
    b.write_text("question,worker,answer\nt1,w1,x\nt1,w2,y\nt2,w1,x\n")
    ra, rb = read_long_table(a), read_long_table(b)
    for r in (ra, rb):
        assert len(r.answers) == 3 and list(r.labels) == ["x", "y"]
        assert r.answers["assignment_id"].isna().all()


def test_explicit_mapping_and_headerless(tmp_path):
    a = tmp_path / "a.tsv"
    a.write_text("w1\tt1\tx\nw2\tt1\ty\n")
    r = read_long_table(a, names=["worker", "task", "label"])
    assert list(r.answers["worker_id"]) == ["w1", "w2"]
    assert r.answers.loc[0, "task_id"] == "t1"
    b = tmp_path / "b.csv"
    b.write_text("item_key,who,said\nt1,w1,x\n")
    r = read_long_table(b, columns={"task": "item_key", "worker": "who", "label": "said"})
    assert r.answers.loc[0, "label"] == "x"


def test_unknown_mapping_names_the_columns(tmp_path):
    b = tmp_path / "b.csv"
    b.write_text("item_key,who,said\nt1,w1,x\n")
    with pytest.raises(ValidationError) as err:
        read_long_table(b, columns={"task": "nope"})
    text = str(err.value)
    assert "'nope'" in text and "item_key, who, said" in text


def test_golden_marks_control_and_truth_is_kept_apart(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("task,worker,label,golden,gold\nt1,w1,x,x,x\nt1,w2,y,x,x\nt2,w1,y,,y\nt2,w2,y,,y\n")
    r = read_long_table(p)
    assert list(r.answers["kind"].astype(str)) == ["control", "control", "regular", "regular"]
    assert r.truth.to_dict() == {"t1": "x", "t2": "y"}


def test_truth_file_forms(tmp_path):
    a = tmp_path / "t.csv"
    a.write_text("question,truth\n1,0\n2,1\n")
    assert read_truth(a).to_dict() == {"1": "0", "2": "1"}
    b = tmp_path / "gold.txt"
    b.write_text("http://a.com\tG\nhttp://b.com\tX\n")
    assert read_truth(b).to_dict() == {"http://a.com": "G", "http://b.com": "X"}
    c = tmp_path / "c.csv"
    c.write_text("task,label\n1,a\n1,b\n2,a\n")
    with pytest.raises(ValidationError) as err:
        read_truth(c)
    assert err.value.problems[0].rows == (2, 3)


def test_placeholder_times_are_dropped_not_shown_as_durations(tmp_path):
    rows = ["task,worker,label,start,end"] + [
        f"t{i},w{i % 5},x,2019-03-25 07:39:42,2019-03-25 07:41:05" for i in range(30)
    ]
    p = tmp_path / "a.csv"
    p.write_text("\n".join(rows) + "\n")
    r = read_long_table(p)
    assert r.answers["started_at"].isna().all() and r.answers["submitted_at"].isna().all()
    assert any("placeholder" in n.message for n in r.notes)


# ---- the real data sets: counts from each README

ZHENG = {
    # set: answers, items, workers, (labels)
    "duck": (4212, 108, 39, 2),
    "dog": (8070, 807, 109, 4),
    "face": (5242, 584, 27, 4),
    "product": (24945, 8315, 176, 2),
    "emotion": (7000, 700, 38, None),
}


@pytest.mark.shared_data
@pytest.mark.parametrize("name", list(ZHENG))
def test_zheng2017_sets_load_with_their_counts(name):
    folder = shared("zheng2017-truth-inference", name)
    # Emotion's answers are numbers -100..100: read on their interval scale (as nominal they are refused)
    options = ReadOptions(scale="interval") if name == "emotion" else ReadOptions()
    run = read_files([folder / "answer.csv"], options, truth=folder / "truth.csv")
    answers, items, workers, n_labels = ZHENG[name]
    s = run.summary()
    assert (s["answers"], s["tasks"], s["workers"]) == (answers, items, workers)
    if n_labels:
        assert len(run.labels) == n_labels
    assert len(run.truth) == (700 if name == "emotion" else items)
    assert run.meta.scale == ("interval" if name == "emotion" else "nominal")
    assert run.answers.duplicated(["task_id", "worker_id"]).sum() == 0


@pytest.mark.shared_data
def test_emotion_read_as_categories_is_refused_with_the_fix():
    folder = shared("zheng2017-truth-inference", "emotion")
    with pytest.raises(ValidationError, match="94 distinct numbers.*--scale interval"):
        read_files([folder / "answer.csv"])


@pytest.mark.shared_data
def test_adultcontent2_loads_with_its_counts():
    folder = shared("gal-adultcontent2")
    truth = read_truth(folder / "gold.txt")
    assert len(truth) == 1517
    run = read_files([folder / "labels.txt"], ReadOptions(names=["worker", "task", "label"]), truth=folder / "gold.txt")
    s = run.summary()
    assert (s["answers"], s["tasks"], s["workers"]) == (92721, 11040, 825)
    assert run.answers["label"].value_counts().to_dict() == {"G": 70706, "P": 10579, "X": 7096, "R": 4340}
    assert run.truth.index.isin(run.answers["task_id"].cat.categories).sum() == 333
    assert any("2,918 (task, worker) pairs" in n.message for n in run.notes)
    deduped = read_files([folder / "labels.txt"], ReadOptions(names=["worker", "task", "label"], dedupe=True))
    assert len(deduped.answers) == 89799


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "name, answers, items, workers, labels",
    [("rte", 8000, 800, 164, ["0", "1"]), ("temp", 4620, 462, 76, ["after", "before"])],
)
def test_snow2008_loads_with_its_counts(name, answers, items, workers, labels):
    path = shared("snow2008-rte-temp", f"{name}.standardized.csv")
    run = read_files([path])
    s = run.summary()
    assert (s["answers"], s["tasks"], s["workers"]) == (answers, items, workers)
    assert list(run.labels) == labels
    # gold on every row is ground truth, not control tasks
    assert len(run.truth) == items and (run.answers["kind"] == "regular").all()
    # start/end are one placeholder value: never shown as durations
    assert not run.has_times
    if name == "rte":
        assert set(run.tasks.columns) >= {"hypothesis", "text"}
