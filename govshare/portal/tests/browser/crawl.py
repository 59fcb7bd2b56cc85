"""Follow every internal link a signed-in user is shown, through the browser context's cookies."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urldefrag, urljoin, urlsplit

# Never followed: the API and data plane (not pages), the read-only Django admin, static files, and the
# list exports (?format=csv|json, ?fmt=xlsx …: downloads, tested with the pages' own tests).
SKIP_PREFIXES = ("/api/", "/dp/", "/admin/", "/static/", "/media/", "/accounts/logout/")
EXPORT_FORMATS = {"csv", "json", "xlsx", "xls", "xml", "zip", "pdf"}
PER_PATTERN = 2  # detail pages of one kind (ids differ) and pages of one list (cursor differs)
PER_PATH = 6  # query variants of one page (search facets combine without end)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.title: str | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href") and "download" not in values:
            self.links.append(values["href"] or "")
        elif tag == "title" and self.title is None:
            self._in_title, self.title = True, ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = (self.title or "") + data


def parse(html: str) -> tuple[str | None, list[str]]:
    parser = _Page()
    parser.feed(html)
    return (None if parser.title is None else " ".join(parser.title.split())), parser.links


def path_pattern(url: str) -> str:
    """The view a URL reaches: path segments with digits become ``*``."""
    return "/".join("*" if re.search(r"\d", seg) else seg for seg in urlsplit(url).path.split("/"))


def pattern(url: str) -> str:
    """The kind of page: :func:`path_pattern` and the query's keys (not their values)."""
    parts = urlsplit(url)
    path = path_pattern(url)
    keys = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return path + ("?" + "&".join(keys) if keys else "")


def meaningful_title(title: str | None) -> bool:
    """A page title with words of its own (not only the site's suffix ``· govshare``)."""
    if not title:
        return False
    return bool(title.replace("govshare", "").replace("·", "").strip())


@dataclass
class Visit:
    url: str
    status: int
    referrer: str
    title: str | None = None
    problem: str = ""


@dataclass
class Crawl:
    visits: list[Visit] = field(default_factory=list)
    truncated: bool = False

    @property
    def problems(self) -> list[Visit]:
        return [v for v in self.visits if v.problem]

    def report(self) -> str:
        return "\n".join(f"{v.problem}: {v.url} (linked from {v.referrer})" for v in self.problems)


def follow(href: str, base: str, origin: str) -> str | None:
    href = href.strip()
    if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
        return None
    url, _frag = urldefrag(urljoin(base, href))
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != origin:
        return None
    if parts.path.startswith(SKIP_PREFIXES):
        return None
    if any(k in ("format", "fmt") and v.lower() in EXPORT_FORMATS for k, v in parse_qsl(parts.query)):
        return None
    return url


def crawl(request: Any, origin: str, start: list[str], *, limit: int = 400) -> Crawl:
    """Breadth-first over same-origin links from ``start`` with ``request`` (a Playwright APIRequestContext
    carrying the signed-in session). Every answer must be 2xx (after redirects) and every HTML page must have a
    meaningful ``<title>``."""
    result = Crawl()
    queue: list[tuple[str, str]] = [(origin + s if s.startswith("/") else s, "(start)") for s in start]
    seen: set[str] = {u for u, _ in queue}
    per_pattern: dict[str, int] = {}
    per_path: dict[str, int] = {}
    while queue:
        url, referrer = queue.pop(0)
        if len(result.visits) >= limit:
            result.truncated = True
            break
        response = request.get(url, max_redirects=5, timeout=60_000)
        visit = Visit(url, response.status, referrer)
        result.visits.append(visit)
        final = response.url
        if urlsplit(final).path.startswith("/accounts/login/") and not urlsplit(url).path.startswith(
                "/accounts/login/"):
            visit.problem = "redirected to sign-in (session lost or page refuses a role that sees its link)"
            continue
        if response.status >= 400:
            visit.problem = f"HTTP {response.status}"
            continue
        content_type = response.headers.get("content-type", "")
        if "text/html" not in content_type or "attachment" in response.headers.get("content-disposition", ""):
            continue
        title, links = parse(response.text())
        visit.title = title
        if not meaningful_title(title):
            visit.problem = f"no <title> (got {title!r})"
        for href in links:
            target = follow(href, final, origin)
            if target is None or target in seen:
                continue
            kind, view = pattern(target), path_pattern(target)
            if per_pattern.get(kind, 0) >= PER_PATTERN or per_path.get(view, 0) >= PER_PATH:
                continue
            per_pattern[kind] = per_pattern.get(kind, 0) + 1
            per_path[view] = per_path.get(view, 0) + 1
            seen.add(target)
            queue.append((target, url))
    return result
