"""The JSON blocks of the report pages: inert inside a `<script>` element, read back as given."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.reports.page import inert_json


def test_a_hostile_string_cannot_end_the_script():
    # `<` is the only character that can end a script element or change how it is read
    assert inert_json({"a": "</script><!--x-->&amp;"}) == (
        b'{"a":"\\u003c/script>\\u003c!--x-->&amp;"}')


def test_dates_are_iso_dates():
    value = {"d": dt.date(2024, 1, 2), "t": dt.datetime(2024, 1, 2, 3, 4)}
    assert inert_json(value) == b'{"d":"2024-01-02","t":"2024-01-02T03:04:00"}'


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@settings(derandomize=True, database=None, max_examples=300)
@given(JSON)
def test_any_value_reads_back_as_given_and_holds_no_lt(value):
    raw = inert_json(value)
    assert b"<" not in raw
    assert json.loads(raw) == value


def test_a_missing_number_is_null():
    # JSON has no NaN or infinity; plotly draws a gap for null
    assert inert_json([float("nan"), float("inf"), 1.5]) == b"[null,null,1.5]"
