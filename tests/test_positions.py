"""metrics.positions: many values looked up in a few names, as pandas' get_indexer gives them, for every dtype."""

import numpy as np
import pandas as pd
import pytest

from analytics.metrics._base import positions

NAMES = pd.Index(["w3", "w1", "ü-7"], dtype="str")
VALUES = ["w1", "w2", None, "ü-7", "w3", "w1", "W1"]
EXPECTED = np.array([1, -1, -1, 2, 0, 1, -1])


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(VALUES, dtype="str"),  # Arrow-backed text
        pd.Series(VALUES, dtype="category"),
        pd.Series(VALUES, dtype=object),
        pd.Series(VALUES, dtype="string[pyarrow]"),
    ],
    ids=["str", "category", "object", "string-pyarrow"],
)
def test_positions_equal_a_by_hand_look_up(values):
    got = positions(NAMES, values)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, EXPECTED)


def test_no_names_give_no_positions():
    got = positions(pd.Index([], dtype="str"), pd.Series(VALUES, dtype="str"))
    np.testing.assert_array_equal(got, np.full(len(VALUES), -1))
