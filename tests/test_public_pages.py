"""Public pages: the statement, the signatory list, open data, privacy, health, headers, every route."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from petition.core import events
from petition.extensions import db
from petition.models import SiteText, Statement, utcnow
from petition.seed import DEFAULT_STATEMENT
from petition.signatories.service import OPEN_DATA_FIELDS
from petition.statements.service import load_statement
from tests.conftest import free_port
from tests.flows import import_approved, read_csv, sign_confirm_approve
from tests.htmltree import parse


@pytest.fixture(autouse=True)
def _no_pdf_rebuilds():
    """These tests look at the HTML and open data; muting the PDF rebuild keeps them fast."""
    with events.list_changed.muted():
        yield


FOUNDING = [
    "Vanguard Initiative",
    "European Clusters Alliance",
    "EuroTech Universities Alliance",
    "UAS4Europe",
]

# Approved signatories for the list tests, next to the four founding networks (all BE).
ROWS = [
    {"organisation_name": "Łódzkie Region", "organisation_type": "region", "country": "PL", "city": "Łódź"},
    {"organisation_name": "Région Grand Est", "organisation_type": "region", "country": "FR", "city": "Strasbourg"},
    {"organisation_name": "Aragón Regional Government", "organisation_type": "region", "country": "ES", "city": "Zaragoza"},
    {"organisation_name": "Zebra Cluster", "organisation_type": "cluster", "country": "DE", "city": "Berlin"},
    {"organisation_name": "Ąbc Cluster Polska", "organisation_type": "cluster", "country": "PL", "city": "Kraków"},
    {"organisation_name": "Bcd Cluster Polska", "organisation_type": "cluster", "country": "PL", "city": "Gdańsk"},
]  # fmt: skip

# Type order, then country name, then name with accents folded.
PUBLIC_ORDER = [
    "Région Grand Est",  # region · France
    "Łódzkie Region",  # region · Poland
    "Aragón Regional Government",  # region · Spain
    "Zebra Cluster",  # cluster · Germany
    "Ąbc Cluster Polska",  # cluster · Poland, "abc…"
    "Bcd Cluster Polska",  # cluster · Poland, "bcd…"
    "European Clusters Alliance",  # network · Belgium
    "EuroTech Universities Alliance",
    "UAS4Europe",
    "Vanguard Initiative",
]


@pytest.fixture
def listed(app, seeded):
    import_approved(app, seeded, ROWS)
    return seeded


def names_on(response) -> list[str]:
    assert response.status_code == 200
    return [span.text for span in parse(response.text).find_all("span", class_="org-name")]


def group_headings(response) -> list[str]:
    return [h.text for h in parse(response.text).find_all("h2", class_="group-heading")]


def body_blocks() -> list[str]:
    """The statement's Markdown body as blocks (paragraphs, headings, the quote)."""
    text = DEFAULT_STATEMENT.read_text(encoding="utf-8").split("\n---\n", 1)[1]
    return [block.strip() for block in text.split("\n\n") if block.strip()]


# ---------------------------------------------------------------- the statement page


def test_statement_page_shows_the_body_verbatim(client, seeded):
    page = client.get(f"/statements/{seeded}")
    assert page.status_code == 200
    prose = page.text[page.text.index('<div class="prose">') :]
    blocks = body_blocks()
    assert len(blocks) == 8
    for block in blocks:
        if block.startswith("## "):
            assert f"<h2>{html.escape(block[3:], quote=False)}</h2>" in prose, block
        elif block.startswith("> "):
            assert (
                f"<blockquote>\n<p>{html.escape(block[2:], quote=False)}</p>\n</blockquote>"
                in prose
            )
        else:
            assert f"<p>{html.escape(block, quote=False)}</p>" in prose, block[:60]
    # A few sentences spelled out, typos of the published text included.
    for sentence in (
        "European Regions, clusters, RTOs and other innovation stakeholders jointly call on the "
        "EU institutions to use the Interregional innovation Investment instrument to unleash the "
        "innovation potential available in Europe’s regions.",
        "This new instrument, proposed by the European and supported by the European Parliament "
        "and Council, entails a coordinated approach",
        "<blockquote>\n<p>“Policies to restart the single market and preserving the integrity of "
        "supply chains, which demonstrate the interdependence of our economies, are also a "
        "priority” – Eurogroup, May ‘20</p>\n</blockquote>",
        "is being labeled as a main priority by the Eurogroup",
        "RTOs, universities, industry, small and big companies, start-ups, hospitals, publics "
        "authorities, fablabs, developers and cluster organisations play their part",
        "<h2>Value chains – main priority</h2>",
    ):
        assert sentence in prose, sentence[:50]


