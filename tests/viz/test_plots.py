"""Chart axes: whole epochs only (never 2.5), round value ticks, exact values on hover."""

from __future__ import annotations

import re

from graphgrad.viz.plots import Series, epoch_ticks, line_chart, value_ticks


def test_epoch_ticks_are_whole_numbers():
    assert epoch_ticks(1, 10) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert epoch_ticks(1, 40) == [5, 10, 15, 20, 25, 30, 35, 40]
    assert epoch_ticks(1, 2) == [1, 2]
    assert all(isinstance(t, int) for t in epoch_ticks(0, 1000))


def test_value_ticks_cover_the_range_with_round_steps():
    ticks = value_ticks(0.183, 0.297)
    assert ticks[0] <= 0.183 and ticks[-1] >= 0.297
    steps = {round(b - a, 10) for a, b in zip(ticks, ticks[1:])}
    assert steps == {0.02}


def test_chart_of_ten_epochs_has_integer_ticks_and_hover_values():
    x = list(range(1, 11))
    svg = line_chart("loss", [Series("training", x, [1 / k for k in x])], "loss", marks=[(7, "best epoch 7")])
    labels = re.findall(r'class="tick x-tick"[^>]*>([^<]+)<', svg)
    assert labels == [str(k) for k in x]
    assert "<title>training, epoch 3: 0.3333333333333333</title>" in svg
    assert "best epoch 7" in svg
