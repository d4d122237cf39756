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
