"""The statement page: the body verbatim, its furniture, campaign updates, the index."""

from __future__ import annotations

import html
import re

import pytest

from petition.seed import DEFAULT_STATEMENT
from petition.statements.service import load_statement
from tests.htmltree import parse
from tests.listing import FOUNDING, ROWS

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")


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
    # Only the items with substance: the source gives no link, so "Read more", "Download and
    # share" and the event's "Register" are drafts until staff add one (no dead ends).
    assert titles == [
        "Next Generation EU Budget",
        "Green Deal & Digitalization — Ursula von der Leyen",
        "Green Deal & Digitalization — Frans Timmermans",
        "Green Deal & Digitalization",
    ]
    text = updates.normalised_text
    assert "The budget earmarks €94.4 billion for Horizon Europe" in text
    # Each speaker's words are the quote, the speaker its attribution; the news that followed
    # the two quotes in the source is no quote.
    figures = updates.find_all("figure")
    quotes = [f.find("blockquote").normalised_text for f in figures]
    speakers = [f.find("figcaption").normalised_text for f in figures]
    assert speakers == [
        "— Ursula von der Leyen, European Commission President",
        "— Frans Timmermans, Executive Vice-President for the European Green Deal",
    ]
    assert quotes[0].startswith("“The European Green Deal") and quotes[0].endswith("facing.”")
    assert quotes[1].startswith("“We need to make sure") and quotes[1].endswith("this week.”")
    assert "Next Generation EU will have a budget of €750 billion" in text
    assert not any("€750 billion" in q or "Leyen" in q or "Timmermans" in q for q in quotes)
    # The last item is cut off in the source: kept as a draft, never shown.
    page = client.get(f"/statements/{seeded}").text
    for hidden in ("3DP Business Innovators Meeting", "We are very pleased", "Read more: recovery"):
        assert hidden not in page, hidden
    assert "Synergy Days 2023" not in page
    kinds = [a.get("class") for a in updates.find_all("article")]
    assert kinds == [
        "update update-news",
        "update update-quote",
        "update update-quote",
        "update update-news",
    ]


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
    page = parse(client.get("/statements/second").text)
    # The page is in the visitor's language; the statement's text says it is German.
    assert page.find("html").get("lang") == "en"
    assert page.find(id="statement-title").get("lang") == "de"


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
