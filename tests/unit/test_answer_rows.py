"""``rows_of`` builds each row of an answer by field name, whatever the order of the
keywords, and refuses columns that would leave a row short."""

from __future__ import annotations

import pytest

from model.recommend.rows import rows_of


def test_each_row_takes_each_field_from_its_own_column():
    rows = rows_of(value=[0.1, 0.2, 0.3], lo=[0.0, 0.1, 0.2], hi=[0.2, 0.3, 0.4])
    assert rows == [
        {"value": 0.1, "lo": 0.0, "hi": 0.2},
        {"value": 0.2, "lo": 0.1, "hi": 0.3},
        {"value": 0.3, "lo": 0.2, "hi": 0.4},
    ]
    assert rows_of(hi=[9], value=[1], lo=[5]) == [{"hi": 9, "value": 1, "lo": 5}]
    assert rows_of(**{"12": ["a"], "60": ["b"]}) == [{"12": "a", "60": "b"}]
    assert rows_of(value=[]) == []


def test_columns_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="different lengths"):
        rows_of(value=[1, 2], lo=[1])
