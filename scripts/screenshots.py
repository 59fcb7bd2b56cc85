#!/usr/bin/env python3
"""Screenshots of the portal's key pages, per role, for the user guide (docs/user-guide/img/).

    python scripts/screenshots.py                    # build a small demo city, serve it, write the PNGs
    python scripts/screenshots.py --only exchange-   # only the shots whose name starts with it
    python scripts/screenshots.py --list             # the shots, and the guide's images that none makes

It uses the browser tests' harness (govshare/portal/tests/browser/harness.py): the demo is built on SQLite in a
temporary GOVSHARE_HOME (about a minute), served with ``govshare serve`` on a free port, and driven by Playwright
with Debian's Chromium (``apt-get install chromium fonts-noto-cjk``; CJK fonts make the pages legible). The
names are the ones the guides reference as ``img/<name>.png``; ``--list`` reports references with no shot.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from govshare.portal.tests.browser import harness  # noqa: E402

GUIDE = ROOT / "docs" / "user-guide"
MAX_HEIGHT = 1600  # long lists are cut: the guide shows the top of the page
Step = Callable[[Any, harness.Site], None]


UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def first_link(pattern: str) -> Step:
    """Open the first link in ``main`` whose href matches the regular expression ``pattern`` (a detail page
    reached from a list); ``{id}`` stands for a UUID."""
    regex = re.compile(pattern.replace("{id}", UUID))

    def step(page: Any, _site: harness.Site) -> None:
        for link in page.query_selector_all("main a[href]"):
            href = link.get_attribute("href") or ""
            if regex.search(href):
                page.goto(urljoin(page.url, href))
                return
        raise LookupError(f"no link matching {pattern} on {page.url}")

    return step


def go(suffix: str) -> Step:
    """Open ``suffix`` relative to the current page (a sub-page with no link of its own in the list)."""

    def step(page: Any, _site: harness.Site) -> None:
        page.goto(urljoin(page.url, suffix))

    return step


def fill_window(page: Any, site: harness.Site) -> None:
    """One 办件 at the window: case number, the first 事项, the demo's verify example 身份证号."""
    page.fill("input[name=case_number]", "BJ2026-0001")
    page.select_option("select[name=item]", index=1)
    page.fill("input[name=holder]", site.verify["key"] if site.verify else "")
    with page.expect_navigation():
        page.get_by_role("button", name="查询", exact=True).click()


def check_guard(page: Any, _site: harness.Site) -> None:
    """On an approve page: set every item to 明文 and run the inference check (shows its verdict)."""
    for select in page.query_selector_all("select[name^=mode_]"):
        select.select_option("plain")
    with page.expect_navigation():
        page.get_by_role("button", name="检查推断风险").click()


def open_import_with_errors(page: Any, _site: harness.Site) -> None:
    rows = ("标题,数源单位,更新周期\n公交站点信息,潮州市交通运输局,每天\n,潮州市交通运输局,每月\n"
            "道路养护信息,潮州市不存在的局,每年\n")
    page.set_input_files("input[name=file]", files=[
        {"name": "开放目录.csv", "mimeType": "text/csv", "buffer": rows.encode("utf-8")}])
    with page.expect_navigation():
        page.get_by_role("button", name="导入", exact=True).click()


@dataclass(frozen=True)
class Shot:
    name: str  # docs/user-guide/img/<name>.png
    user: str | None  # demo username; None = not signed in
    path: str
    steps: tuple[Step, ...] = ()
    element: str = ""  # a CSS selector: the shot is of that element only


