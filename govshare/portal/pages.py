"""Shared building blocks for the portal pages (资源门户) of every app.

Each app owns its pages in ``<app>/views.py``, ``<app>/urls.py`` (with ``app_name`` and a ``NAV`` list) and
``<app>/templates/<app>/``. Pages stay thin: reads go through the app's ``selectors`` (permission-checked, the
same ones the API uses), writes through its ``services``. This module gives them:

- :func:`role_required` — sign-in required (redirect to the sign-in page), and the role must be one of the given
  (403 page otherwise). Objects out of the user's scope must still answer 404 from the selector.
- :func:`listing` — one list page: cursor pagination (``?after=``), and ``?format=csv`` / ``?format=json``
  exports of the same rows (every CSV cell neutralised against formula injection).
- :func:`form_error` — put a service's :class:`~govshare.core.errors.DomainError` beside the field it names.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from govshare.core.errors import DomainError
from govshare.core.exports import neutralise

View = TypeVar("View", bound=Callable[..., HttpResponse])

PAGE_SIZE = 50
MAX_EXPORT_ROWS = 50_000


def role_required(*roles: str) -> Callable[[View], View]:
    """Signed-in users only; with ``roles``, only those roles (others get the 403 page, in Chinese)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user: Any = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path(), "/accounts/login/")
            if roles and getattr(user, "role", None) not in roles:
                return render(request, "portal/forbidden.html", status=403)
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


@dataclass(frozen=True)
class Column:
    """One column of a list page and of its exports: ``key`` names the row attribute or dict key (dots walk
    relations, e.g. ``provider.name``); ``value`` overrides it with a function of the row."""

    key: str
    label: str | Promise
    value: Callable[[Any], Any] | None = None

    def get(self, row: Any) -> Any:
        if self.value is not None:
            return self.value(row)
        current = row
        for part in self.key.split("."):
            if current is None:
                return ""
            current = current.get(part) if isinstance(current, dict) else getattr(current, part, "")
            if callable(current):
                current = current()
        return "" if current is None else current


@dataclass
class Page:
    rows: list[Any]
    next_after: str | None
    columns: Sequence[Column]
    next_url: str | None = None  # "?<the same filters>&after=<cursor>": the pager keeps the list's filters


    def cells(self) -> list[list[Any]]:
        return [[c.get(r) for c in self.columns] for r in self.rows]


def _export(rows: Iterable[Any], columns: Sequence[Column], filename: str, fmt: str) -> HttpResponse:
    data = [[c.get(r) for c in columns] for r in rows]
    if fmt == "json":
        body = json.dumps([{c.key: v for c, v in zip(columns, row, strict=True)} for row in data],
                          cls=DjangoJSONEncoder, ensure_ascii=False, indent=1)
        resp = HttpResponse(body, content_type="application/json; charset=utf-8")
        resp["Content-Disposition"] = f'attachment; filename="{filename}.json"'
        return resp
    buf = io.StringIO()
    buf.write("\ufeff")  # UTF-8 BOM: Chinese spreadsheets detect the encoding by it
    writer = csv.writer(buf)
    writer.writerow([neutralise(str(c.label)) for c in columns])
    for row in data:
        writer.writerow([neutralise("" if v is None else v, numeric=isinstance(v, int | float)) for v in row])
    resp = HttpResponse(buf.getvalue(), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return resp


def listing(request: HttpRequest, rows: Any, *, columns: Sequence[Column], filename: str,
            cursor: str = "pk", descending: bool = False) -> Page | HttpResponse:
    """A page of ``rows`` (a queryset ordered by a unique ``cursor`` field, ascending or with ``descending``
    newest-first; or a list), or the CSV/JSON export of all of them when ``?format=csv|json``. ``rows`` must
    already be permission-checked (a selector's answer)."""
    fmt = request.GET.get("format", "")
    if fmt in ("csv", "json"):
        limited = rows[:MAX_EXPORT_ROWS]
        return _export(limited, columns, filename, fmt)
    after = request.GET.get("after", "")
    if hasattr(rows, "filter"):
        lookup = f"{cursor}__lt" if descending else f"{cursor}__gt"
        page_qs = rows.filter(**{lookup: after}) if after else rows
        got = list(page_qs[: PAGE_SIZE + 1])
        more = len(got) > PAGE_SIZE
        got = got[:PAGE_SIZE]
        nxt = str(getattr(got[-1], cursor)) if more and got else None
    else:
        items = list(rows)
        start = int(after) if after.isdigit() else 0
        got = items[start:start + PAGE_SIZE]
        nxt = str(start + PAGE_SIZE) if start + PAGE_SIZE < len(items) else None
    return Page(got, nxt, columns, next_url=next_page_url(request, nxt))


def keyset(request: HttpRequest, rows: Any, *, columns: Sequence[Column], ordering: list[str], scope: str) -> Page:
    """A newest-first (or any ``ordering``) page through ``core.api.paginate``'s opaque signed cursor in
    ``?after=``; a bad cursor starts again from the top."""
    from govshare.core.api import paginate
    from govshare.core.errors import ValidationFailed

    try:
        got, nxt = paginate(rows, cursor=request.GET.get("after") or None, limit=PAGE_SIZE, ordering=ordering,
                            scope=scope)
    except ValidationFailed:
        got, nxt = paginate(rows, cursor=None, limit=PAGE_SIZE, ordering=ordering, scope=scope)
    return Page(got, nxt, columns)


def next_page_url(request: HttpRequest, after: str | None) -> str | None:
    """The next page's link: the current query string (filters) with ``after`` replaced."""
    if after is None:
        return None
    params = request.GET.copy()
    params.pop("format", None)
    params["after"] = after
    return "?" + params.urlencode()


def form_error(form: forms.BaseForm, exc: DomainError) -> None:
    """Show a service's error beside the field it names (or above the form)."""
    name = exc.details.get("field") if isinstance(exc.details, dict) else None
    form.add_error(name if name in form.fields else None, exc.message or _("操作失败"))