def test_statement_page_furniture(client, seeded):
    page = client.get(f"/statements/{seeded}")
    text = page.text
    tree = parse(text)
    assert tree.find("html").get("lang") == "en"
    assert (
        tree.by_id("statement-title").text == "Innovation investments in interregional value chains"
    )
    assert (
        tree.find("p", class_="subtitle").text
        == "Joint statement on EU Interregional Innovation Investments towards EU economic recovery"
    )
    assert (
        "<title>Innovation investments in interregional value chains — Joint statement on EU"
        in text
    )
    assert 'published <time datetime="2020-05-26">26 May 2020</time>' in text
    assert (
        tree.find("p", class_="initiators").normalised_text
        == "An initiative of Vanguard Initiative, European Clusters Alliance, EuroTech "
        "Universities Alliance, UAS4Europe."
    )
    initiators_panel = next(
        s for s in tree.find_all("section") if s.find("h2") and s.find("h2").text == "Initiators"
    )
    assert [s.text for s in initiators_panel.find_all("span", class_="org-name")] == FOUNDING
    count = tree.find("p", class_="count")
    assert count.normalised_text == "4 organisations have endorsed this statement"
    sign = tree.find("a", href=f"/statements/{seeded}/sign")
    assert sign is not None and sign.text == "Sign the statement"
    assert "Text version 1 · SHA-256" in text


def test_statement_page_campaign_updates(client, seeded):
    tree = parse(client.get(f"/statements/{seeded}").text)
    updates = tree.find("section", class_="updates")
    titles = [h.text for h in updates.find_all("h3")]
    assert titles == [
        "Read more: recovery",
        # (the source has a no-break space after the colon)
        "Download and share:\u00a0Joint-Statement-on-EU-Interregional-Innovation-Investments-Towards-EU-Economic-Recovery",
        "Next Generation EU Budget",
        "Green Deal & Digitalization",
        "Synergy Days 2023",
    ]
    text = updates.normalised_text
    assert "The budget earmarks €94.4 billion for Horizon Europe" in text
    assert "– Frans Timmermans, Executive Vice-President for the European Green Deal" in text
    # The last item is cut off in the source: kept as a draft, never shown.
    page = client.get(f"/statements/{seeded}").text
    assert "3DP Business Innovators Meeting" not in page
    assert "We are very pleased to inform you" not in page
    kinds = [a.get("class") for a in updates.find_all("article")]
    assert kinds[3] == "update update-quote" and kinds[4] == "update update-event"


def test_latest_signatories_and_count_follow_approvals(app, client, listed):
    tree = parse(client.get(f"/statements/{listed}").text)
    assert tree.find("p", class_="count").normalised_text.startswith("10 organisations")
    latest = next(
        s
        for s in tree.find_all("section")
        if s.find("h2") and s.find("h2").text == "Latest signatories"
    )
    names = [s.text for s in latest.find_all("span", class_="org-name")]
    # Newest first; the initiators have their own box.
    assert names == [row["organisation_name"] for row in reversed(ROWS)]
    assert "See all 10 signatories" in latest.text


def test_index_with_one_statement_is_its_page_and_with_two_a_list(app, client, seeded):
    assert "Innovation investments in interregional value chains" in client.get("/").text
    assert 'id="statement-title"' in client.get("/").text
    with app.app_context():
        load_statement("---\nslug: second\ntitle: Ein zweiter Aufruf\nlanguage: de\n---\n\nText.\n")
    index = client.get("/")
    assert 'id="statement-title"' not in index.text
    links = {a.get("href") for a in parse(index.text).find_all("a")}
    assert {f"/statements/{seeded}", "/statements/second"} <= links
    assert parse(client.get("/statements/second").text).find("html").get("lang") == "de"


