"""Every role signs in and follows every link it is shown: no error page, no missing page, a title on each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from govshare.portal.tests.browser import harness
from govshare.portal.tests.browser.conftest import Sessions
from govshare.portal.tests.browser.crawl import crawl, follow, meaningful_title, parse, pattern

ROLES = sorted(harness.ROLE_USERS)


def _nav_links(page: Any) -> list[tuple[str, str]]:
    return [(a.inner_text().strip(), a.get_attribute("href") or "") for a in page.query_selector_all("nav.menu a")]


def _shoot(page: Any, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path


@pytest.mark.parametrize("role", [*ROLES, "anonymous"])
def test_every_link_a_role_is_shown_works(role: str, sessions: Sessions, site: harness.Site,
                                          screenshots: Path) -> None:
    username = harness.ROLE_USERS.get(role)
    page = sessions.page(username)
    page.goto(site.url + "/")
    assert meaningful_title(page.title()), page.title()
    if username:
        assert username in page.inner_text("header") or page.query_selector("header form") is not None
    menu = _nav_links(page)

    result = crawl(page.context.request, site.url, ["/", *[href for _label, href in menu]])
    assert not result.problems, f"{role}:\n{result.report()}"
    assert not result.truncated or len(result.visits) >= 400
    visited = {v.url for v in result.visits}
    for _label, href in menu:
        assert follow(href, site.url + "/", site.url) in visited

    # In the browser itself: each menu page renders with a title; its screenshot goes to the folder.
    shots = screenshots / role
    print(f"screenshots of {role}: {shots}")
    _shoot(page, shots, "home")
    for index, (label, href) in enumerate(menu):
        page.goto(site.url + href if href.startswith("/") else href)
        assert meaningful_title(page.title()), f"{label} {href}: {page.title()!r}"
        slug = pattern(href).strip("/").replace("/", "-").replace("*", "x") or "home"
        _shoot(page, shots, f"{index:02d}-{slug}")
    page.context.close()


# ---------------------------------------------------------------------------------------------
# The crawler's own rules (no browser)
# ---------------------------------------------------------------------------------------------


def test_crawler_parses_titles_and_links() -> None:
    title, links = parse('<html><head><title> 目录 \n 资源 · govshare</title></head><body>'
                         '<a href="/catalog/1/">x</a><a href="/x.csv" download>d</a><a>no href</a></body></html>')
    assert title == "目录 资源 · govshare" and links == ["/catalog/1/"]
    assert meaningful_title(title) and not meaningful_title(" · govshare") and not meaningful_title(None)


def test_crawler_follows_only_internal_pages() -> None:
    origin = "http://127.0.0.1:9"
    base = origin + "/catalog/"
    assert follow("12/?tab=items#top", base, origin) == origin + "/catalog/12/?tab=items"
    for skipped in ("https://example.org/", "mailto:a@b", "#top", "javascript:void(0)", "/api/v1/docs",
                    "/admin/", "/static/site.css", "/accounts/logout/", "?format=csv", "/x/?a=1&format=JSON",
                    "/catalog/export/?fmt=xlsx"):
        assert follow(skipped, base, origin) is None, skipped
    assert follow("?format=html", base, origin) == base + "?format=html"
    assert pattern(origin + "/catalog/12/items/?after=40&q=x") == "/catalog/*/items/?after&q"
    assert pattern(origin + "/exchange/a1b2/") == "/exchange/*/"
