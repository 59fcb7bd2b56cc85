"""Base-library definitions: data, not code (``govshare/baselibs/data/*.json``, one library per file).

A definition names the library, its 基础信息资源 classification, its key field and its fields; each field
references a 数据元 and names the *role* of its authoritative source department (一数一源: exactly one) and
of its cross-check source departments (多元校核). Roles are department kinds (公安局, 民政局 …), not
departments: a node binds each role to a mounted dataset of one of its departments when it installs the
library. ``roles`` lists the name fragments by which a department is recognised as playing a role (used to
warn when a binding looks wrong, never to refuse it).

Validation happens in two steps, both reporting every problem with its place (file, field, attribute):
:func:`parse_definition` checks the shape without a database; :func:`check_against_catalog` checks that the
data elements and the classification exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from govshare.baselibs.choices import LibraryKind
from govshare.catalog.choices import Category, UpdateCycle
from govshare.catalog.models import Classification, DataElement

DATA = Path(__file__).resolve().parent / "data"

_CODE_RE = re.compile(r"[a-z][a-z0-9_]{1,31}")
_COLUMN_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_LIBRARY_KEYS = frozenset({"code", "name", "kind", "classification", "summary", "update_cycle", "key", "roles",
                           "fields", "notes"})
_FIELD_KEYS = frozenset({"column", "name", "element", "authoritative", "cross_checks", "multi", "required",
                         "length"})


class DefinitionError(ValueError):
    """One or more definitions are invalid; ``problems`` lists every one as ``"<where>: <what>"``."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("基础库定义无效 (invalid base-library definition): " + "; ".join(self.problems))


@dataclass(frozen=True)
class FieldDef:
    column: str
    name: str
    element: str
    authoritative: str
    cross_checks: tuple[str, ...] = ()
    multi: bool = False
    required: bool = False
    length: int | None = None


@dataclass(frozen=True)
class LibraryDef:
    code: str
    name: str
    kind: str
    classification: str
    summary: str
    update_cycle: str
    key: str
    roles: Mapping[str, tuple[str, ...]]
    fields: tuple[FieldDef, ...]
    notes: str = ""
    source: str = field(default="", compare=False)

    @property
    def key_field(self) -> FieldDef:
        return self.field(self.key)

    def field(self, column: str) -> FieldDef:
        for f in self.fields:
            if f.column == column:
                return f
        raise KeyError(column)

    @property
    def columns(self) -> list[str]:
        return [f.column for f in self.fields]

    def snapshot(self) -> dict[str, Any]:
        """The definition as stored on an installed library (plain JSON)."""
        return {
            "code": self.code, "name": self.name, "kind": self.kind, "classification": self.classification,
            "summary": self.summary, "update_cycle": self.update_cycle, "key": self.key,
            "roles": {k: list(v) for k, v in self.roles.items()}, "notes": self.notes,
            "fields": [{"column": f.column, "name": f.name, "element": f.element, "authoritative": f.authoritative,
                        "cross_checks": list(f.cross_checks), "multi": f.multi, "required": f.required,
                        "length": f.length} for f in self.fields],
        }

    def role_matches(self, role: str, department_name: str) -> bool:
        """Whether a department's name looks like the role (e.g. 潮州市公安局 for 公安局)."""
        fragments = self.roles.get(role, ()) or (role,)
        return any(fragment and fragment in department_name for fragment in (*fragments, role))


def _text(doc: Mapping[str, Any], key: str, where: str, problems: list[str], *, required: bool = True) -> str:
    value = doc.get(key, "")
    if not isinstance(value, str):
        problems.append(f"{where}.{key}: 应为字符串 (must be a string)")
        return ""
    if required and not value.strip():
        problems.append(f"{where}.{key}: 必填 (required)")
    return value.strip()