def test_markdown_is_sanitised(app, client, seeded):
    hostile = (
        "---\nslug: hostile\ntitle: Hostile <b>title</b>\nsubtitle: <script>alert(0)</script>\n"
        "---\n\n"
        "# Heading\n\n"
        "<script>alert(1)</script>\n\n"
        'Text <img src=x onerror=alert(2)> and <a href="javascript:alert(3)">raw link</a>.\n\n'
        "[click](javascript:alert(4)) [also](JaVaScRiPt:alert(5)) [data](data:text/html,x) "
        '![img](javascript:alert(6)) <iframe src="https://evil.example"></iframe>\n\n'
        '<div onclick="alert(7)">div</div> [fine](https://example.org/ok)\n'
    )
    with app.app_context():
        load_statement(hostile)
    page = client.get("/statements/hostile")
    assert page.status_code == 200
    text = page.text
    tree = parse(text)
    # No active content anywhere on the page: no script, frame or image elements, no event
    # handler attributes, no links other than http(s)/mailto and the page's own.
    assert not tree.find_all("script") and not tree.find_all("iframe") and not tree.find_all("img")
    for element in tree.iter():
        for name, value in element.attrs.items():
            assert not name.startswith("on"), (element.tag, name)
            if name in ("href", "src", "action"):
                assert re.match(r"^(https?:|mailto:|/|#)", value or ""), (element.tag, value)
    prose = tree.find("div", class_="prose")
    allowed = {"p", "h2", "a", "em", "strong", "blockquote", "code", "br"}
    assert {el.tag for el in prose.iter()} <= allowed
    # What was refused stays readable as text.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "[click](javascript:alert(4))" in prose.text
    assert "Hostile &lt;b&gt;title&lt;/b&gt;" in text
    assert '<a href="https://example.org/ok" rel="noopener noreferrer nofollow">fine</a>' in text
    # The page owns the h1; a '#' in the body becomes h2.
    assert [h.get("id") for h in tree.find_all("h1")] == ["statement-title"]
    assert "<h2>Heading</h2>" in text


# ---------------------------------------------------------------- the signatory list


def test_list_order_and_grouping_by_type(client, listed):
    response = client.get(f"/statements/{listed}/signatories")
    assert names_on(response) == PUBLIC_ORDER
    assert group_headings(response) == [
        "Regions",
        "Cluster organisations",
        "Networks and associations",
    ]
    assert "10 signatories." in response.text


def test_sort_options(client, listed):
    url = f"/statements/{listed}/signatories"
    by_country = client.get(url, query_string={"sort": "country"})
    assert names_on(by_country) == [
        "European Clusters Alliance",
        "EuroTech Universities Alliance",
        "UAS4Europe",
        "Vanguard Initiative",
        "Région Grand Est",
        "Zebra Cluster",
        "Ąbc Cluster Polska",
        "Bcd Cluster Polska",
        "Łódzkie Region",
        "Aragón Regional Government",
    ]
    assert group_headings(by_country) == ["Belgium", "France", "Germany", "Poland", "Spain"]
    by_name = client.get(url, query_string={"sort": "name"})
    assert names_on(by_name) == [
        "Ąbc Cluster Polska",
        "Aragón Regional Government",
        "Bcd Cluster Polska",
        "European Clusters Alliance",
        "EuroTech Universities Alliance",
        "Łódzkie Region",
        "Région Grand Est",
        "UAS4Europe",
        "Vanguard Initiative",
        "Zebra Cluster",
    ]
    assert group_headings(by_name) == []
    recent = client.get(url, query_string={"sort": "recent"})
    assert names_on(recent) == [r["organisation_name"] for r in reversed(ROWS)] + list(
        reversed(FOUNDING)
    )
    assert group_headings(recent) == []
    # The chosen order is shown as selected.
    assert "selected" in parse(by_name.text).find("option", value="name").attrs


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "lodz"}, ["Łódzkie Region"]),
        ({"q": "ŁÓDZKIE"}, ["Łódzkie Region"]),
        ({"q": "region grand"}, ["Région Grand Est"]),
        ({"q": "aragon"}, ["Aragón Regional Government"]),
        ({"q": "abc"}, ["Ąbc Cluster Polska"]),
        ({"q": "zaragoza"}, ["Aragón Regional Government"]),  # by city
        ({"q": "BRUSSELS"}, PUBLIC_ORDER[6:]),
        ({"q": "%"}, []),
        ({"country": "PL"}, ["Łódzkie Region", "Ąbc Cluster Polska", "Bcd Cluster Polska"]),
        ({"country": "pl"}, ["Łódzkie Region", "Ąbc Cluster Polska", "Bcd Cluster Polska"]),
        ({"type": "cluster"}, ["Zebra Cluster", "Ąbc Cluster Polska", "Bcd Cluster Polska"]),
        ({"type": "cluster", "country": "PL"}, ["Ąbc Cluster Polska", "Bcd Cluster Polska"]),
        (
            {"q": "cluster", "country": "PL", "sort": "name"},
            ["Ąbc Cluster Polska", "Bcd Cluster Polska"],
        ),
        ({"type": "university"}, []),
    ],
)
def test_search_and_filters(client, listed, query, expected):
    response = client.get(f"/statements/{listed}/signatories", query_string=query)
    assert names_on(response) == expected
    noun = "signatory" if len(expected) == 1 else "signatories"
    assert f"{len(expected)} {noun} match." in response.text
    if not expected:
        assert "No signatory matches." in response.text


