"""The arithmetic behind the figures: percentiles from merged histograms equal those of the raw values, and
chart axes split into whole steps."""

from __future__ import annotations

import math
import statistics

from hypothesis import given
from hypothesis import strategies as st

from govshare.stats import figures
from govshare.stats.charts import Bar, _nice_max, bar_chart


@given(st.lists(st.lists(st.integers(min_value=0, max_value=40), max_size=15), min_size=1, max_size=6))
def test_merged_histograms_give_the_percentiles_of_the_raw_values(groups: list[list[int]]) -> None:
    merged = figures.merge(figures.histogram(g) for g in groups)
    values = sorted(v for g in groups for v in g)
    if not values:
        assert figures.median(merged) is None and figures.p90(merged) is None
        return
    assert figures.median(merged) == statistics.median(values)
    assert figures.p90(merged) == values[math.ceil(0.9 * len(values)) - 1]
    assert figures.count(merged) == len(values)


def test_ratio() -> None:
    assert figures.ratio(29, 96) == 30.2 and figures.ratio(0, 0) == 0.0


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_axis_maximum_splits_into_four_whole_steps(value: float) -> None:
    top = _nice_max(value)
    assert top >= value and top >= 4 and (top / 4) == int(top / 4)
    assert top / 4 < max(value, 1) / 4 * 2.5 + 1  # never far above the data


def test_bars_link_only_to_portal_paths() -> None:
    svg = str(bar_chart([Bar("甲", 3, "/stats/departments/x/"), Bar("乙", 2, "//evil.example/"),
                         Bar("丙", 1, "https://evil.example/")], title="t"))
    assert 'href="/stats/departments/x/"' in svg and "evil" not in svg
