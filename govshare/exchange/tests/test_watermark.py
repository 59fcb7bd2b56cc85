"""Per-grant watermarks and data labels: files really written and read back with openpyxl and csv.

Each transformation named in the issue has its own test: XLSX round trip, XLSX → CSV → XLSX, re-sorting,
dropped columns, a 100-row subset of 10,000, an "Excel re-save" (another writer, cells re-typed), masked values;
and the false-positive rate is measured against 1,000 wrong grants. No database, no Django.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govshare.core.identifiers import make_resident_id
from govshare.core.masking import mask
from govshare.exchange.watermark import (
    ALPHABET,
    LABEL_HEADER_PREFIX,
    TAG_BITS,
    binomial_tail_log10,
    decode,
    detect,
    embed,
    evaluate,
    label_fields,
    label_headers,
    normalize_key,
    strip,
    tag_for,
    xlsx_properties,
)

KEY = "id_number"
TEXT_COLUMNS = ["person_name", "address", "mobile", "employer", "region_code"]
COLUMNS = [KEY, *TEXT_COLUMNS, "age", "birth_date"]
SURNAMES = "陈林黄张李王吴刘蔡杨郑许谢洪邱曾"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"
STREETS = ["西河路", "枫春路", "环城西路", "永护路", "潮枫路", "新桥路"]
EMPLOYERS = ["潮州市人民医院", "潮州三环(集团)股份有限公司", "韩山师范学院", "个体经营", "潮州市湘桥区城西街道办事处"]


def secret_for(grant: int | str) -> bytes:
    return f"grant-secret-{grant}-0123456789abcdef".encode()


def people(n: int, seed: int = 7) -> list[dict[str, str | None]]:
    """Rows as the platform stores them: strings or None, keyed by a checksum-valid 身份证号."""
    rng = random.Random(seed)
    rows: list[dict[str, str | None]] = []
    for i in range(n):
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 55))
        area = rng.choice(["445102", "445103", "445122"])
        rows.append({
            KEY: make_resident_id(area, birth, i % 1000 if i < 1000 else rng.randrange(1000)),
            "person_name": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2]))),
            "address": f"广东省潮州市湘桥区{rng.choice(STREETS)}{rng.randrange(1, 300)}号",
            "mobile": f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
            "employer": rng.choice(EMPLOYERS) if rng.random() < 0.9 else None,
            "region_code": area,
            "age": str(2025 - birth.year),
            "birth_date": birth.isoformat(),
        })
    unique = {r[KEY]: r for r in rows}  # random births can collide; keys are unique in a dataset
    return list(unique.values())


@pytest.fixture(scope="module")
def population() -> list[dict[str, str | None]]:
    return people(10_000)


def mark(rows: Sequence[Mapping[str, Any]], grant: int | str = 1) -> list[dict[str, Any]]:
    return embed(rows, key_column=KEY, secret=secret_for(grant), text_columns=TEXT_COLUMNS)


# ---------------------------------------------------------------------------------------------------------------
# File helpers: a typed XLSX export, readers, and the conversions people apply
# ---------------------------------------------------------------------------------------------------------------


def export_xlsx(rows: Sequence[Mapping[str, Any]], path: Path, columns: Sequence[str] = COLUMNS) -> Path:
    """Like a delivery: integers and dates typed, everything else (the key included) as text."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(list(columns))
    for r in rows:
        out: list[Any] = []
        for c in columns:
            v = r.get(c)
            if c == "age" and isinstance(v, str):
                v = int(v)
            elif c == "birth_date" and isinstance(v, str):
                v = dt.date.fromisoformat(v)
            out.append(v)
        ws.append(out)
    for cell in ws["A"]:
        cell.number_format = "@"  # the key column is text, as 身份证号 must be
    wb.save(path)
    return path


