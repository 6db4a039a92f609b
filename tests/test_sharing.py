"""Sharing (issue 12.2): link previews (Open Graph, Twitter card, meta description) on every public
page, the share picture drawn with the PDF's count, plain share links with no third-party script."""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from tests.conftest import wait_jobs
from tests.flows import confirm_link, post_form, valid_form
from tests.htmltree import parse
from tests.staff_helpers import make_staff

TITLE = "Innovation investments in interregional value chains"


def meta(html: str) -> dict[str, str]:
    tags = {}
    for el in parse(html).find_all("meta"):
        key = el.get("property") or el.get("name")
        if key:
            tags[key] = el.get("content") or ""
    for el in parse(html).find_all("link"):
        if el.get("rel") == "canonical":
            tags["canonical"] = el.get("href") or ""
    return tags


def png_of(client, url: str) -> tuple[bytes, object]:
    response = client.get(urlsplit(url).path)
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    return response.data, response


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/statements/{slug}",
        "/statements/{slug}/signatories",
        "/statements/{slug}/sign",
        "/statements/{slug}/versions",
    ],
)
def test_public_pages_describe_themselves_to_link_previews(client, seeded, path):
    url = path.format(slug=seeded)
    tags = meta(client.get(url).get_data(as_text=True))
    assert tags["description"].strip()
    assert TITLE in tags["og:title"] and TITLE in tags["twitter:title"]
    assert tags["og:description"] == tags["description"]
    assert tags["og:url"] == tags["canonical"] and tags["og:url"].endswith(url)
    assert tags["og:image"].endswith(f"/statements/{seeded}/share.png")
    assert TITLE in tags["og:image:alt"]
    assert tags["twitter:card"] == "summary_large_image"
    assert (tags["og:image:width"], tags["og:image:height"]) == ("1200", "630")


def test_pages_with_a_token_and_the_console_carry_no_previews(app, client, seeded):
    post_form(client, seeded, valid_form(email="preview@tags.example"))
    confirm_page = client.get(confirm_link(app, "preview@tags.example")).get_data(as_text=True)
    tags = meta(confirm_page)
    assert "og:url" not in tags and "canonical" not in tags
    assert "/confirm/" not in confirm_page.split("</head>")[0]
    make_staff(app, "staff@tags.example")
    assert "og:url" not in meta(client.get("/staff/login").get_data(as_text=True))


def test_share_picture_is_a_1200_by_630_png_with_the_pdf_count(app, client, runner, seeded):
    tags = meta(client.get(f"/statements/{seeded}").get_data(as_text=True))
    before, response = png_of(client, tags["og:image"])
    image = Image.open(io.BytesIO(before))
    assert image.format == "PNG" and image.size == (1200, 630)
    assert response.headers["ETag"] and response.headers["Cache-Control"].startswith("public")
    assert (
        client.get(
            f"/statements/{seeded}/share.png", headers={"If-None-Match": response.headers["ETag"]}
        ).status_code
        == 304
    )

    # An approval alone changes nothing until the PDF says so: the picture shows the PDF's count.
    from tests.flows import sign_confirm_approve

    sign_confirm_approve(
        app, client, seeded, email="share@count.example", organisation_name="Share Count Cluster"
    )
    wait_jobs(app)
    assert runner.invoke(args=["pdf", "rebuild", seeded]).exit_code == 0
    after, _ = png_of(client, tags["og:image"])
    assert after != before
    assert Image.open(io.BytesIO(after)).size == (1200, 630)
    assert client.get("/statements/nope/share.png").status_code == 404


def test_share_links_are_plain_links_to_each_network(client, seeded):
    html = client.get(f"/statements/{seeded}").get_data(as_text=True)
    section = parse(html).find("section", class_="share")
    hrefs = {a.text.strip(): a.get("href") for a in section.find_all("a")}
    statement_url = meta(html)["canonical"]
    assert set(hrefs) == {"LinkedIn", "Bluesky", "Mastodon", "X", "Email"}
    assert parse_qs(urlsplit(hrefs["LinkedIn"]).query)["url"] == [statement_url]
    assert urlsplit(hrefs["LinkedIn"]).netloc == "www.linkedin.com"
    assert statement_url in parse_qs(urlsplit(hrefs["Bluesky"]).query)["text"][0]
    assert parse_qs(urlsplit(hrefs["X"]).query)["url"] == [statement_url]
    assert hrefs["Email"].startswith("mailto:?subject=")
    assert hrefs["Mastodon"] == f"/statements/{seeded}/share/mastodon"
    assert section.find("input", class_="share-url").get("value") == statement_url
    # No third-party script or tracker: every script the page loads is the site's own.
    assert not re.search(r"<script[^>]+src=\"https?://", html)


def test_mastodon_asks_for_the_server_and_never_redirects(client, seeded):
    base = f"/statements/{seeded}/share/mastodon"
    ask = client.get(base)
    assert ask.status_code == 200 and 'name="instance"' in ask.get_data(as_text=True)
    for typed, host in (
        ("mastodon.social", "mastodon.social"),
        ("https://EUpolicy.social/@someone", "eupolicy.social"),
    ):
        page = client.get(base, query_string={"instance": typed})
        assert page.status_code == 200 and "Location" not in page.headers
        link = re.search(r'href="(https://[^"]+/share\?[^"]+)"', page.get_data(as_text=True)).group(
            1
        )
        assert urlsplit(link.replace("&amp;", "&")).netloc == host
    for bad in ("not a host", "javascript:alert(1)", "a" * 400, "évil..example"):
        page = client.get(base, query_string={"instance": bad})
        assert page.status_code == 400
        assert "Write the address of your Mastodon server" in page.get_data(as_text=True)
        assert "/share?text=" not in page.get_data(as_text=True)


def test_mastodon_page_is_accessible(browser, live_url):
    from tests.test_accessibility import audit

    assert audit(browser, f"{live_url}/share/mastodon") == []
    assert audit(browser, f"{live_url}/share/mastodon?instance=bad%20host") == []
    assert audit(browser, f"{live_url}/share/mastodon?instance=mastodon.social") == []
