"""How the views write numbers: 3 significant digits, a true minus, negatives parenthesized as factors."""

from __future__ import annotations

import numpy as np

from graphgrad.viz._page import num, script_json
from graphgrad.viz.numbers import factor, fmt, fmt_text, full, summary


def test_short_form_has_consistent_significant_digits():
    assert fmt(-0.829559) == "\u22120.83"
    assert fmt(0.0602774) == "0.0603" and fmt(0.598688) == "0.599" and fmt(123.456) == "123"
    assert fmt(7.0) == "7" and fmt(0.5) == "0.5" and fmt(0) == "0"
    assert fmt(1.2345e-5) == "1.23e\u22125" and fmt(123456.0) == "1.23e5"
    assert fmt(float("nan")) == "nan" and fmt(float("-inf")) == "\u2212inf"


def test_factors_and_full_values():
    assert f"{factor(0.5)} \u00b7 {factor(-0.829559)}" == "0.5 \u00b7 (\u22120.83)"
    assert full(-0.8295589) == "-0.8295589" and float(full(0.1 + 0.2)) == 0.1 + 0.2
    assert fmt_text(-0.100683) == "-0.100683"  # the terminal keeps 6 digits and an ASCII minus
    assert summary(np.array([[1.0, -2.0], [3.0, 4.0]])) == "min \u22122 mean 1.5 max 4"
    assert num(-0.829559, as_factor=True) == '<span class="num" title="-0.829559">(\u22120.83)</span>'


def test_embedded_json_cannot_end_its_script_block():
    text = script_json({"name": "</script><!--<script>alert(1)</script>&amp;"})
    assert "<" not in text and ">" not in text and "&" not in text
    import json

    assert json.loads(text)["name"] == "</script><!--<script>alert(1)</script>&amp;"
