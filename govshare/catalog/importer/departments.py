"""Match department names of an import file to the departments of the target node, and create the
unknown ones when the operator asks for it (``--create-departments``)."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from typing import Any

from govshare.catalog.importer.mapping import clean, fold
from govshare.core.identifiers import USCC_ALPHABET, IdentifierError, make_uscc, validate_uscc
from govshare.organizations.models import Department, Node
from govshare.organizations.services import create_department

# Trailing words that one catalog writes and another leaves out: 市卫生健康委 / 市卫生健康委员会,
# 市地方金融监督管理局 / 市地方金融监督管理. Longest first.
_SUFFIXES = ("委员会", "办公室", "管理局", "局", "委", "厅", "办")
_ORG_BODY_ALPHABET = USCC_ALPHABET  # digits and capitals without I, O, S, V, Z


class DepartmentProblem(ValueError):
    """The name matches no department (or several)."""


def name_key(name: Any) -> str:
    """Full-width folded, no whitespace (``市地方金融监督管理\\n局`` = ``市地方金融监督管理局``)."""
    return fold(name).replace("（", "(").replace("）", ")")


def loose_key(name: Any) -> str:
    """``name_key`` without a trailing 局/委/厅/委员会/办公室."""
    key = name_key(name)
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix) + 1:
            return key[: -len(suffix)]
    return key


def placeholder_uscc(node: Node, name: str, attempt: int = 0) -> str:
    """A valid but placeholder 统一社会信用代码, deterministic from the node and the name: 登记管理部门码 1
    (机构编制), 机构类别 1 (机关), the node's region (or its code when that is six digits, else 000000) and
    an organisation body taken from a SHA-256 digest of the node code and the name."""
    region = node.region_id or (node.code if re.fullmatch(r"\d{6}", node.code or "") else "000000")
    digest = hashlib.sha256(f"govshare-dept:{node.code}:{name}:{attempt}".encode()).digest()
    body = "".join(_ORG_BODY_ALPHABET[b % len(_ORG_BODY_ALPHABET)] for b in digest[:8])
    return make_uscc("1", "1", str(region), body)


class DepartmentResolver:
    """Resolves names (and 统一社会信用代码) to departments of one node, caching results. Departments
    created inside a row's savepoint are forgotten when that row is rolled back (``rollback_row``)."""

    def __init__(self, *, node: Node, actor: Any, create: bool) -> None:
        self.node = node
        self.actor = actor
        self.create = create
        self.by_uscc: dict[str, Department] = {}
        self.by_name: dict[str, Department] = {}
        self.by_loose: dict[str, list[Department]] = defaultdict(list)
        self.created: list[Department] = []
        self.placeholders: set[str] = set()  # 统一社会信用代码 generated here, not taken from the file
        self._row_created: list[Department] = []
        for dept in Department.objects.filter(node=node, active=True):
            self._index(dept)

    def _index(self, dept: Department) -> None:
        self.by_uscc[dept.uscc] = dept
        for label in (dept.name, dept.short_name):
            if label:
                self.by_name.setdefault(name_key(label), dept)
                group = self.by_loose[loose_key(label)]
                if dept not in group:
                    group.append(dept)

    def _unindex(self, dept: Department) -> None:
        self.by_uscc.pop(dept.uscc, None)
        for label in (dept.name, dept.short_name):
            if label:
                if self.by_name.get(name_key(label)) == dept:
                    del self.by_name[name_key(label)]
                group = self.by_loose.get(loose_key(label), [])
                if dept in group:
                    group.remove(dept)

    def begin_row(self) -> None:
        self._row_created = []

    def rollback_row(self) -> None:
        for dept in self._row_created:
            self._unindex(dept)
            self.created.remove(dept)
        self._row_created = []

    def find(self, name: str, uscc: str = "") -> Department | None:
        if uscc:
            try:
                found = self.by_uscc.get(validate_uscc(uscc))
            except IdentifierError:
                found = None
            if found is not None:
                return found
        if not name_key(name):
            return None
        exact = self.by_name.get(name_key(name))
        if exact is not None:
            return exact
        loose = self.by_loose.get(loose_key(name), [])
        if len(loose) > 1:
            raise DepartmentProblem(
                f"部门名称“{clean(name)}”可对应多个部门：{'、'.join(d.name for d in loose)} (ambiguous department)")
        return loose[0] if loose else None

    def resolve(self, name: str, uscc: str = "") -> Department:
        found = self.find(name, uscc)
        if found is not None:
            return found
        if not self.create:
            raise DepartmentProblem(
                f"本节点没有部门“{clean(name)}”；可使用 --create-departments 自动创建 "
                f"(unknown department on node {self.node.code})")
        return self._create(clean(name), uscc)

    def _create(self, name: str, uscc: str) -> Department:
        code = ""
        if uscc:
            try:
                candidate = validate_uscc(uscc)
                if not Department.objects.filter(uscc=candidate).exists():
                    code = candidate
            except IdentifierError:
                code = ""
        attempt = 0
        while not code:
            candidate = placeholder_uscc(self.node, name, attempt)
            if not Department.objects.filter(uscc=candidate).exists():
                code = candidate
                self.placeholders.add(code)
            attempt += 1
        dept = create_department(actor=self.actor, node=self.node, name=name[:100], uscc=code)
        self._index(dept)
        self.created.append(dept)
        self._row_created.append(dept)
        return dept