SHOTS: tuple[Shot, ...] = (
    # accounts.md
    Shot("accounts-login", None, "/accounts/login/"),
    Shot("accounts-profile", "rsj_consumer", "/accounts/profile/"),
    Shot("accounts-password", "rsj_consumer", "/accounts/password/"),
    Shot("accounts-totp", "rsj_consumer", "/accounts/totp/"),
    # statistics.md
    Shot("stats-home-public", None, "/"),
    Shot("stats-home-signed-in", "shujuju", "/"),
    Shot("stats-departments", "shujuju", "/stats/departments/"),
    Shot("stats-department", "shujuju", "/", (first_link(r"/stats/departments/{id}/"),)),
    # catalog.md
    Shot("catalog-search", "rsj_consumer", "/catalog/?q=社保"),
    Shot("catalog-resource", "rsj_consumer", "/catalog/?q=人口基本信息",
         (first_link(r"/catalog/resources/{id}/$"),)),
    Shot("catalog-edit", "gaj_provider", "/catalog/resources/new/"),
    Shot("catalog-review", "shujuju", "/catalog/review/"),
    Shot("catalog-elements", "gaj_provider", "/catalog/elements/"),
    Shot("catalog-import", "shujuju", "/catalog/import/", (open_import_with_errors,)),
    Shot("datasets-upload", "gaj_provider", "/datasets/", (first_link(r"/upload/$"),)),
    # exchange.md
    Shot("exchange-apply", "rsj_consumer", "/exchange/apply/?resource=445100/103003/000001"),
    Shot("exchange-my-applications", "rsj_consumer", "/exchange/applications/"),
    Shot("exchange-application", "rsj_consumer", "/exchange/applications/",
         (first_link(r"/exchange/applications/{id}/$"),)),
    Shot("exchange-inbox-compliance", "shujuju", "/exchange/review/compliance/"),
    Shot("exchange-decide-guard", "zrzyj_provider", "/exchange/review/provider/",
         (first_link(r"/exchange/applications/{id}/$"), first_link(r"/approve/$"), check_guard)),
    Shot("exchange-refuse", "zrzyj_provider", "/exchange/review/provider/",
         (first_link(r"/exchange/applications/{id}/$"), first_link(r"/refuse/$"))),
    Shot("exchange-suspensions", "secadmin", "/exchange/suspensions/"),
    Shot("exchange-grants", "gaj_provider", "/exchange/grants/"),
    Shot("exchange-grant", "gaj_provider", "/exchange/grants/", (first_link(r"/exchange/grants/{id}/$"),)),
    Shot("registry-systems", "rsj_admin", "/systems/"),
    Shot("registry-system", "rsj_admin", "/systems/", (first_link(r"/systems/{id}/$"),)),
    # resource-center.md
    Shot("rc-subscriptions-list", "mzj_consumer", "/subscriptions/"),
    Shot("rc-subscription-new", "mzj_consumer", "/subscriptions/new/"),
    Shot("rc-subscription-detail", "mzj_consumer", "/subscriptions/", (first_link(r"/subscriptions/{id}/$"),)),
    Shot("rc-disputes-list", "gaj_provider", "/quality/disputes/"),
    Shot("rc-dispute-grants", "rsj_consumer", "/quality/disputes/new/"),
    Shot("rc-dispute-new", "rsj_consumer", "/quality/disputes/new/", (first_link(r"\?grant="),)),
    Shot("rc-dispute-detail-provider", "gaj_provider", "/quality/disputes/",
         (first_link(r"/quality/disputes/{id}/$"),)),
    Shot("rc-quality-scores", "gaj_provider", "/quality/"),
    Shot("rc-quality-dataset", "gaj_provider", "/quality/", (first_link(r"/quality/datasets/{id}/$"),)),
    Shot("rc-quality-issues", "gaj_provider", "/quality/",
         (first_link(r"/quality/datasets/{id}/$"), go("issues/"))),
    Shot("rc-quality-rules", "gaj_provider", "/quality/rules/"),
    Shot("rc-connectors-list", "wjj_provider", "/connectors/"),
    Shot("rc-connector-new", "wjj_provider", "/connectors/new/"),
    Shot("rc-connector-detail", "wjj_provider", "/connectors/", (first_link(r"/connectors/{id}/$"),)),
    Shot("rc-connector-run", "wjj_provider", "/connectors/",
         (first_link(r"/connectors/{id}/$"), first_link(r"/runs/\d+/$"))),
    # window.md
    Shot("window-lookup", "chuangkou01", "/licences/window/"),
    Shot("window-result", "chuangkou01", "/licences/window/", (fill_window,)),
    Shot("window-facts", "chuangkou01", "/licences/window/", (fill_window,), element="#base-facts"),
    Shot("licence-verify", "chuangkou01", "/licences/verify/"),
    Shot("licence-uses", "chuangkou01", "/licences/uses/"),
    Shot("baselibs-list", "shujuju", "/baselibs/"),
    Shot("baselibs-detail", "shujuju", "/baselibs/", (first_link(r"/baselibs/{id}/$"),)),
    # audit.md
    Shot("audit-events", "auditadmin", "/audit/"),
    Shot("audit-lookups", "auditadmin", "/audit/lookups/"),
    Shot("audit-chain", "auditadmin", "/audit/chain/"),
)