def test_filter_choices_show_counts(client, listed):
    tree = parse(client.get(f"/statements/{listed}/signatories").text)
    countries = [o.normalised_text for o in tree.by_id("country").find_all("option")]
    assert countries == [
        "All countries",
        "Belgium (4)",
        "France (1)",
        "Germany (1)",
        "Poland (3)",
        "Spain (1)",
    ]
    types = [o.normalised_text for o in tree.by_id("type").find_all("option")]
    assert types == [
        "All types",
        "Regions (3)",
        "Cluster organisations (3)",
        "Networks and associations (4)",
    ]


@pytest.mark.config(SIGNATORIES_PER_PAGE=4)
def test_pagination(client, listed):
    url = f"/statements/{listed}/signatories"
    pages = [client.get(url, query_string={"page": n}) for n in (1, 2, 3)]
    seen = [names_on(p) for p in pages]
    assert seen == [PUBLIC_ORDER[:4], PUBLIC_ORDER[4:8], PUBLIC_ORDER[8:]]
    assert "Page 2 of 3" in pages[1].text
    nav = parse(pages[1].text).find("nav", class_="pagination")
    assert nav.find("a", rel="prev").get("href") == f"{url}?page=1"
    assert nav.find("a", rel="next").get("href") == f"{url}?page=3"
    assert parse(pages[0].text).find("a", rel="prev") is None
    assert parse(pages[2].text).find("a", rel="next") is None
    # A group continuing on the next page gets its heading again.
    assert group_headings(pages[1]) == ["Cluster organisations", "Networks and associations"]
    # Out-of-range pages show the nearest real page.
    assert names_on(client.get(url, query_string={"page": 99})) == PUBLIC_ORDER[8:]
    assert names_on(client.get(url, query_string={"page": -3})) == PUBLIC_ORDER[:4]
    # Filters and order are kept by the page links.
    filtered = client.get(url, query_string={"sort": "name", "q": "a", "page": 1})
    next_href = parse(filtered.text).find("a", rel="next").get("href")
    assert "sort=name" in next_href and "q=a" in next_href and "page=2" in next_href


# ---------------------------------------------------------------- open data


