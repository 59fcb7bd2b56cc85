from __future__ import annotations

import pytest

from govshare.core.exports import neutralise, neutralise_text, unneutralise


@pytest.mark.parametrize("cell", ["=1+1", "+86", "-x", "@SUM(A1)", "\tcmd", "\r=1"])
def test_formula_cells_get_an_apostrophe_and_come_back(cell: str) -> None:
    assert neutralise(cell) == "'" + cell
    assert unneutralise(neutralise(cell)) == cell


def test_other_values_pass_through() -> None:
    assert neutralise("张三") == "张三"
    assert neutralise(-5) == -5 and neutralise(None) is None
    assert neutralise_text(None) == "" and neutralise_text(-5) == "'-5"
    assert neutralise("-12.5", numeric=True) == "-12.5"
    assert neutralise("-x", numeric=True) == "'-x"
    assert neutralise("\tx", prefixes=("=",)) == "\tx"
    assert unneutralise("'abc") == "'abc"
