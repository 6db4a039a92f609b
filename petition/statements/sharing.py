"""The picture a link to a statement shows when shared (Open Graph / Twitter card): 1200×630 PNG
with the campaign, the statement's title and the count of signatories.

The count is the latest PDF version's, so the picture is redrawn when the PDF is rebuilt and
says what the document says; before the first build, the list's own count. Drawn with Pillow in
the Noto Sans the PDF embeds (Latin with every diacritic, Greek, Cyrillic), kept like any public
page (ETag, shared caches, the per-process page cache)."""

from __future__ import annotations

import io
import re
from functools import cache
from pathlib import Path
from urllib.parse import quote, urlencode

from flask import Response, current_app, render_template, request, url_for
from flask_babel import format_number, ngettext
from flask_babel import gettext as _
from PIL import Image, ImageDraw, ImageFont

from ..core import identity
from ..core.caching import etag_for, public_page
from ..signatories import service as signatories
from . import bp
from .service import public_state, statement_or_404

WIDTH, HEIGHT = 1200, 630
MARGIN = 72
FONTS = Path(__file__).resolve().parent.parent / "pdf" / "layout" / "fonts"
BRAND, ACCENT, INK_ON_BRAND, MUTED_ON_BRAND = "#003d7a", "#ffcc00", "#ffffff", "#c9d8ea"


@cache
def _font(bold: bool, size: int) -> ImageFont.FreeTypeFont:
    name = "NotoSans-Bold.ttf" if bold else "NotoSans-Regular.ttf"
    return ImageFont.truetype(str(FONTS / name), size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=font) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def _fit_title(
    draw: ImageDraw.ImageDraw, title: str, width: int
) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest size at which the title takes at most four lines (cut with … below 40 px)."""
    for size in (68, 60, 54, 48, 44, 40):
        font = _font(True, size)
        lines = _wrap(draw, title, font, width)
        if len(lines) <= 4:
            return font, lines
    lines = lines[:4]
    while draw.textlength(lines[-1] + " …", font=font) > width and " " in lines[-1]:
        lines[-1] = lines[-1].rsplit(" ", 1)[0]
    lines[-1] += " …"
    return font, lines


def render_share_image(campaign_name: str, title: str, count: int | None, host: str) -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), BRAND)
    draw = ImageDraw.Draw(image)
    width = WIDTH - 2 * MARGIN
    draw.rectangle((0, HEIGHT - 16, WIDTH, HEIGHT), fill=ACCENT)
    campaign_font = _font(True, 28)
    campaign_lines = _wrap(draw, campaign_name.upper(), campaign_font, width)[:2]
    y = MARGIN - 8
    for line in campaign_lines:
        draw.text((MARGIN, y), line, font=campaign_font, fill=ACCENT)
        y += 38
    title_font, title_lines = _fit_title(draw, title, width)
    y += 24
    line_height = int(title_font.size * 1.18)
    for line in title_lines:
        draw.text((MARGIN, y), line, font=title_font, fill=INK_ON_BRAND)
        y += line_height
    if count is not None:
        number_font, words_font = _font(True, 64), _font(False, 32)
        number = format_number(count)
        words = ngettext(
            "organisation has endorsed this statement",
            "organisations have endorsed this statement",
            count,
        )
        base = HEIGHT - MARGIN - 40
        draw.text((MARGIN, base - 52), number, font=number_font, fill=INK_ON_BRAND)
        draw.text((MARGIN, base + 24), words, font=words_font, fill=MUTED_ON_BRAND)
    host_font = _font(False, 24)
    draw.text(
        (WIDTH - MARGIN - draw.textlength(host, font=host_font), HEIGHT - MARGIN - 8),
        host,
        font=host_font,
        fill=MUTED_ON_BRAND,
    )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def shared_count(statement) -> int | None:
    """The count the picture shows: the latest PDF's, else the list's; None while embargoed."""
    from ..pdf import builds

    if not statement.is_list_public():
        return None
    latest = builds.latest_version(statement)
    return latest.signatory_count if latest is not None else signatories.public_count(statement)


@bp.get("/statements/<slug>/share.png")
def share_image(slug: str):
    statement = statement_or_404(slug)
    count = shared_count(statement)
    etag = etag_for("share.png", public_state(statement), count)
    campaign = identity.current()
    host = current_app.config["PUBLIC_BASE_URL"].split("://", 1)[-1].rstrip("/")

    def render() -> Response:
        png = render_share_image(campaign.name, statement.title, count, host)
        return Response(png, mimetype="image/png")

    return public_page(etag, render)


def share_image_url(statement) -> str:
    return current_app.config["PUBLIC_BASE_URL"] + url_for(
        "statements.share_image", slug=statement.slug
    )


# ---------------------------------------------------------------- share links

#: A Mastodon server's host name as people type it ("mastodon.social", "eupolicy.social").
_HOST = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def share_links(statement) -> dict[str, str]:
    """Plain links to share a statement: each network's own share address, no script of theirs."""
    url = current_app.config["PUBLIC_BASE_URL"] + url_for(
        "statements.statement", slug=statement.slug
    )
    text = _(
        "“%(title)s”: organisations can endorse the joint statement here:", title=statement.title
    )
    return {
        "url": url,
        "linkedin": "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": url}),
        "bluesky": "https://bsky.app/intent/compose?" + urlencode({"text": f"{text} {url}"}),
        "x": "https://x.com/intent/post?" + urlencode({"text": text, "url": url}),
        "email": "mailto:?"
        + urlencode({"subject": statement.title, "body": f"{text}\n\n{url}"}, quote_via=quote),
        "mastodon": url_for("statements.share_mastodon", slug=statement.slug),
        "text": f"{text} {url}",
    }


@bp.get("/statements/<slug>/share/mastodon")
def share_mastodon(slug: str):
    """Mastodon has no one share address: the visitor names their server, and gets a link to
    its share page. A link they press, not a redirect, so this is no open redirect."""
    statement = statement_or_404(slug)
    links = share_links(statement)
    instance = (request.args.get("instance") or "").strip().lower()[:253]
    instance = instance.removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    target = error = None
    if instance:
        if _HOST.match(instance):
            target = f"https://{instance}/share?" + urlencode({"text": links["text"]})
        else:
            error = _("Write the address of your Mastodon server, for example mastodon.social.")

    def render():
        page = render_template(
            "public/share_mastodon.html",
            statement=statement,
            links=links,
            instance=instance,
            target=target,
            error=error,
        )
        return page, (400 if error else 200)

    # The same page for everyone who names the same server (the URL keys every cache).
    return public_page(etag_for("share-mastodon", public_state(statement), instance), render)