def _field(raw: Any, where: str, roles: Mapping[str, Any], problems: list[str]) -> FieldDef | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: 应为对象 (must be an object)")
        return None
    for unknown in sorted(set(raw) - _FIELD_KEYS):
        problems.append(f"{where}.{unknown}: 未知属性 (unknown attribute)")
    column = _text(raw, "column", where, problems)
    if column and not _COLUMN_RE.fullmatch(column):
        problems.append(f"{where}.column: 列名只能是小写字母、数字和下划线 (lower-case ASCII column name): {column}")
    name = _text(raw, "name", where, problems)
    element = _text(raw, "element", where, problems)
    authoritative = raw.get("authoritative")
    if isinstance(authoritative, list):
        problems.append(f"{where}.authoritative: 一数一源，每个字段只能有一个权威来源，其他来源请列为校核来源 "
                        f"(exactly one authoritative source per field; list the others as cross_checks)")
        authoritative = ""
    elif not isinstance(authoritative, str) or not authoritative.strip():
        problems.append(f"{where}.authoritative: 缺少权威来源部门 (the authoritative source role is required)")
        authoritative = ""
    authoritative = authoritative.strip()
    cross = raw.get("cross_checks", [])
    if not isinstance(cross, list) or not all(isinstance(c, str) and c.strip() for c in cross):
        problems.append(f"{where}.cross_checks: 应为部门角色名称的列表 (must be a list of role names)")
        cross = []
    cross = [c.strip() for c in cross]
    if authoritative and authoritative in cross:
        problems.append(f"{where}.cross_checks: 权威来源 {authoritative} 不能同时作为校核来源 "
                        f"(the authoritative source cannot cross-check itself)")
    if len(set(cross)) != len(cross):
        problems.append(f"{where}.cross_checks: 校核来源重复 (duplicate cross-check role)")
    for role in [authoritative, *cross]:
        if role and role not in roles:
            problems.append(f"{where}: 部门角色 {role} 未在 roles 中声明 (role not declared in roles)")
    multi, required = raw.get("multi", False), raw.get("required", False)
    for attr, value in (("multi", multi), ("required", required)):
        if not isinstance(value, bool):
            problems.append(f"{where}.{attr}: 应为 true/false (must be a boolean)")
    length = raw.get("length")
    if length is not None and (isinstance(length, bool) or not isinstance(length, int) or not 0 < length <= 100_000):
        problems.append(f"{where}.length: 应为正整数 (must be a positive integer)")
        length = None
    return FieldDef(column=column, name=name, element=element, authoritative=authoritative,
                    cross_checks=tuple(cross), multi=multi is True, required=required is True, length=length)


