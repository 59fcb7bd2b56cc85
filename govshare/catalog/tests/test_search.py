"""Catalog search: segmentation and abbreviations, the same result sets on SQLite (FTS5) and PostgreSQL
(simple tsvector), hostile input, facets, filters, sorting, pagination, visibility, the API and exports.

Every expected result is an exact set of resource names, so the SQLite run and the PostgreSQL run of
this file check the same thing."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.catalog.models import Resource
from govshare.catalog.search import (
    build_search_text,
    rebuild_search_index,
    search_resources,
)
from govshare.catalog.search.text import (
    Abbreviations,
    build_document,
    document_tokens,
    parse_query,
    split_document,
    to_fts5,
    to_tsquery,
)
from govshare.catalog.services import ItemSpec, ResourceFields, apply_action, update_resource
from govshare.conftest import client_for
from govshare.organizations.models import Department

pytestmark = pytest.mark.django_db

URL = "/api/v1/catalog/search"

PERSON = [
    ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
    ItemSpec(name="姓名", element_code="DE0002", required=True),
    ItemSpec(name="性别", element_code="DE0003"),
]
ORG = [
    ItemSpec(name="统一社会信用代码", element_code="DE0015", is_key=True),
    ItemSpec(name="单位名称", element_code="DE0016", required=True),
    ItemSpec(name="登记状态", element_code="DE0020"),
]
HOUSE = [
    ItemSpec(name="不动产单元号", element_code="DE0026", is_key=True),
    ItemSpec(name="坐落", element_code="DE0027"),
    ItemSpec(name="权利人", element_code="DE0030"),
]

# name: (department, classification, summary, items, extra fields)
LISTED: dict[str, tuple[str, str, str, list[ItemSpec], dict[str, Any]]] = {
    "社会保险参保信息": ("hrss", "101004", "全市城乡居民和职工的社会保险参保登记、参保状态信息", PERSON,
                 {"share_type": "unconditional", "formats": ["database", "api"], "update_cycle": "daily"}),
    "社保缴费明细": ("tax", "202001", "参保单位和个人的缴费明细，按月汇总", PERSON,
               {"formats": ["spreadsheet"], "update_cycle": "monthly"}),
    "城乡居民基本医疗保险参保信息": ("medical", "101004", "城乡居民医疗保险参保和待遇享受信息", PERSON,
                       {"formats": ["database"], "update_cycle": "monthly"}),
    "企业登记信息": ("market", "102002", "市场主体设立、变更、注销登记信息", ORG,
               {"share_type": "unconditional", "open_type": "unconditional", "formats": ["database", "api"],
                "update_cycle": "daily"}),
    "法人基本信息": ("market", "102001", "各类法人单位的基本登记信息，提供API接口", ORG,
               {"open_type": "conditional", "formats": ["api"], "update_cycle": "daily"}),
    "人口基本信息": ("police", "101001", "全市户籍人口和流动人口基本信息", PERSON,
               {"formats": ["database"], "update_cycle": "realtime"}),
    "不动产登记信息": ("nature", "103003", "不动产权利人、坐落、面积等登记簿信息", HOUSE,
                {"formats": ["database"], "update_cycle": "realtime"}),
    "最低生活保障对象名单": ("civil", "202002", "城乡最低生活保障对象的认定和救助金发放信息", PERSON,
                   {"formats": ["spreadsheet"], "update_cycle": "monthly"}),
    "住房公积金缴存信息": ("fund", "202003", "单位和职工住房公积金缴存、提取信息", PERSON,
                  {"formats": ["database", "document"], "update_cycle": "monthly"}),
    "婚姻登记信息": ("civil", "101003", "结婚登记、离婚登记信息", PERSON,
               {"formats": ["database"], "update_cycle": "daily", "tags": ["民政", "婚姻"]}),
}
ALL = set(LISTED)

DEPARTMENTS = {
    "hrss": "市人力资源和社会保障局", "tax": "市税务局", "medical": "市医疗保障局", "market": "市市场监管局",
    "nature": "市自然资源局", "civil": "市民政局", "fund": "市住房公积金管理中心",
}


@dataclass
class Corpus:
    office: User
    depts: dict[str, Department]
    resources: dict[str, Resource] = field(default_factory=dict)


def _create(dept: Department, name: str, classification: str, summary: str, items: list[ItemSpec],
            extra: dict[str, Any], publish_by: User | None) -> Resource:
    return testing.resource(dept, name=name, classification_code=classification, summary=summary, items=items,
                            publish_by=publish_by, **extra)


@pytest.fixture
def corpus(city: Any, data_office: User, provider_dept: Department) -> Corpus:
    depts = {key: testing.department(city, name=name) for key, name in DEPARTMENTS.items()}
    depts["police"] = provider_dept
    c = Corpus(office=data_office, depts=depts)
    for name, (dept, cls, summary, items, extra) in LISTED.items():
        c.resources[name] = _create(depts[dept], name, cls, summary, items, extra, data_office)
    # Never listed: a draft, a pending entry and a withdrawn entry, all mentioning 社会保险.
    c.resources["社会保险待遇发放"] = _create(depts["hrss"], "社会保险待遇发放", "101004", "社会保险待遇发放草稿",
                                      PERSON, {}, None)
    pending = _create(depts["tax"], "社会保险费欠费信息", "202001", "社会保险费欠费", PERSON, {}, None)
    c.resources["社会保险费欠费信息"] = apply_action(actor=None, resource=pending, action="submit")
    withdrawn = _create(depts["hrss"], "社会保险稽核信息", "101004", "社会保险稽核", PERSON, {}, data_office)
    withdrawn = apply_action(actor=None, resource=withdrawn, action="request_withdrawal", reason="数据停更")
    c.resources["社会保险稽核信息"] = apply_action(actor=data_office, resource=withdrawn,
                                           action="approve_withdrawal")
    return c


def names(result_items: list[Resource]) -> set[str]:
    return {r.name for r in result_items}


def search_all(user: Any, q: str = "", *, sort: str = "", limit: int = 50,
               filters: dict[str, list[str]] | None = None) -> list[Resource]:
    """Every page of a search, following next_cursor."""
    out: list[Resource] = []
    cursor = None
    while True:
        result = search_resources(user=user, q=q, filters=filters or {}, sort=sort, cursor=cursor, limit=limit)
        out.extend(result.items)
        cursor = result.next_cursor
        if cursor is None:
            return out


def found(user: Any, q: str, **filters: list[str]) -> set[str]:
    result = search_resources(user=user, q=q, filters=filters, sort="", cursor=None, limit=200)
    assert result.total == len(result.items)
    return names(result.items)


@pytest.fixture
def reader(consumer: User) -> User:
    """A consumer of another department: sees the listed catalog only."""
    return consumer


# ---------------------------------------------------------------------------------------------
# Text: segmentation, abbreviations, query parsing (no database)
# ---------------------------------------------------------------------------------------------


def test_document_tokens_have_ngrams_jieba_words_and_ascii() -> None:
    tokens = document_tokens("住房公积金缴存，API接口ＡＢＣ１２３")
    assert {"住房", "房公", "公积", "积金", "金缴", "缴存", "住房公", "公积金", "积金缴", "存"} <= set(tokens)
    assert "住房公积金" in tokens  # a jieba word longer than three characters
    assert {"api", "abc123", "接口", "口"} <= set(tokens)
    assert "，" not in "".join(tokens)


def test_document_has_name_code_and_body_lines() -> None:
    doc = build_document(name="社会保险参保信息", code="445100/1101004/000001", body=["摘要", "市人社局"])
    name, code, body = split_document(doc)
    assert "社会保险" in name.split() and "参保" in name.split()
    assert code.split() == ["445100", "1101004", "000001"]
    assert "摘要" in body.split() and "人社" in body.split()


def test_abbreviations_link_both_directions() -> None:
    table = Abbreviations.from_entries([{"short": "社保", "full": ["社会保险"]},
                                        {"short": "医保", "full": ["医疗保险", "基本医疗保险"]}])
    assert table.expand("社保") == ("社会保险",)
    assert table.expand("社会保险") == ("社保",)
    assert table.expand("医保") == ("医疗保险", "基本医疗保险")
    assert table.expand("基本医疗保险") == ("医保",)  # full forms are not linked to each other
    with pytest.raises(ValueError):
        Abbreviations.from_entries([{"short": "社 保", "full": ["社会保险"]}])


def test_shipped_abbreviation_table_loads() -> None:
    assert "社会保险" in parse_query("社保").terms[0].alternatives
    for q, expected in [("医保", "基本医疗保险"), ("低保", "最低生活保障"), ("公积金", "住房公积金"),
                        ("企业", "法人"), ("工商", "市场监管"), ("最低生活保障", "低保")]:
        assert expected in parse_query(q).terms[0].alternatives, q


def test_query_sub_words_do_not_defeat_expansion() -> None:
    # search mode yields 社会 / 保险 / 社会保险; only the longest word stays, so 社保 can stand in for it
    terms = parse_query("社会保险").terms
    assert [t.word for t in terms] == ["社会保险"]
    assert "社保" in terms[0].alternatives


def test_stop_characters_dropped_only_when_other_terms_remain() -> None:
    assert [t.word for t in parse_query("人口和户籍").terms] == ["人口", "户籍"]
    assert [t.word for t in parse_query("的").terms] == ["的"]


@pytest.mark.parametrize("q", ["' OR 1=1 --", '"', "*", "NEAR(", "社保 NEAR(a b)", "a:b", "{name}: x", "^x",
                               "name : 社保", "'||'", "\\", "%", "_", "社保\" OR \"", "-社保", "社保*"])
def test_rendered_queries_contain_only_quoted_safe_tokens(q: str) -> None:
    parsed = parse_query(q)
    if parsed.terms:
        fts, tsq = to_fts5(parsed.tree()), to_tsquery(parsed.tree())
        for text in (fts, tsq):
            assert ";" not in text and "--" not in text and "\\" not in text
        assert fts.count('"') % 2 == 0 and tsq.count("'") % 2 == 0


def test_blank_and_unmatchable_queries() -> None:
    assert parse_query("   ").blank
    assert parse_query('"*"').unmatchable
    assert not parse_query("社保").unmatchable


# ---------------------------------------------------------------------------------------------
# The stored text agrees with the database tokenizer (the basis of same results on both backends)
# ---------------------------------------------------------------------------------------------


def backend_tokens(text: str) -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT lexeme FROM unnest(to_tsvector('simple', %s))", [text])
            return {row[0] for row in cursor.fetchall()}
        cursor.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.tok_probe USING fts5(t, tokenize='unicode61')")
        cursor.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.tok_vocab USING fts5vocab('temp', 'tok_probe', 'row')")
        cursor.execute("DELETE FROM temp.tok_probe")
        cursor.execute("INSERT INTO temp.tok_probe (t) VALUES (%s)", [text])
        cursor.execute("SELECT term FROM temp.tok_vocab")
        return {row[0] for row in cursor.fetchall()}


TRICKY = [
    "社会保险参保信息（2023年度）", "ＡＢＣ１２３／社保-医保_API.v2", "e-mail: a.b@gov.cn http://x.cn/a?b=1",
    "1.5e10 0x1F 000123 -42 +7", "Ünïcödé café naïve", "㐀㐁 丽 兀", "😀 emoji 社保 😀", "tab\tline\nbreak",
    "'quote' \"double\" (paren) [br] {cur}", "x" * 80, "社" * 50, "住房公积金12345热线", "a1b2c3 1a2b3c",
]


@pytest.mark.parametrize("text", TRICKY)
def test_stored_tokens_equal_database_tokens(db: None, text: str) -> None:
    doc = build_document(name=text, code=text, body=[text])
    expected = {t for line in split_document(doc) for t in line.split()}
    assert backend_tokens(doc) == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.sampled_from(list("社会保险医疗低保公积金企业登记abcXYZ019０９，。,.-_'\" \n\t😀é㐀")),
               max_size=40))
def test_stored_tokens_equal_database_tokens_property(db: None, text: str) -> None:
    doc = build_document(name=text, code="", body=[text])
    expected = {t for line in split_document(doc) for t in line.split()}
    assert backend_tokens(doc) == expected


# ---------------------------------------------------------------------------------------------
# Matching: the same exact sets on SQLite and PostgreSQL
# ---------------------------------------------------------------------------------------------

INSURED = {"社会保险参保信息", "社保缴费明细"}
LEGAL = {"企业登记信息", "法人基本信息"}
MEDICAL = {"城乡居民基本医疗保险参保信息"}

EXPECTED: dict[str, set[str]] = {
    "": ALL,
    # abbreviations, both directions
    "社保": INSURED,
    "社会保险": INSURED,
    "医保": MEDICAL,
    "医疗保险": MEDICAL,
    "企业": LEGAL,
    "法人": LEGAL,
    "工商": LEGAL,
    "低保": {"最低生活保障对象名单"},
    "最低生活保障": {"最低生活保障对象名单"},
    "公积金": {"住房公积金缴存信息"},
    "户籍": {"人口基本信息"},
    # words, several terms (AND), stop characters, provider names, tags
    "婚姻登记": {"婚姻登记信息"},
    "结婚": {"婚姻登记信息"},
    "不动产登记": {"不动产登记信息"},
    "社保 缴费": {"社保缴费明细"},
    "社保缴费": {"社保缴费明细"},
    "人口和户籍": {"人口基本信息"},
    "参保": {"社会保险参保信息", "城乡居民基本医疗保险参保信息", "社保缴费明细"},
    "登记": {"婚姻登记信息", "不动产登记信息", "企业登记信息", "法人基本信息", "社会保险参保信息"},
    "职工": {"住房公积金缴存信息", "社会保险参保信息"},
    "信息": ALL - {"社保缴费明细"},
    "市场监管局": LEGAL,
    "民政": {"婚姻登记信息", "最低生活保障对象名单"},
    "市场主体": {"企业登记信息"},
    # n-gram fallback: words jieba does not produce from the documents
    "险参": {"社会保险参保信息", "城乡居民基本医疗保险参保信息"},
    "居民基本": MEDICAL,
    "城乡居民医疗": MEDICAL,
    "税": {"社保缴费明细"},
    # ASCII, full-width, case
    "API": {"法人基本信息"},
    "ａｐｉ 接口": {"法人基本信息"},
    # punctuation around real words is ignored
    '社保"': INSURED,
    "（社保）": INSURED,
    # nothing
    "养老": set(),
    "社保 不动产": set(),
}

HOSTILE = ["' OR 1=1 --", '"', "*", "NEAR(", "NEAR(社保 医保)", "社保 OR 1=1", "' OR ''='", "%", "_", "%%",
           "\\", ";", "); DROP TABLE catalog_resource; --", "name:社保", "{name body}: 社保", "社保 AND", "OR",
           "^社保", "社保*", '"社保" OR "医保"', ":*", "'社保':*", "!社保", "社保 | 医保", "社保 & 医保", "\x00",
           "‮社保", "😀", "a" * 500, "社" * 300]


def test_same_result_sets_on_this_backend(corpus: Corpus, reader: User) -> None:
    mismatches = {q: (found(reader, q), expected) for q, expected in EXPECTED.items() if found(reader, q) != expected}
    assert not mismatches, f"{connection.vendor}: {mismatches}"


@pytest.mark.parametrize("q", HOSTILE)
def test_hostile_input_never_errors_and_never_matches_everything(corpus: Corpus, reader: User, q: str) -> None:
    result = search_resources(user=reader, q=q, filters={}, sort="", cursor=None, limit=50)
    assert result.total < len(ALL)
    assert len(result.items) == result.total


def test_hostile_operators_match_like_their_words(corpus: Corpus, reader: User) -> None:
    # operator characters are punctuation; the words around them are ordinary terms (AND)
    assert found(reader, '"社保" OR "医保"') == set()  # 社保 AND or AND 医保
    assert found(reader, "社保 | 医保") == set()
    assert found(reader, "社保*") == INSURED
    assert found(reader, "{name}: 社保") == set()  # "name" is a plain word
    assert found(reader, "' OR 1=1 --") == set()


def test_unseen_two_character_word_matches_through_bigrams(corpus: Corpus, reader: User) -> None:
    parsed = parse_query("险参")
    assert [t.word for t in parsed.terms] == ["险参"]
    for r in corpus.resources.values():
        assert "险参" not in split_document(r.search_text)[0].split() or "险参" in r.name
    assert found(reader, "险参") == {"社会保险参保信息", "城乡居民基本医疗保险参保信息"}


def test_ngram_halves_in_different_fields_do_not_match(corpus: Corpus, reader: User) -> None:
    # 城乡居民基本医疗保险参保信息 holds 保险 (its name) and 社会保 (its classification 社会保障信息), and
    # bare bigrams 社会 + 会保 + 保险 would match 社会保险; the trigram 会保险 is nowhere in it.
    assert "城乡居民基本医疗保险参保信息" not in found(reader, "社会保险")


# ---------------------------------------------------------------------------------------------
# Visibility
# ---------------------------------------------------------------------------------------------

WORKING = {"社会保险待遇发放", "社会保险费欠费信息", "社会保险稽核信息"}


def test_drafts_never_appear_for_consumers(corpus: Corpus, reader: User) -> None:
    assert found(reader, "社会保险") == INSURED
    result = search_resources(user=reader, q="社会保险", filters={}, sort="", cursor=None, limit=50,
                              include_drafts=True)
    assert names(result.items) == INSURED


def test_providers_see_only_their_own_working_copies(corpus: Corpus) -> None:
    hrss = testing.user(Role.PROVIDER, dept=corpus.depts["hrss"])
    tax = testing.user(Role.PROVIDER, dept=corpus.depts["tax"])

    def with_drafts(user: User) -> set[str]:
        return names(search_resources(user=user, q="社会保险", filters={}, sort="", cursor=None, limit=50,
                                      include_drafts=True).items)

    assert with_drafts(hrss) == INSURED | {"社会保险待遇发放", "社会保险稽核信息"}
    assert with_drafts(tax) == INSURED | {"社会保险费欠费信息"}
    assert found(hrss, "社会保险") == INSURED  # without include_drafts: the listed catalog only
    assert with_drafts(corpus.office) == INSURED | WORKING  # the node's data office


def test_revision_in_progress_shows_the_published_version_to_others(corpus: Corpus, reader: User) -> None:
    r = corpus.resources["社会保险参保信息"]
    hrss = testing.user(Role.PROVIDER, dept=corpus.depts["hrss"])
    r = apply_action(actor=hrss, resource=r, action="revise")
    fields = ResourceFields(name="社会保险参保信息（修订中）", classification_code="101004", summary="修订中的摘要",
                            share_type="unconditional", formats=["database", "api"], update_cycle="daily")
    update_resource(actor=hrss, resource=r, fields=fields)
    mine = search_resources(user=hrss, q="修订", filters={}, sort="", cursor=None, limit=50, include_drafts=True)
    assert names(mine.items) == {"社会保险参保信息（修订中）"}
    from govshare.catalog.search import displayed_fields

    listed = search_resources(user=reader, q="社会保险", filters={}, sort="", cursor=None, limit=50)
    shown = {displayed_fields(reader, x)["name"] for x in listed.items}
    assert shown == INSURED


# ---------------------------------------------------------------------------------------------
# Ranking and sorting
# ---------------------------------------------------------------------------------------------


def test_relevance_puts_name_matches_first(corpus: Corpus, reader: User) -> None:
    result = search_resources(user=reader, q="参保", filters={}, sort="", cursor=None, limit=50)
    assert result.sort == "relevance"
    ordered = [r.name for r in result.items]
    assert set(ordered[:2]) == {"社会保险参保信息", "城乡居民基本医疗保险参保信息"}
    assert ordered[2] == "社保缴费明细"  # 参保 only in its summary


def test_code_matches_come_right_after_name_matches(corpus: Corpus, reader: User) -> None:
    target = corpus.resources["婚姻登记信息"]
    result = search_resources(user=reader, q=target.code, filters={}, sort="", cursor=None, limit=50)
    assert [r.name for r in result.items] == ["婚姻登记信息"]


def test_sorts(corpus: Corpus, reader: User) -> None:
    by_code = [r.code for r in search_all(reader, sort="code", limit=3)]
    assert by_code == sorted(by_code) and len(by_code) == len(ALL)
    by_name = [r.name for r in search_all(reader, sort="name", limit=4)]
    assert by_name == sorted(by_name)
    import datetime as dt

    Resource.objects.filter(name="婚姻登记信息").update(published_on=dt.date(2030, 1, 2))
    Resource.objects.filter(name="企业登记信息").update(published_on=dt.date(2030, 1, 1))
    Resource.objects.filter(name="人口基本信息").update(published_on=dt.date(2001, 1, 1))
    newest = [r.name for r in search_all(reader, sort="published", limit=3)]
    assert newest[:2] == ["婚姻登记信息", "企业登记信息"] and newest[-1] == "人口基本信息"
    assert search_resources(user=reader, q="", filters={}, sort="relevance", cursor=None, limit=5).sort == "code"


@pytest.mark.parametrize("sort", ["relevance", "code", "name", "published"])
def test_cursor_pagination_walks_the_whole_set(corpus: Corpus, reader: User, sort: str) -> None:
    rows = search_all(reader, q="信息", sort=sort, limit=2)
    assert len(rows) == len(EXPECTED["信息"])  # no row twice
    assert {r.name for r in rows} == EXPECTED["信息"]


def test_cursor_is_tamper_proof_and_bound_to_its_listing(corpus: Corpus, reader: User) -> None:
    from govshare.core.errors import ValidationFailed

    first = search_resources(user=reader, q="信息", filters={}, sort="", cursor=None, limit=2)
    assert first.next_cursor
    with pytest.raises(ValidationFailed) as bad:
        search_resources(user=reader, q="信息", filters={}, sort="", cursor=first.next_cursor[:-2] + "xx", limit=2)
    assert bad.value.field == "cursor"
    with pytest.raises(ValidationFailed) as other:
        search_resources(user=reader, q="登记", filters={}, sort="", cursor=first.next_cursor, limit=2)
    assert other.value.field == "cursor"


# ---------------------------------------------------------------------------------------------
# Facets and filters
# ---------------------------------------------------------------------------------------------


def counts(result: Any, key: str) -> dict[str, int]:
    return {v.value: v.count for v in result.facets[key].values}


def test_facet_counts_on_the_whole_catalog(corpus: Corpus, reader: User) -> None:
    result = search_resources(user=reader, q="", filters={}, sort="", cursor=None, limit=5)
    assert result.total == len(ALL)
    assert counts(result, "category") == {"basic": 7, "theme": 3}
    assert counts(result, "classification") == {"101": 4, "202": 3, "102": 2, "103": 1}
    assert {v.label for v in result.facets["classification"].values} == {
        "人口信息", "社会保障", "法人单位信息", "自然资源和空间地理信息"}
    d = corpus.depts
    assert counts(result, "provider") == {
        str(d["market"].pk): 2, str(d["civil"].pk): 2, str(d["hrss"].pk): 1, str(d["tax"].pk): 1,
        str(d["medical"].pk): 1, str(d["police"].pk): 1, str(d["nature"].pk): 1, str(d["fund"].pk): 1}
    assert counts(result, "share_type") == {"conditional": 8, "unconditional": 2}
    assert counts(result, "open_type") == {"none": 8, "unconditional": 1, "conditional": 1}
    assert counts(result, "update_cycle") == {"daily": 4, "monthly": 4, "realtime": 2}
    assert counts(result, "format") == {"database": 7, "api": 3, "spreadsheet": 2, "document": 1}
    assert counts(result, "sensitivity") == {"3": 8, "1": 2}
    labels = {key: facet.label for key, facet in result.facets.items()}
    assert labels == {"category": "分类", "classification": "分类（项）", "provider": "提供部门",
                      "share_type": "共享类型", "open_type": "开放属性", "update_cycle": "更新周期",
                      "format": "格式", "sensitivity": "敏感级别"}
    share = {v.value: v.label for v in result.facets["share_type"].values}
    assert share["unconditional"] == "无条件共享"
    assert {v.value: v.label for v in result.facets["sensitivity"].values}["3"] == "L3 较敏感"


def test_facets_are_disjunctive(corpus: Corpus, reader: User) -> None:
    result = search_resources(user=reader, q="", filters={"share_type": ["unconditional"], "format": ["api"]},
                              sort="", cursor=None, limit=50)
    assert names(result.items) == {"社会保险参保信息", "企业登记信息"} and result.total == 2
    # a facet's own filter is left out of its counts, every other filter applies
    assert counts(result, "share_type") == {"unconditional": 2, "conditional": 1}
    assert counts(result, "format") == {"database": 2, "api": 2}
    assert counts(result, "category") == {"basic": 2}
    selected = {v.value for v in result.facets["share_type"].values if v.selected}
    assert selected == {"unconditional"}


def test_filters_combine_with_text(corpus: Corpus, reader: User) -> None:
    d = corpus.depts
    assert found(reader, "登记", category=["basic"]) == EXPECTED["登记"]
    assert found(reader, "登记", category=["basic"], update_cycle=["daily"]) == {
        "婚姻登记信息", "企业登记信息", "法人基本信息", "社会保险参保信息"}
    assert found(reader, "登记", update_cycle=["daily", "realtime"], format=["api"]) == {
        "企业登记信息", "法人基本信息", "社会保险参保信息"}
    assert found(reader, "", provider=[str(d["market"].pk)]) == LEGAL
    assert found(reader, "", provider=[str(d["market"].pk), str(d["civil"].pk)]) == LEGAL | {
        "婚姻登记信息", "最低生活保障对象名单"}
    assert found(reader, "", classification=["102"]) == LEGAL
    assert found(reader, "", classification=["102002"]) == {"企业登记信息"}  # any level: its subtree
    assert found(reader, "", classification=["1"]) == found(reader, "", category=["basic"])
    assert found(reader, "", classification=["202"], format=["document"]) == {"住房公积金缴存信息"}
    assert found(reader, "", sensitivity=["L1"]) == LEGAL
    assert found(reader, "", sensitivity=["1"], open_type=["conditional"]) == {"法人基本信息"}
    assert found(reader, "社保", category=["theme"]) == {"社保缴费明细"}


@pytest.mark.parametrize("sort", ["code", "name", "published"])
def test_filters_in_python_and_sql_agree(corpus: Corpus, reader: User, sort: str) -> None:
    # facet counts and relevance pages filter fetched rows in Python; keyset pages filter in SQL
    d = corpus.depts
    combos: list[tuple[str, dict[str, list[str]]]] = [
        ("", {"format": ["api", "document"]}), ("登记", {"category": ["basic"], "update_cycle": ["daily"]}),
        ("", {"provider": [str(d["civil"].pk), str(d["fund"].pk)], "sensitivity": ["3"]}),
        ("信息", {"classification": ["101", "202"], "share_type": ["conditional"]}),
        ("", {"open_type": ["unconditional", "conditional"]}), ("社保", {"category": ["theme"]}),
    ]
    for q, filters in combos:
        expected = found(reader, q, **filters)
        paged = search_all(reader, q, sort=sort, limit=2, filters=filters)
        assert len(paged) == len(expected), (q, filters)  # no row twice
        assert {r.name for r in paged} == expected, (q, filters)
        total = search_resources(user=reader, q=q, filters=filters, sort=sort, cursor=None, limit=2).total
        assert total == len(expected)


def test_selected_values_stay_visible_with_zero_counts(corpus: Corpus, reader: User) -> None:
    result = search_resources(user=reader, q="社保", filters={"category": ["basic"], "classification": ["103"]},
                              sort="", cursor=None, limit=10)
    assert result.total == 0
    by_value = {v.value: v for v in result.facets["classification"].values}
    assert by_value["103"].selected and by_value["103"].count == 0
    assert by_value["103"].label == "自然资源和空间地理信息"
    assert counts(result, "category") == {"basic": 0}


def test_facets_are_capped(corpus: Corpus, reader: User, monkeypatch: pytest.MonkeyPatch) -> None:
    from govshare.catalog.search import engine

    monkeypatch.setattr(engine, "FACET_CAP", 2)
    fund = str(corpus.depts["fund"].pk)
    result = search_resources(user=reader, q="", filters={"provider": [fund]}, sort="", cursor=None, limit=5)
    values = result.facets["provider"].values
    assert len(values) == 3  # the top two plus the selected one
    assert [v.count for v in values] == [2, 2, 1]
    assert values[2].value == fund and values[2].selected
    assert len(search_resources(user=reader, q="", filters={}, sort="", cursor=None, limit=5)
               .facets["provider"].values) == 2


@pytest.mark.parametrize(("filters", "field_name"), [
    ({"share_type": ["everything"]}, "share_type"),
    ({"category": ["basic", "nonsense"]}, "category"),
    ({"provider": ["not-a-uuid"]}, "provider"),
    ({"classification": ["999"]}, "classification"),
    ({"sensitivity": ["L9"]}, "sensitivity"),
    ({"format": ["exe"]}, "format"),
    ({"owner": ["x"]}, "owner"),
])
def test_bad_filter_values_name_the_field(corpus: Corpus, reader: User, filters: dict[str, list[str]],
                                          field_name: str) -> None:
    from govshare.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as exc:
        search_resources(user=reader, q="", filters=filters, sort="", cursor=None, limit=5)
    assert exc.value.field == field_name


def test_query_count_is_bounded_and_independent_of_result_size(corpus: Corpus, reader: User,
                                                               django_assert_max_num_queries: Any) -> None:
    filters = {"category": ["basic", "theme"], "classification": ["101", "102", "202"],
               "share_type": ["conditional", "unconditional"]}

    def run() -> int:
        with CaptureQueriesContext(connection) as ctx:
            result = search_resources(user=reader, q="信息", filters=filters, sort="", cursor=None, limit=5)
        assert result.facets and result.items
        return len(ctx.captured_queries)

    small = run()
    for n in range(15):
        testing.resource(corpus.depts["civil"], name=f"救助对象信息{n}", classification_code="202002",
                         summary="救助对象信息", publish_by=corpus.office)
    assert run() == small
    with django_assert_max_num_queries(6):
        search_resources(user=reader, q="信息", filters=filters, sort="", cursor=None, limit=5)
    with django_assert_max_num_queries(6):
        search_resources(user=reader, q="信息", filters=filters, sort="name", cursor=None, limit=5)


# ---------------------------------------------------------------------------------------------
# Index maintenance
# ---------------------------------------------------------------------------------------------


def test_services_keep_the_index_in_step(corpus: Corpus) -> None:
    hrss = testing.user(Role.PROVIDER, dept=corpus.depts["hrss"])
    draft = corpus.resources["社会保险待遇发放"]
    fields = ResourceFields(name="失业保险金发放信息", classification_code="101004", summary="失业保险金按月发放")
    update_resource(actor=hrss, resource=draft, fields=fields)

    def mine(q: str) -> set[str]:
        return names(search_resources(user=hrss, q=q, filters={}, sort="", cursor=None, limit=50,
                                      include_drafts=True).items)

    assert "失业保险金发放信息" in mine("失业金")  # 失业金 → 失业保险金
    assert "失业保险金发放信息" not in mine("待遇")


def test_rebuild_restores_the_index(corpus: Corpus, reader: User) -> None:
    Resource.objects.update(search_text="")
    rebuild_search_index()
    assert found(reader, "社保") == set()
    assert rebuild_search_index(recompute=True) == Resource.objects.count()
    assert {q: found(reader, q) for q in ("社保", "企业", "险参")} == {
        q: EXPECTED[q] for q in ("社保", "企业", "险参")}
    r = corpus.resources["婚姻登记信息"]
    r.refresh_from_db()
    items = list(r.items.order_by("position").values_list("name", flat=True))
    assert r.search_text == build_search_text(r, items)


def test_a_deleted_resource_is_never_found(corpus: Corpus) -> None:
    hrss = testing.user(Role.PROVIDER, dept=corpus.depts["hrss"])
    draft = corpus.resources["社会保险待遇发放"]
    pk = draft.pk
    assert search_resources(user=hrss, q="草稿", filters={}, sort="", cursor=None, limit=5,
                            include_drafts=True).total == 1
    draft.delete()
    # The index row may stay behind (PostgreSQL keeps no foreign key so that test flushes work; SQLite's
    # cascade depends on the connection's foreign_keys pragma): an orphan row is never returned.
    assert pk is not None
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("INSERT INTO catalog_search_fts(catalog_search_fts) VALUES ('integrity-check')")
    result = search_resources(user=hrss, q="草稿", filters={}, sort="", cursor=None, limit=5, include_drafts=True)
    assert result.total == 0


# ---------------------------------------------------------------------------------------------
# API (mounted at /api/v1/catalog) and downloads
# ---------------------------------------------------------------------------------------------


def test_api_search(corpus: Corpus, reader: User) -> None:
    body = client_for(reader).get(URL, {"q": "社保", "limit": 1}).json()
    assert body["total"] == 2 and len(body["items"]) == 1 and body["next_cursor"]
    assert set(body["facets"]) == {"category", "classification", "provider", "share_type", "open_type",
                                   "update_cycle", "format", "sensitivity"}
    assert body["facets"]["share_type"]["label"] == "共享类型"
    item = body["items"][0]
    assert set(item) == {"id", "code", "name", "summary", "provider", "category", "classification_code",
                         "share_type", "open_type", "update_cycle", "sensitivity", "formats", "published_on",
                         "status"}
    nxt = client_for(reader).get(URL, {"q": "社保", "limit": 1, "cursor": body["next_cursor"]}).json()
    assert {body["items"][0]["name"], nxt["items"][0]["name"]} == INSURED and nxt["next_cursor"] is None


def test_api_filters_repeat_or_use_commas(corpus: Corpus, reader: User) -> None:
    c = client_for(reader)
    a = c.get(f"{URL}?update_cycle=daily&update_cycle=realtime&format=api").json()
    b = c.get(URL, {"update_cycle": "daily,realtime", "format": "api"}).json()
    assert {i["name"] for i in a["items"]} == {i["name"] for i in b["items"]} == {
        "企业登记信息", "法人基本信息", "社会保险参保信息"}


def test_api_summary_is_truncated(corpus: Corpus, reader: User) -> None:
    testing.resource(corpus.depts["civil"], name="殡葬服务信息", classification_code="202002",
                     summary="殡葬" * 200, publish_by=corpus.office)
    item = client_for(reader).get(URL, {"q": "殡葬"}).json()["items"][0]
    assert len(item["summary"]) <= 120 and item["summary"].endswith("…")


@pytest.mark.parametrize(("params", "field_name"), [
    ({"share_type": "everything"}, "share_type"), ({"provider": "x"}, "provider"),
    ({"classification": "9"}, "classification"), ({"sensitivity": "5"}, "sensitivity"),
    ({"sort": "random"}, "sort"), ({"limit": "0"}, "limit"), ({"limit": "abc"}, "limit"),
    ({"cursor": "garbage"}, "cursor"),
])
def test_api_bad_parameters_answer_422_naming_the_field(corpus: Corpus, reader: User, params: dict[str, str],
                                                       field_name: str) -> None:
    response = client_for(reader).get(URL, params)
    assert response.status_code == 422
    body = response.json()
    assert body["ok"] is False and body["error"]["code"] == "validation_failed"
    assert body["error"]["details"]["field"] == field_name


def test_api_hostile_queries_answer_200(corpus: Corpus, reader: User) -> None:
    c = client_for(reader)
    for q in HOSTILE[:20]:
        response = c.get(URL, {"q": q})
        assert response.status_code == 200, q
        assert response.json()["total"] < len(ALL)


def test_api_requires_sign_in(corpus: Corpus) -> None:
    assert client_for(None).get(URL, {"q": "社保"}).status_code == 401
    assert client_for(None).get(f"{URL}.csv").status_code == 401


def test_csv_download_neutralises_formulas(corpus: Corpus, reader: User) -> None:
    testing.resource(corpus.depts["civil"], name="=HYPERLINK(\"http://x\") 殡葬登记", classification_code="202002",
                     summary="-1+2 殡葬摘要", publish_by=corpus.office, tags=["@tag"])
    response = client_for(reader).get(f"{URL}.csv", {"q": "殡葬"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["信息资源代码", "信息资源名称", "摘要"]
    assert len(rows) == 2
    assert rows[1][1] == "'=HYPERLINK(\"http://x\") 殡葬登记"
    assert rows[1][2] == "'-1+2 殡葬摘要"
    assert rows[1][6] == "有条件共享"
    for row in rows[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)


def test_csv_download_follows_filters_and_sort(corpus: Corpus, reader: User) -> None:
    text = client_for(reader).get(f"{URL}.csv", {"format": "database", "sort": "code"}).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert len(rows) == 7 and [r[0] for r in rows] == sorted(r[0] for r in rows)


def test_json_download(corpus: Corpus, reader: User) -> None:
    response = client_for(reader).get(f"{URL}.json", {"q": "企业"})
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    body = json.loads(response.content)
    assert {i["name"] for i in body["items"]} == LEGAL and body["truncated"] is False
