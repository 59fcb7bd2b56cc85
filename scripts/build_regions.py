"""Build govshare/organizations/data/regions_gb2260.json from ../shared/data/gb2260.

Sources (named in the output file):
- modood/Administrative-divisions-of-China, 国家统计局 统计用区划代码 2023 (current codes; WTFPL);
- cn/GB2260 mca/201904.tsv, 民政部 2019-04 (codes since retired are kept, marked not current).

Run: python scripts/build_regions.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT.parent / "shared" / "data" / "gb2260"
OUT = ROOT / "govshare" / "organizations" / "data" / "regions_gb2260.json"


def level_of(code: str) -> str:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def parent_of(code: str) -> str:
    lvl = level_of(code)
    if lvl == "province":
        return ""
    if lvl == "city":
        return code[:2] + "0000"
    return code[:4] + "00"


def main() -> None:
    current: dict[str, str] = {}
    with open(SRC / "modood_provinces.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            current[row["code"] + "0000"] = row["name"]
    with open(SRC / "modood_cities.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            current[row["code"] + "00"] = row["name"]
    with open(SRC / "modood_areas.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            current[row["code"]] = row["name"]
    historical: dict[str, str] = {}
    with open(SRC / "cn-GB2260_mca_201904.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            historical[row["Code"]] = row["Name"]
    rows = []
    for code in sorted(set(current) | set(historical)):
        name = current.get(code) or historical[code]
        parent = parent_of(code)
        if parent and parent not in current and parent not in historical:
            parent = code[:2] + "0000" if level_of(code) == "county" else ""
        rows.append([code, name, level_of(code), parent, code in current])
    doc = {
        "source": [
            "国家统计局 统计用区划代码 2023, via modood/Administrative-divisions-of-China dist/ (WTFPL)",
            "民政部 行政区划代码 2019-04, via cn/GB2260 mca/201904.tsv",
        ],
        "version": "2023",
        "columns": ["code", "name", "level", "parent", "current"],
        "regions": rows,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"wrote {len(rows)} regions ({sum(1 for r in rows if r[4])} current) to {OUT}")


if __name__ == "__main__":
    main()