def referenced() -> set[str]:
    names: set[str] = set()
    for md in GUIDE.glob("*.md"):
        names |= set(re.findall(r"\(img/([\w.-]+)\.png\)", md.read_text(encoding="utf-8")))
    return names


def take(site: harness.Site, shots: list[Shot], out: Path) -> list[str]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(**harness.launch_options())
        contexts: dict[str | None, Any] = {}
        for shot in shots:
            if shot.user not in contexts:
                ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
                ctx.set_default_timeout(60_000)
                if shot.user:
                    harness.sign_in(ctx.new_page(), site, shot.user)
                contexts[shot.user] = ctx
            page = contexts[shot.user].new_page()
            try:
                response = page.goto(site.url + shot.path)
                for step in shot.steps:
                    step(page, site)
                target = out / f"{shot.name}.png"
                if shot.element:
                    page.locator(shot.element).first.screenshot(path=str(target))
                else:
                    height = min(MAX_HEIGHT, int(page.evaluate("document.documentElement.scrollHeight")))
                    page.screenshot(path=str(target), full_page=True,
                                    clip={"x": 0, "y": 0, "width": 1280, "height": height})
                status = response.status if response else 0
                print(f"  {shot.name}.png  ({shot.user or '未登录'} {page.url.removeprefix(site.url)} {status})")
            except Exception as exc:  # report every failed shot, then go on
                failed.append(shot.name)
                print(f"  {shot.name}.png  FAILED: {str(exc).splitlines()[0]}", file=sys.stderr)
            finally:
                page.close()
        browser.close()
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=GUIDE / "img", help="output folder (default docs/user-guide/img)")
    parser.add_argument("--only", default="", help="only shots whose name starts with one of these (comma-separated)")
    parser.add_argument("--list", action="store_true", help="list the shots and the guide references none makes")
    parser.add_argument("--work", type=Path, help="build/serve folder (default: a temporary one; reused if built)")
    args = parser.parse_args()

    shots = [s for s in SHOTS if s.name.startswith(tuple(args.only.split(",")))]
    missing = sorted(referenced() - {s.name for s in SHOTS})
    if args.list:
        for s in shots:
            print(f"{s.name:32} {s.user or '未登录':16} {s.path}")
        print("guide images no shot makes:", ", ".join(missing) or "none")
        return 0
    if not harness.chromium_available():
        print(f"Chromium not found at {harness.CHROMIUM}: apt-get install chromium fonts-noto-cjk", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="govshare-shots-"))
    print(f"building the demo city in {work / 'built'} …", flush=True)
    built = work / "built"
    harness.build(built)
    with harness.serve(built, work / "served") as site:
        print(f"serving {site.url}; writing {len(shots)} screenshots to {args.out}", flush=True)
        failed = take(site, shots, args.out)
    if missing:
        print("guide images no shot makes (take them by hand or add a Shot):", ", ".join(missing))
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
