from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from govshare.core.api import Page, paginate
from govshare.organizations import selectors

router = Router(tags=["organizations 组织机构"])


class DepartmentOut(Schema):
    id: str
    name: str
    short_name: str
    uscc: str
    node_code: str
    region_code: str | None
    is_data_office: bool


class NodeOut(Schema):
    id: str
    code: str
    name: str
    level: str
    parent_code: str | None
    region_code: str | None


@router.get("/departments", response=Page[DepartmentOut])
def list_departments(request: HttpRequest, cursor: str | None = None, limit: int = 50) -> dict[str, object]:
    rows, nxt = paginate(selectors.departments_visible_to(request.user), cursor=cursor, limit=limit,
                         ordering=["name"], scope="departments")
    return {"items": [
        DepartmentOut(id=str(d.pk), name=d.name, short_name=d.short_name, uscc=d.uscc, node_code=d.node.code,
                      region_code=d.region_id, is_data_office=d.is_data_office) for d in rows
    ], "next_cursor": nxt}


@router.get("/nodes", response=list[NodeOut])
def list_nodes(request: HttpRequest) -> list[NodeOut]:
    return [NodeOut(id=str(n.pk), code=n.code, name=n.name, level=n.level,
                    parent_code=n.parent.code if n.parent else None, region_code=n.region_id)
            for n in selectors.nodes()]
