"""The one table format: Markdown tables and their number cells."""
import math

import pytest

from wconv.views import tables


def test_markdown_table_with_note_and_escaped_cells():
    text = tables.markdown(["arm", "Δ (dB)"], [["a|b", tables.signed(0.4213)]], note="n = 3 seeds")
    assert text.splitlines() == ["| arm | Δ (dB) |", "|---|---|", "| a\\|b | +0.42 |", "", "n = 3 seeds"]
    with pytest.raises(ValueError, match="row 0 has 1 cells for 2 columns"):
        tables.markdown(["a", "b"], [[1]])


def test_number_cells():
    assert tables.mean_std(60.123, 0.314) == "60.12 ± 0.31"
    assert tables.mean_std(60.123, math.nan) == "60.12" and tables.mean_std(math.nan, 1.0) == "–"
    assert tables.interval(-0.123, 0.96) == "[-0.12, +0.96]" and tables.interval(None, 1) == "–"
    assert tables.p_value(0.0312) == "0.031" and tables.p_value(1e-5) == "< 0.001"
    assert tables.p_value(math.nan) == "–" and tables.signed(None) == "–"


def test_from_dicts_formats_floats():
    text = tables.from_dicts([{"name": "x", "value": 1.23456, "n": 3}], digits=2)
    assert text.splitlines()[2] == "| x | 1.23 | 3 |"