def read_xlsx(path: Path) -> list[dict[str, Any]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    header = [str(h) for h in next(it)]
    rows = [dict(zip(header, values, strict=False)) for values in it]
    wb.close()
    return rows


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time(0) else v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def xlsx_to_csv(src: Path, dst: Path) -> Path:
    """Save as CSV UTF-8 (with the BOM Excel writes)."""
    rows = read_xlsx(src)
    with dst.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(rows[0]))
        for r in rows:
            w.writerow([_cell_text(v) for v in r.values()])
    return dst


def read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [dict(r) for r in csv.DictReader(fh)]


_NUMBER = re.compile(r"-?[0-9]{1,15}(\.[0-9]+)?")  # Excel keeps 15 significant digits; longer stays text
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def spreadsheet_value(text: str) -> Any:
    """How a spreadsheet types what it reads: numbers and dates become typed cells, the rest stays text."""
    if text == "":
        return None
    if _NUMBER.fullmatch(text):
        return float(text) if "." in text else int(text)
    if _DATE.fullmatch(text):
        return dt.datetime.fromisoformat(text)
    return text


def csv_to_xlsx(src: Path, dst: Path) -> Path:
    """Open the CSV in a spreadsheet and save as XLSX (typing numbers and dates)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    rows = read_csv(src)
    ws.append(list(rows[0]))
    for r in rows:
        ws.append([spreadsheet_value(v) for v in r.values()])
    wb.save(dst)
    return dst


def resave(src: Path, dst: Path) -> Path:
    """Simulate an Excel/WPS re-save: load, re-type every cell the way a spreadsheet would (numbers stored as
    text become numbers, ISO dates become dates), and write with a different writer (write-only streaming)."""
    source = openpyxl.load_workbook(src)
    out = openpyxl.Workbook(write_only=True)
    ws = out.create_sheet("Sheet1")
    for row in source.worksheets[0].iter_rows(values_only=True):
        ws.append([spreadsheet_value(v) if isinstance(v, str) else v for v in row])
    out.save(dst)
    return dst


def find(rows: Iterable[Mapping[str, Any]], n_wrong: int = 20, right: int | None = 1, **kw: Any) -> list[Any]:
    candidates = {f"grant-{g}": secret_for(g) for g in range(100, 100 + n_wrong)}
    if right is not None:
        candidates[f"grant-{right}"] = secret_for(right)
    return detect(rows, key_column=KEY, candidates=candidates, **kw)


def assert_found(matches: list[Any], grant: str = "grant-1", rows: int | None = None) -> None:
    assert [m.grant_id for m in matches] == [grant]
    m = matches[0]
    assert m.rows_matching == m.rows_checked and m.score == 1.0
    assert m.log10_p_value < -100
    if rows is not None:
        assert m.rows_checked == rows


# ---------------------------------------------------------------------------------------------------------------
# Marks
# ---------------------------------------------------------------------------------------------------------------


def test_marks_are_invisible_and_keep_the_key(population: list[dict[str, str | None]]) -> None:
    rows = population[:200]
    before = [dict(r) for r in rows]
    marked = mark(rows)
    assert rows == before  # the input is not modified
    for src, out in zip(rows, marked, strict=True):
        assert out[KEY] == src[KEY]  # byte-identical key
        assert out["age"] == src["age"] and out["birth_date"] == src["birth_date"]
        for c in TEXT_COLUMNS:
            if src[c] is None:
                assert out[c] is None
                continue
            assert out[c] != src[c] and strip(out[c]) == src[c]
            assert out[c].startswith(src[c]) and len(out[c]) == len(src[c]) + 1 + TAG_BITS // 2
            assert set(out[c][len(src[c]):]) <= set(ALPHABET)
            assert decode(out[c]) == tag_for(secret_for(1), str(src[KEY]))


def test_embed_edge_cases() -> None:
    rows = [
        {KEY: None, "person_name": "张三"},
        {KEY: "  ", "person_name": "张三"},
        {KEY: "1", "person_name": ""},
        {KEY: "2", "person_name": 5},
        {KEY: "3", "person_name": "\u200b\u200b"},  # only invisible characters: nothing visible to mark
        {KEY: "4"},
        {KEY: "5", "person_name": "李\u200c四"},  # stray watermark characters are removed first
    ]
    out = embed(rows, key_column=KEY, secret=secret_for(1), text_columns=["person_name"])
    assert out[:4] == rows[:4] and out[5] == rows[5]
    assert out[4]["person_name"] == "\u200b\u200b"
    assert strip(out[6]["person_name"]) == "李四" and decode(out[6]["person_name"]) == tag_for(secret_for(1), "5")
    with pytest.raises(ValueError, match="key column"):
        embed(rows, key_column=KEY, secret=secret_for(1), text_columns=[KEY])
    with pytest.raises(ValueError, match="16 bytes"):
        embed(rows, key_column=KEY, secret=b"short", text_columns=["person_name"])


def test_normalize_key() -> None:
    assert normalize_key(" 44510219900101123x\u200b ") == "44510219900101123X"
    assert normalize_key(445102) == "445102" and normalize_key(445102.0) == "445102"
    assert normalize_key(4.45102199001011e17) is None  # a key a spreadsheet already destroyed
    assert normalize_key(None) is None and normalize_key("") is None and normalize_key(True) is None


def test_decode_rejects_malformed_marks() -> None:
    good = "张三" + "\u200b" + ALPHABET[1] * 8
    assert decode(good) == int("01" * 8, 2)
    assert decode("张三") is None and decode(None) is None and decode(5) is None
    assert decode(good[:-1]) is None and decode(good + ALPHABET[2]) is None
    assert decode("张三" + ALPHABET[1] * 9) is None  # no start mark


@settings(max_examples=300)
@given(st.text(max_size=30), st.text(min_size=1, max_size=20), st.binary(min_size=16, max_size=40))
def test_any_text_keeps_its_meaning_and_carries_the_tag(value: str, key: str, secret: bytes) -> None:
    out = embed([{"k": key, "v": value}], key_column="k", secret=secret, text_columns=["v"])[0]
    assert out["k"] == key
    nkey = normalize_key(key)
    if nkey is None or strip(value) == "":
        assert out["v"] == value
    else:
        assert strip(out["v"]) == strip(value)
        assert decode(out["v"]) == tag_for(secret, nkey)


def test_the_fast_path_computes_hmac_sm3() -> None:
    from govshare.core.crypto import hmac_sm3

    key = "44510219900101123X"
    expected = int.from_bytes(hmac_sm3(secret_for(9), b"govshare/watermark/v1\x00" + key.encode())[:2], "big")
    assert tag_for(secret_for(9), key) == expected
    assert decode(embed([{KEY: key, "n": "x"}], key_column=KEY, secret=secret_for(9), text_columns=["n"])[0]["n"]) \
        == expected


# ---------------------------------------------------------------------------------------------------------------
# The transformations (a)–(f), (h)
# ---------------------------------------------------------------------------------------------------------------


def test_a_xlsx_round_trip(population: list[dict[str, str | None]], tmp_path: Path) -> None:
    rows = population[:1000]
    back = read_xlsx(export_xlsx(mark(rows), tmp_path / "delivery.xlsx"))
    assert [r[KEY] for r in back] == [r[KEY] for r in rows]
    assert [strip(r["address"]) for r in back] == [r["address"] for r in rows]
    assert_found(find(back), rows=1000)


def test_b_xlsx_to_csv_to_xlsx(population: list[dict[str, str | None]], tmp_path: Path) -> None:
    rows = population[:1000]
    xlsx = export_xlsx(mark(rows, grant=2), tmp_path / "delivery.xlsx")
    as_csv = xlsx_to_csv(xlsx, tmp_path / "delivery.csv")
    assert_found(find(read_csv(as_csv), right=2), grant="grant-2", rows=1000)
    again = csv_to_xlsx(as_csv, tmp_path / "again.xlsx")
    back = read_xlsx(again)
    assert isinstance(back[0]["age"], int)  # the converter really re-typed cells
    assert_found(find(back, right=2), grant="grant-2", rows=1000)


def test_c_rows_resorted(population: list[dict[str, str | None]], tmp_path: Path) -> None:
    marked = mark(population[:1000])
    marked.sort(key=lambda r: (strip(r["person_name"] or ""), r["age"]))
    back = read_xlsx(export_xlsx(marked, tmp_path / "sorted.xlsx"))
    random.Random(3).shuffle(back)
    assert_found(find(back), rows=1000)


def test_d_two_of_five_text_columns_dropped(population: list[dict[str, str | None]], tmp_path: Path) -> None:
    marked = mark(population[:1000])
    kept = ["employer", KEY, "region_code", "age", "mobile"]  # dropped person_name and address, reordered
    back = read_xlsx(export_xlsx(marked, tmp_path / "fewer.xlsx", columns=kept))
    renamed = [{("身份证号" if k == KEY else f"列{i}"): v for i, (k, v) in enumerate(r.items())} for r in back]
    found = detect(renamed, key_column="身份证号", candidates={"grant-1": secret_for(1), "grant-2": secret_for(2)})
    assert [m.grant_id for m in found] == ["grant-1"] and found[0].rows_checked == 1000
    only_one = read_xlsx(export_xlsx(marked, tmp_path / "one.xlsx", columns=[KEY, "employer"]))
    assert_found(find(only_one))  # one marked column is enough (rows with an empty employer carry nothing)


def test_e_random_100_row_subset_of_10000(population: list[dict[str, str | None]], tmp_path: Path) -> None:
    assert len(population) > 9_900
    full = read_xlsx(export_xlsx(mark(population, grant=5), tmp_path / "all.xlsx"))
    subset = random.Random(11).sample(full, 100)
    back = read_xlsx(export_xlsx(subset, tmp_path / "subset.xlsx"))
    matches = find(back, n_wrong=200, right=5)
    assert_found(matches, grant="grant-5", rows=100)
    print(f"\n100-row subset: log10 p-value of the right grant = {matches[0].log10_p_value:.1f}")


def test_f_excel_resave_with_retyped_cells(population: list[dict[str, str | None]], tmp_path: Path) -> None:
    rows = population[:1000]
    as_text = mark(rows)
    xlsx = tmp_path / "delivery.xlsx"
    wb = openpyxl.Workbook()  # numbers and dates exported as text this time, so the re-save has work to do
    ws = wb.active
    assert ws is not None
    ws.append(COLUMNS)
    for r in as_text:
        ws.append([r[c] for c in COLUMNS])
    wb.save(xlsx)
    back = read_xlsx(resave(xlsx, tmp_path / "resaved.xlsx"))
    assert isinstance(back[0]["age"], int) and isinstance(back[0]["birth_date"], dt.datetime)
    assert isinstance(back[0][KEY], str)  # 18 digits: beyond a spreadsheet's precision, kept as text
    assert_found(find(back), rows=1000)
    # Keys a spreadsheet turned into (exact) numbers still work: normalize_key reads them back as digits.
    short_keys = [{KEY: str(100000 + i), "person_name": f"人{i}"} for i in range(50)]
    numbered = tmp_path / "numbered.xlsx"
    export_xlsx(embed(short_keys, key_column=KEY, secret=secret_for(1), text_columns=["person_name"]), numbered,
                columns=[KEY, "person_name"])
    back = read_xlsx(resave(numbered, tmp_path / "numbered2.xlsx"))
    assert isinstance(back[0][KEY], int)
    assert_found(find(back), rows=50)


def test_h_masked_values_carry_marks(population: list[dict[str, str | None]], tmp_path: Path) -> None:
    masks = {"person_name": "name", "address": "address", "mobile": "mobile"}
    masked = [
        {c: (mask(masks[c], v) if c in masks else v) for c, v in r.items()} for r in population[:500]
    ]
    assert str(masked[0]["person_name"]).endswith("*") and "****" in str(masked[0]["mobile"])
    marked = embed(masked, key_column=KEY, secret=secret_for(1), text_columns=list(masks))
    back = read_xlsx(export_xlsx(marked, tmp_path / "masked.xlsx", columns=[KEY, *masks]))
    assert [strip(r["mobile"]) for r in back] == [r["mobile"] for r in masked]
    assert_found(find(back), rows=500)
    # A masked key works too: the tag is computed from the key as delivered.
    masked_key = [dict(r, **{KEY: mask("id_number", r[KEY], {"keep_head": 6, "keep_tail": 4})}) for r in masked]
    marked = embed(masked_key, key_column=KEY, secret=secret_for(1), text_columns=list(masks))
    back = read_xlsx(export_xlsx(marked, tmp_path / "masked-key.xlsx", columns=[KEY, *masks]))
    assert [m.grant_id for m in find(back)] == ["grant-1"]


def test_two_grants_merged_in_one_file(population: list[dict[str, str | None]]) -> None:
    merged = mark(population[:300], grant=1) + mark(population[300:600], grant=2)
    candidates = {"grant-1": secret_for(1), "grant-2": secret_for(2), "grant-3": secret_for(3)}
    found = detect(merged, key_column=KEY, candidates=candidates)
    assert sorted(m.grant_id for m in found) == ["grant-1", "grant-2"]
    assert all(m.rows_checked == 600 and m.rows_matching == 300 and m.score == 0.5 for m in found)


def test_few_rows_are_not_enough_by_default(population: list[dict[str, str | None]]) -> None:
    marked = mark(population[:4])
    assert find(marked) == []
    assert [m.grant_id for m in find(marked, min_rows=3)] == ["grant-1"]
    assert find(mark(population[:3]), min_rows=1, n_wrong=0)[0].rows_matching == 3


def test_rows_with_junk_marks_are_ignored(population: list[dict[str, str | None]]) -> None:
    marked = mark(population[:100])
    noisy = dict(marked[0])
    for i, col in enumerate(["person_name", "address", "mobile", "employer", "region_code"]):
        noisy[col] = f"x\u200b{ALPHABET[1] * i}{ALPHABET[2] * (8 - i)}"  # five tags on one key: not a delivery
    found = find([noisy, *marked[1:]])
    assert found[0].rows_checked == 99


# ---------------------------------------------------------------------------------------------------------------
# (g) False positives
# ---------------------------------------------------------------------------------------------------------------


def test_g_false_positive_rate_against_1000_wrong_grants(
    population: list[dict[str, str | None]], tmp_path: Path,
) -> None:
    rows = population[:1000]
    wrong = {f"wrong-{i}": random.Random(i).randbytes(32) for i in range(1000)}
    alpha = 1e-6

    unmarked = read_xlsx(export_xlsx(rows, tmp_path / "unmarked.xlsx"))
    assert detect(unmarked, key_column=KEY, candidates=wrong, alpha=alpha) == []

    other = read_xlsx(export_xlsx(mark(rows, grant="other"), tmp_path / "other.xlsx"))
    flagged = detect(other, key_column=KEY, candidates=wrong, alpha=alpha)
    # How close the wrong grants came: per-key tag coincidences, which the bound assumes happen at rate 2^-16.
    scored = evaluate(other, key_column=KEY, candidates=wrong)
    keys = scored[0].rows_checked
    coincidences = sum(m.rows_matching for m in scored)
    per_key = coincidences / (len(wrong) * keys)
    fp_rate = len(flagged) / len(wrong)
    print(
        f"\nfalse positives: {len(flagged)}/{len(wrong)} wrong grants reported (rate {fp_rate:.4f}; bound: "
        f"P[any] <= alpha = {alpha:g}); per-key tag coincidences {coincidences} of {len(wrong) * keys} "
        f"= {per_key:.2e} (expected 2^-16 = {2**-16:.2e}); closest wrong grant: {scored[0].rows_matching} of "
        f"{keys} keys, log10 p = {scored[0].log10_p_value:.2f} (reported from 5 keys and "
        f"log10 p <= {math.log10(alpha / len(wrong)):.0f})"
    )
    assert flagged == []
    assert fp_rate <= alpha
    assert keys == len(rows) and len(scored) == len(wrong)
    # the per-key rate is what the bound assumes (loose: ~15 events expected, allow up to 3x)
    assert per_key < 3 * 2**-16
    # a direct check of a few coincidences against the plain HMAC-SM3 definition
    m = next((m for m in scored if m.rows_matching), None)
    if m is not None:
        direct = sum(1 for r in other if tag_for(wrong[m.grant_id], str(r[KEY])) == decode(r["region_code"]))
        assert direct == m.rows_matching
    # And the right grant is found among wrong ones.
    with_right = {**dict(list(wrong.items())[:50]), "other": secret_for("other")}
    assert [m.grant_id for m in detect(other, key_column=KEY, candidates=with_right, alpha=alpha)] == ["other"]


def test_binomial_tail_matches_exact_sum() -> None:
    for n, p, x in [(10, 0.1, 3), (100, 2**-16, 3), (50, 0.3, 20), (20, 0.5, 20), (1000, 1e-4, 2)]:
        exact = sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(x, n + 1))
        assert math.isclose(binomial_tail_log10(x, n, p), math.log10(exact), rel_tol=1e-9)
    assert binomial_tail_log10(0, 10, 0.1) == 0.0
    assert binomial_tail_log10(1, 10, 0.5) == 0.0  # below the mean: reported as 1, which only overstates
    assert binomial_tail_log10(100, 100, 2**-16) == pytest.approx(-100 * 16 * math.log10(2))


# ---------------------------------------------------------------------------------------------------------------
# Data labels
# ---------------------------------------------------------------------------------------------------------------

LABEL = {
    "resource_code": "445100-1-01-001-0001",
    "level": 3,
    "grant_id": "G-2025-0042",
    "purpose": "办理城乡居民养老保险待遇资格认证 (事项编码 11445100)",
    "expires": dt.date(2026, 6, 30),
}


def test_label_headers_are_ascii_and_decode_back() -> None:
    headers = label_headers(**LABEL)
    assert set(headers) == {LABEL_HEADER_PREFIX + n for n in ("Resource", "Level", "Grant", "Purpose", "Expires")}
    for name, value in headers.items():
        assert name.isascii() and value.isascii() and value.isprintable() and "\n" not in value
    assert headers["X-GS-Data-Label-Level"] == "L3"
    assert headers["X-GS-Data-Label-Expires"] == "2026-06-30"
    assert unquote(headers["X-GS-Data-Label-Purpose"]) == LABEL["purpose"]
    assert unquote(headers["X-GS-Data-Label-Resource"]) == LABEL["resource_code"]
    tricky = label_headers("R", "l4", 7, "a\r\nX-Evil: 1%", None)
    assert tricky["X-GS-Data-Label-Purpose"] == "a%0D%0AX-Evil:%201%25"
    assert tricky["X-GS-Data-Label-Level"] == "L4" and tricky["X-GS-Data-Label-Expires"] == "none"
    for bad in (0, 5, "L9", "high"):
        with pytest.raises(ValueError):
            label_fields("R", bad, 1, "p", None)


def test_xlsx_properties_survive_save_and_load(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    xlsx_properties(wb, **LABEL)
    xlsx_properties(wb, **LABEL)  # twice: properties are replaced, not duplicated
    wb.save(tmp_path / "labelled.xlsx")
    back = openpyxl.load_workbook(tmp_path / "labelled.xlsx")
    custom = {p.name: p.value for p in back.custom_doc_props}
    assert custom == {
        "GS-Data-Label-Resource": LABEL["resource_code"],
        "GS-Data-Label-Level": "L3",
        "GS-Data-Label-Grant": "G-2025-0042",
        "GS-Data-Label-Purpose": LABEL["purpose"],
        "GS-Data-Label-Expires": "2026-06-30",
    }
    assert back.properties.category == "L3 较敏感"
    assert "数据标签" in (back.properties.description or "") and LABEL["purpose"] in (back.properties.description or "")
    assert "grant=G-2025-0042" in (back.properties.keywords or "")
