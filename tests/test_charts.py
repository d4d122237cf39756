"""Charts show data as text: a label, id or version name holding markup is escaped for plotly."""

from __future__ import annotations

import pandas as pd

from dashboard import charts

MARKUP = '<a href="https://x.invalid">click</a><b>bold</b>'
SHOWN = '&lt;a href="https://x.invalid"&gt;click&lt;/a&gt;&lt;b&gt;bold&lt;/b&gt;'


def test_labels_and_ids_are_escaped():
    shares = pd.DataFrame({"count": [3, 1], "share": [0.75, 0.25], "others_share": [0.5, 0.5]}, index=[MARKUP, "dog"])
    fig = charts.label_use_chart(shares)
    assert all(list(t.x) == [SHOWN, "dog"] for t in fig.data)

    matrix = pd.DataFrame([[None, 0.5], [0.5, None]], index=[MARKUP, "w2"], columns=[MARKUP, "w2"], dtype=float)
    heat = charts.agreement_heatmap(matrix)
    assert heat.data[0].customdata[0][1][0] == SHOWN  # the full id in the hover

    versions = pd.DataFrame({"cost_per_final_label": [0.1], "total": [1.0], "final_labels": [10]}, index=[MARKUP])
    bar = charts.cost_by_version_chart(versions, "<i>USD</i>")
    assert list(bar.data[0].x) == [SHOWN] and "&lt;i&gt;USD&lt;/i&gt;" in bar.data[0].hovertemplate

    lineage = charts.lineage_graph([{"id": "a", "label": MARKUP}], [])
    assert list(lineage.data[0].text) == [SHOWN]


# ---- ids and labels are categories; counts have whole-number ticks (issue 18 point 2)

NUMERIC_IDS = ["896", "1053", "1700", "12"]  # Zheng Duck's worker ids: numbers as text


def _is_category(axis) -> bool:
    return axis.type == "category"


def _integer_ticks(axis) -> bool:
    return axis.tickformat == ",d" and axis.dtick is not None and float(axis.dtick).is_integer() and axis.dtick >= 1


def test_numeric_worker_ids_are_categories_in_the_heatmaps():
    matrix = pd.DataFrame(0.5, index=NUMERIC_IDS, columns=NUMERIC_IDS)
    fig = charts.agreement_heatmap(matrix)
    assert _is_category(fig.layout.xaxis) and _is_category(fig.layout.yaxis)
    assert list(fig.data[0].x) == NUMERIC_IDS and fig.layout.xaxis.dtick == 1  # every id is a tick
    diff = pd.DataFrame(1.0, index=NUMERIC_IDS, columns=["0", "1"])
    bias = charts.label_bias_heatmap(diff)
    assert _is_category(bias.layout.xaxis) and _is_category(bias.layout.yaxis)
    assert list(bias.data[0].x) == ["0", "1"]


def test_long_ids_keep_distinct_ticks_and_the_full_id_in_the_hover():
    ids = [f"worker-aaaaaaaaaaaa-{i}" for i in range(3)]
    fig = charts.agreement_heatmap(pd.DataFrame(0.1, index=ids, columns=ids))
    ticks = list(fig.data[0].x)
    assert len(set(ticks)) == 3 and all(len(t) <= 12 for t in ticks)
    assert list(fig.data[0].customdata[0][2]) == [ids[0], ids[2]]


def test_binary_labels_are_two_categories_not_a_numeric_axis():
    shares = pd.DataFrame({"count": [3, 1], "share": [0.75, 0.25], "others_share": [0.5, 0.5]}, index=["0", "1"])
    assert _is_category(charts.label_use_chart(shares).layout.xaxis)
    frame = pd.DataFrame({"share": [0.6, 0.4], "count": [6, 4]}, index=["0", "1"])
    fig = charts.distribution_bars(frame, {"share": "answers"})
    assert _is_category(fig.layout.xaxis) and list(fig.data[0].x) == ["0", "1"]
    methods = pd.DataFrame(
        {"method": ["1", "2"], "accuracy": [0.9, 0.8], "ci_low": [0.8, 0.7], "ci_high": [0.95, 0.9]}
        | {"correct": [9, 8], "tasks": [10, 10]}
    )
    assert _is_category(charts.accuracy_by_method(methods).layout.xaxis)
    versions = pd.DataFrame({"cost_per_final_label": [0.1, 0.2], "total": [1.0, 2.0], "final_labels": [10, 10]})
    assert _is_category(charts.cost_by_version_chart(versions.set_axis(["1.0", "2.0"]), "USD").layout.xaxis)


def test_count_axes_tick_at_whole_numbers():
    items = pd.DataFrame({"agreement": [1.0] * 18 + [2 / 3] * 5 + [1 / 3]})
    assert _integer_ticks(charts.agreement_histogram(items).layout.yaxis)
    scores = pd.DataFrame({"score": [0.2, 0.4, 0.4, 1.0], "items": [5] * 4, "passed": [False, False, False, True]})
    assert _integer_ticks(charts.exam_score_histogram(scores, 0.7).layout.yaxis)
    status = pd.DataFrame({"answers": [18, 3], "assignments": [6, 1]}, index=["ACCEPTED", "REJECTED"])
    fig = charts.status_chart(status)
    assert _integer_ticks(fig.layout.xaxis) and _is_category(fig.layout.yaxis)
    tp = pd.DataFrame(
        {"answers": [6, 12, 19], "active_annotators": [1, 3, 2]}, index=pd.date_range("2024-01-01", periods=3, freq="h")
    )
    fig = charts.throughput_chart(tp)
    assert _integer_ticks(fig.layout.yaxis) and _integer_ticks(fig.layout.yaxis2)
    assert fig.layout.yaxis2.dtick == 1  # 3 annotators at most: 0, 1, 2, 3


def test_exam_counts_are_beside_the_interval_not_over_it():
    items = pd.DataFrame(
        {
            "pass_rate": [0.84, 0.5],
            "ci_low": [0.76, 0.3],
            "ci_high": [0.9, 0.7],
            "correct": [88, 5],
            "answers": [105, 10],
            "golden": ["1", "0"],
            "discrimination": [0.3, 0.1],
        },
        index=["101", "102"],
    )
    verdicts = pd.DataFrame(
        {"verdict": ["works", "trap"], "low_pass_rate": [False, True], "reading": ["fine", "a trap"]},
        index=items.index,
    )
    fig = charts.exam_item_chart(items, verdicts)
    assert _is_category(fig.layout.yaxis)
    marks = [t for t in fig.data if t.mode == "markers"]
    labels = [t for t in fig.data if t.mode == "text"]
    assert marks and labels and all(t.text is not None for t in labels)
    for m, lab in zip(marks, labels, strict=True):
        # the text starts right of each interval's upper end
        highs = [x + e for x, e in zip(m.x, m.error_x.array, strict=True)]
        assert all(tx > h for tx, h in zip(lab.x, highs, strict=True))
        assert "88/105" in "".join(lab.text) or "5/10" in "".join(lab.text)