def test_json_open_data_format(app, client, listed):
    response = client.get(f"/statements/{listed}/signatories.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert set(data) == {"statement", "count", "updated_at", "signatories"}
    with app.app_context():
        statement = db.session.scalar(select(Statement).where(Statement.slug == listed))
        sha = statement.current_version.sha256
    assert data["statement"] == {
        "slug": listed,
        "title": "Innovation investments in interregional value chains",
        "version_sha256": sha,
    }
    assert len(sha) == 64
    assert data["count"] == 10 == len(data["signatories"])
    assert [s["organisation_name"] for s in data["signatories"]] == PUBLIC_ORDER
    for row in data["signatories"]:
        assert set(row) == set(OPEN_DATA_FIELDS)
    lodz = data["signatories"][1]
    assert {k: v for k, v in lodz.items() if k != "approved_at"} == {
        "organisation_name": "Łódzkie Region",
        "organisation_type": "region",
        "organisation_type_label": "Regions",
        "country": "PL",
        "country_name": "Poland",
        "city": "Łódź",
        "website": "",
        "comment": "",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", lodz["approved_at"])
    assert data["updated_at"] == max(s["approved_at"] for s in data["signatories"])
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_json_etag_and_conditional_get(app, client, listed):
    url = f"/statements/{listed}/signatories.json"
    first = client.get(url)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag
    # Proxies that compress turn ETags weak; If-None-Match compares weakly (RFC 9110 13.1.2).
    assert client.get(url, headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert client.get(url, headers={"If-None-Match": f'"other", {etag}'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    # The same validator serves the CSV (same list).
    assert (
        client.get(url.replace(".json", ".csv"), headers={"If-None-Match": etag}).status_code == 304
    )

    import_approved(
        app, listed, [{"organisation_name": "New Org", "organisation_type": "sme", "country": "IT"}]
    )
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.get_json()["count"] == 11


def test_csv_open_data(app, client, listed):
    import_approved(
        app,
        listed,
        [
            {
                "organisation_name": '=HYPERLINK("http://evil.example","click")',
                "organisation_type": "company",
                "country": "IT",
                "city": "+39 Milano",
                "comment": "@everyone -1 is fine",
            },
            {
                "organisation_name": 'Comma, Quote " Org',
                "organisation_type": "company",
                "country": "IT",
                "city": "-Roma",
            },
        ],
    )
    response = client.get(f"/statements/{listed}/signatories.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["Content-Disposition"]
        == f'attachment; filename="signatories-{listed}.csv"'
    )
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())  # a BOM, so spreadsheets read it as UTF-8
    lines = raw.decode("utf-8-sig").split("\r\n")
    assert lines[0] == ",".join(OPEN_DATA_FIELDS)
    rows = read_csv(raw)
    assert len(rows) == 12
    json_rows = client.get(f"/statements/{listed}/signatories.json").get_json()["signatories"]
    by_name = {r["organisation_name"]: r for r in rows}
    evil = by_name['\'=HYPERLINK("http://evil.example","click")']
    assert evil["city"] == "'+39 Milano"
    assert evil["comment"] == "'@everyone -1 is fine"
    assert by_name['Comma, Quote " Org']["city"] == "'-Roma"
    assert by_name["Łódzkie Region"]["city"] == "Łódź"
    # Same rows and order as the JSON, apart from the apostrophes.
    assert [r["organisation_name"].removeprefix("'") for r in rows] == [
        r["organisation_name"] for r in json_rows
    ]


def test_contact_details_are_never_public(app, client, seeded):
    secret_name = "Zbigniew Kontaktowy-Ukryty"
    secret_role = "Pełnomocnik Tajny Qwerty"
    secret_email = "hidden.contact.xyzzy@lodzkie.pl"
    sign_confirm_approve(
        app,
        client,
        seeded,
        contact_name=secret_name,
        contact_role=secret_role,
        email=secret_email,
        comment="Public words only",
    )
    import_approved(
        app,
        seeded,
        [
            {
                "organisation_name": "Imported Org",
                "organisation_type": "ngo",
                "country": "SE",
                "email": "imported.secret.plugh@example.org",
                "contact_name": "Imported Secret Person",
                "note": "internal note frobozz",
            }
        ],
    )
    secrets = [
        secret_name,
        secret_role,
        secret_email,
        "hidden.contact.xyzzy",
        "imported.secret.plugh",
        "Imported Secret Person",
        "frobozz",
    ]
    urls = [
        "/",
        f"/statements/{seeded}",
        f"/statements/{seeded}/signatories",
        f"/statements/{seeded}/signatories?sort=recent",
        f"/statements/{seeded}/signatories?q=Zbigniew",
        f"/statements/{seeded}/signatories?q=hidden.contact",
        f"/statements/{seeded}/signatories.json",
        f"/statements/{seeded}/signatories.csv",
        "/privacy",
    ]
    published = client.get(f"/statements/{seeded}/signatories.json").get_json()
    assert {"Łódzkie Region", "Imported Org"} <= {
        s["organisation_name"] for s in published["signatories"]
    }
    for url in urls:
        body = client.get(url).get_data().decode("utf-8")
        for secret in secrets:
            assert secret not in body, (url, secret)
            assert html.escape(secret) not in body, (url, secret)
        assert "contact_name" not in body and "contact_role" not in body, url
    for url in urls[6:8]:
        body = client.get(url).get_data().decode("utf-8")
        assert '"email"' not in body and ",email" not in body and "@" not in body, url
    # Searching by a contact's name finds nothing.
    assert (
        "0 signatories match"
        in client.get(f"/statements/{seeded}/signatories", query_string={"q": "Zbigniew"}).text
    )


def _embargo(app, slug: str, until) -> None:
    with app.app_context():
        db.session.execute(
            update(Statement).where(Statement.slug == slug).values(list_public_from=until)
        )
        db.session.commit()


def test_embargo_hides_the_list_everywhere(app, client, listed):
    etag_before = client.get(f"/statements/{listed}/signatories.json").headers["ETag"]
    until = (utcnow() + timedelta(days=10)).replace(hour=12)
    _embargo(app, listed, until)
    statement = client.get(f"/statements/{listed}").text
    assert f"The list of signatories will be published on {until.day} {until:%B %Y}." in statement
    assert "organisations have endorsed" not in statement
    assert "Latest signatories" not in statement
    assert "Sign the statement" in statement  # signing continues during the embargo
    listing = client.get(f"/statements/{listed}/signatories").text
    assert "will be published on" in listing
    for url in (
        f"/statements/{listed}",
        f"/statements/{listed}/signatories",
        f"/statements/{listed}/signatories?q=lodz",
        f"/statements/{listed}/signatories.csv",
        f"/statements/{listed}/signatories.json",
    ):
        body = client.get(url).get_data().decode("utf-8")
        for row in ROWS:
            assert row["organisation_name"] not in body, (url, row["organisation_name"])
    data = client.get(f"/statements/{listed}/signatories.json")
    assert data.get_json()["count"] == 0 and data.get_json()["signatories"] == []
    assert data.get_json()["updated_at"] is None
    assert data.headers["ETag"] != etag_before
    assert read_csv(client.get(f"/statements/{listed}/signatories.csv").get_data()) == []

    _embargo(app, listed, utcnow() - timedelta(seconds=1))
    assert client.get(f"/statements/{listed}/signatories.json").get_json()["count"] == 10
    count = parse(client.get(f"/statements/{listed}").text).find("p", class_="count")
    assert count.normalised_text == "10 organisations have endorsed this statement"


# ---------------------------------------------------------------- privacy and health


@pytest.mark.config(TOKEN_MAX_AGE_DAYS=3)
def test_privacy_notice(app, client, seeded):
    page = client.get("/privacy")
    assert page.status_code == 200
    text = parse(page.text).find("main").normalised_text
    assert "The data controller is Interregional Innovation Investments joint statement" in text
    assert "What is published" in text and "What is kept but never published" in text
    assert "They are never shown on the public pages, in the open data or in the PDF." in text
    assert "A confirmation link is valid for 3 days." in text
    assert "Your rights" in text
    # Staff can replace it with their own Markdown, which is sanitised like the statement.
    with app.app_context():
        db.session.add(
            SiteText(key="privacy", body="## Our notice\n\n<script>alert(1)</script> Kept 5 years.")
        )
        db.session.commit()
    custom = client.get("/privacy").text
    assert "<h2>Our notice</h2>" in custom and "Kept 5 years." in custom
    assert "<script>alert(1)" not in custom


def test_privacy_notice_without_any_statement(client):
    assert "The data controller is the campaign" in client.get("/privacy").text


def test_healthz(app, client, seeded):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert data["status"] == "ok"
    assert data["database"] == "ok"
    assert data["queue"] == "in-process"
    assert set(data["pdf_age_seconds"]) == {seeded}


def test_healthz_reports_an_unreachable_queue(app, client):
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    data = response.get_json()
    assert data["status"] == "error"
    assert data["database"] == "ok"
    assert data["queue"].startswith("error: ")


# ---------------------------------------------------------------- headers and routes


def assert_security_headers(response, where: str) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, where
    assert "script-src 'self'" in csp and "object-src 'none'" in csp, where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") == "same-origin", where
    if response.mimetype == "text/html":
        assert headers.get("Cache-Control") == "no-store", where


def test_security_headers_on_public_responses(client, listed):
    json_url = f"/statements/{listed}/signatories.json"
    etag = client.get(json_url).headers["ETag"]
    responses = {
        "statement": client.get(f"/statements/{listed}"),
        "index": client.get("/"),
        "sign": client.get(f"/statements/{listed}/sign"),
        "list": client.get(f"/statements/{listed}/signatories"),
        "json": client.get(json_url),
        "json 304": client.get(json_url, headers={"If-None-Match": etag}),
        "csv": client.get(f"/statements/{listed}/signatories.csv"),
        "privacy": client.get("/privacy"),
        "healthz": client.get("/healthz"),
        "404": client.get("/no/such/page"),
        "405": client.post(f"/statements/{listed}"),
        "400": client.post(f"/statements/{listed}/sign", data={}),
        "static": client.get("/static/css/site.css"),
    }
    assert responses["json 304"].status_code == 304
    assert responses["400"].status_code == 400
    for where, response in responses.items():
        assert_security_headers(response, where)
        response.close()


def _bogus_values(rule) -> dict:
    from werkzeug.routing import AnyConverter, IntegerConverter, PathConverter

    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        elif isinstance(converter, IntegerConverter):
            values[name] = 987654
        elif isinstance(converter, PathConverter):
            values[name] = "no/such/file.txt"
        elif name == "token":
            values[name] = "bogus-token-that-is-long-enough-to-look-real-0123456789"
        else:
            values[name] = "no-such-" + name
    return values


def test_every_route_survives_bogus_arguments(app, client, seeded):
    """Walk the URL map: every route, unknown slugs, tokens and ids → a 4xx page, never a 5xx."""
    adapter = app.url_map.bind("localhost")
    checked = []
    for rule in app.url_map.iter_rules():
        values = _bogus_values(rule)
        path = adapter.build(rule.endpoint, values, force_external=False)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method)
            assert response.status_code < 500, (method, path, response.status_code)
            assert_security_headers(response, f"{method} {path}")
            response.close()
            checked.append((method, rule.rule))
        if "GET" in rule.methods and "slug" in rule.arguments and rule.endpoint != "static":
            # And with the real statement.
            real = adapter.build(rule.endpoint, {**values, "slug": seeded})
            response = client.get(real)
            assert response.status_code < 500, (real, response.status_code)
            response.close()
    paths = {rule for _m, rule in checked}
    assert {
        "/",
        "/statements/<slug>",
        "/statements/<slug>/sign",
        "/confirm/<token>",
        "/withdraw/<token>",
        "/statements/<slug>/signatories",
        "/statements/<slug>/signatories.json",
        "/statements/<slug>/signatories.csv",
        "/privacy",
        "/healthz",
    } <= paths


def test_unknown_statement_pages_are_404(client, seeded):
    for suffix in ("", "/signatories", "/signatories.json", "/signatories.csv", "/sign"):
        response = client.get(f"/statements/no-such-statement{suffix}")
        assert response.status_code == 404, suffix
    page = client.get("/statements/no-such-statement")
    assert "There is no statement at this address." in page.text
    data = client.get("/statements/no-such-statement/signatories.json")
    assert data.get_json() == {
        "error": "Page not found",
        "message": "There is no statement at this address.",
        "status": 404,
    }


@pytest.mark.parametrize(
    "path",
    [
        "/statements/%00",
        "/statements/a%00b/signatories",
        "/statements/%00/signatories.json",
        "/statements/%00/sign",
        "/statements/" + "a" * 5000,
        "/statements/%F0%9F%98%80/signatories.csv",
        "/statements/SLUG-IN-CAPITALS",
    ],
)
def test_junk_slugs_are_404_on_every_backend(client, seeded, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/statements/{slug}", {"GET", "HEAD", "OPTIONS"}),
        ("PUT", "/statements/{slug}/sign", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("DELETE", "/statements/{slug}/signatories", {"GET", "HEAD", "OPTIONS"}),
        ("POST", "/statements/{slug}/signatories.json", {"GET", "HEAD", "OPTIONS"}),
        ("PATCH", "/privacy", {"GET", "HEAD", "OPTIONS"}),
        ("POST", "/healthz", {"GET", "HEAD", "OPTIONS"}),
        (
            "DELETE",
            "/confirm/bogus-token-that-is-long-enough-0123456789",
            {"GET", "HEAD", "OPTIONS", "POST"},
        ),
    ],
)
def test_wrong_method_is_405(client, seeded, method, path, allowed):
    response = client.open(path.format(slug=seeded), method=method)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
    if path.endswith(".json") or path == "/healthz":
        assert response.get_json()["status"] == 405
    else:
        assert "Method not allowed" in response.text