def parse_definition(doc: Any, source: str = "<definition>") -> LibraryDef:
    """Check the shape of one definition (no database); raise :class:`DefinitionError` listing every problem."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        raise DefinitionError([f"{source}: 应为 JSON 对象 (must be a JSON object)"])
    for unknown in sorted(set(doc) - _LIBRARY_KEYS):
        problems.append(f"{source}.{unknown}: 未知属性 (unknown attribute)")
    code = _text(doc, "code", source, problems)
    if code and not _CODE_RE.fullmatch(code):
        problems.append(f"{source}.code: 代码只能是小写字母、数字和下划线，2–32 位 (2-32 lower-case ASCII): {code}")
    name = _text(doc, "name", source, problems)
    kind = _text(doc, "kind", source, problems)
    if kind and kind not in LibraryKind.values:
        problems.append(f"{source}.kind: 应为 {'/'.join(LibraryKind.values)} (unknown kind): {kind}")
    classification = _text(doc, "classification", source, problems)
    summary = _text(doc, "summary", source, problems)
    update_cycle = _text(doc, "update_cycle", source, problems, required=False) or UpdateCycle.DAILY
    if update_cycle not in UpdateCycle.values:
        problems.append(f"{source}.update_cycle: 更新周期无效 (unknown update cycle): {update_cycle}")
    key = _text(doc, "key", source, problems)
    notes = _text(doc, "notes", source, problems, required=False)
    raw_roles = doc.get("roles", {})
    roles: dict[str, tuple[str, ...]] = {}
    if not isinstance(raw_roles, dict) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in raw_roles.values()):
        problems.append(f"{source}.roles: 应为 {{角色: [部门名称片段…]}} (must map role names to name fragments)")
    else:
        roles = {str(k).strip(): tuple(x.strip() for x in v if x.strip()) for k, v in raw_roles.items()}
    raw_fields = doc.get("fields")
    fields: list[FieldDef] = []
    if not isinstance(raw_fields, list) or not raw_fields:
        problems.append(f"{source}.fields: 至少需要一个字段 (at least one field)")
    else:
        for n, raw in enumerate(raw_fields):
            f = _field(raw, f"{source}.fields[{n}]", roles, problems)
            if f is not None:
                fields.append(f)
    for attr in ("column", "name"):
        values = [getattr(f, attr) for f in fields if getattr(f, attr)]
        for dup in sorted({v for v in values if values.count(v) > 1}):
            problems.append(f"{source}.fields: 字段{'列名' if attr == 'column' else '名称'}重复 "
                            f"(duplicate field {attr}): {dup}")
    key_fields = [f for f in fields if f.column == key]
    if key and not key_fields:
        problems.append(f"{source}.key: 主键 {key} 不是任何字段的列名 (the key must be one of the fields' columns)")
    for f in key_fields:
        if f.multi:
            problems.append(f"{source}.key: 主键字段不能是多值字段 (the key field cannot be multi-valued)")
        if f.cross_checks:
            problems.append(f"{source}.key: 主键字段没有校核来源，它标识记录本身 "
                            f"(the key field identifies the record and has no cross-checks)")
    if problems:
        raise DefinitionError(problems)
    return LibraryDef(code=code, name=name, kind=kind, classification=classification, summary=summary,
                      update_cycle=update_cycle, key=key, roles=roles, fields=tuple(fields), notes=notes,
                      source=source)


def check_against_catalog(defn: LibraryDef) -> list[str]:
    """Problems of a parsed definition against the database: unknown data elements or classification."""
    problems: list[str] = []
    codes = {f.element for f in defn.fields}
    known = set(DataElement.objects.filter(code__in=codes).values_list("code", flat=True))
    for n, f in enumerate(defn.fields):
        if f.element not in known:
            problems.append(f"{defn.source}.fields[{n}].element: 未知数据元 {f.element} (unknown data element)")
    node = Classification.objects.filter(code=defn.classification).first()
    if node is None:
        problems.append(f"{defn.source}.classification: 未知资源分类 {defn.classification} (unknown classification)")
    elif node.category != Category.BASIC:
        problems.append(f"{defn.source}.classification: 基础库须归入基础信息资源 (a base library is classified "
                        f"under 基础信息资源): {defn.classification}")
    return problems


def read_definitions(directory: Path = DATA) -> dict[str, LibraryDef]:
    """Parse every ``*.json`` of ``directory`` (shape only); raise :class:`DefinitionError` listing every problem."""
    problems: list[str] = []
    out: dict[str, LibraryDef] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"{path.name}: 不是有效的 JSON (not valid JSON): {exc}")
            continue
        try:
            defn = parse_definition(doc, path.name)
        except DefinitionError as exc:
            problems.extend(exc.problems)
            continue
        if defn.code in out:
            problems.append(f"{path.name}.code: 与 {out[defn.code].source} 重复 (duplicate library code): {defn.code}")
            continue
        out[defn.code] = defn
    if problems:
        raise DefinitionError(problems)
    return out


@lru_cache(maxsize=1)
def shipped_definitions() -> dict[str, LibraryDef]:
    """The definitions shipped with govshare (parsed once per process)."""
    return read_definitions(DATA)


def validate_definitions(directory: Path | None = None) -> tuple[dict[str, LibraryDef], list[str]]:
    """Every definition and every problem (shape and catalog): ``(definitions, problems)``."""
    try:
        defs = read_definitions(directory or DATA)
    except DefinitionError as exc:
        return {}, exc.problems
    if not DataElement.objects.exists():
        return defs, ["数据元字典尚未载入，请先初始化目录 (the data-element dictionary is empty: seed the catalog "
                      "first)"]
    problems: list[str] = []
    for defn in defs.values():
        problems += check_against_catalog(defn)
    return defs, problems


def get_definition(code: str) -> LibraryDef | None:
    return shipped_definitions().get(code)
