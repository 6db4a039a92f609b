"""The files crawlers ask every site for: robots.txt, sitemap.xml (favicon.ico: identity/views.py)."""

from __future__ import annotations

from xml.sax.saxutils import escape

from flask import Response, current_app, url_for

from ..core.caching import etag_for, public_page
from ..core.i18n import available_languages
from . import bp
from .service import all_statements


def _absolute(path: str) -> str:
    return current_app.config["PUBLIC_BASE_URL"] + path


def private_prefixes() -> list[str]:
    """Where crawlers have no business: the staff console, and every route that takes an
    emailed token (a crawler that found such a link must not even open it). From the URL map,
    so that a new token route is covered without anyone remembering this file."""
    prefixes = set()
    for rule in current_app.url_map.iter_rules():
        if rule.rule.startswith("/staff"):
            prefixes.add("/staff/")
        elif "token" in rule.arguments:
            prefixes.add(rule.rule.split("<", 1)[0])
    # The same pages under each language's prefix (/de/confirm/…).
    prefixes |= {f"/{lang}{prefix}" for lang in available_languages() for prefix in set(prefixes)}
    return sorted(prefixes)


@bp.get("/robots.txt")
def robots_txt():
    lines = ["User-agent: *", *(f"Disallow: {prefix}" for prefix in private_prefixes())]
    lines += ["Allow: /", "", f"Sitemap: {_absolute(url_for('statements.sitemap_xml'))}", ""]
    body = "\n".join(lines)
    return public_page(etag_for("robots", body), lambda: Response(body, mimetype="text/plain"))


def sitemap_paths() -> list[str]:
    """The public pages: the home page, privacy, and each statement's page, list and versions."""
    paths = [url_for("statements.index"), url_for("statements.privacy")]
    for statement in all_statements():
        paths += [
            url_for("statements.statement", slug=statement.slug),
            url_for("signatories.signatory_list", slug=statement.slug),
            url_for("pdf.pdf_versions", slug=statement.slug),
        ]
    return paths


@bp.get("/sitemap.xml")
def sitemap_xml():
    """Each public page, in each language (its prefixed URL), with the others as alternates."""
    languages = available_languages()
    paths = sitemap_paths()

    def alternates(path: str) -> str:
        links = [
            f'<xhtml:link rel="alternate" hreflang="{lang}" '
            f'href="{escape(_absolute(f"/{lang}{path}"))}"/>'
            for lang in languages
        ]
        links.append(
            f'<xhtml:link rel="alternate" hreflang="x-default" href="{escape(_absolute(path))}"/>'
        )
        return "".join(links)

    def render() -> Response:
        entries = "".join(
            f"  <url><loc>{escape(_absolute(location))}</loc>{alternates(path)}</url>\n"
            for path in paths
            for location in (path, *(f"/{lang}{path}" for lang in languages))
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:xhtml="http://www.w3.org/1999/xhtml">\n'
            f"{entries}</urlset>\n"
        )
        return Response(body, mimetype="application/xml")

    return public_page(etag_for("sitemap", *paths), render)
