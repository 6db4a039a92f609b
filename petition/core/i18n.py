"""Languages: which one a request is in, and the URLs of a page in the others.

A visitor's choice lives in the URL, never in a cookie: `/de/statements/…` is the German page,
and every link on it keeps the prefix (`LanguagePrefix` moves it into SCRIPT_NAME, so url_for
writes it). A URL without a prefix is in the language the browser asks for (Accept-Language):
the default language is served there, with `Vary: Accept-Language`; any other is a redirect
to its prefixed URL. Shared caches therefore never give one language to a visitor of another.

A language is a catalogue: petition/translations/<code>/LC_MESSAGES/messages.po (compiled to
.mo by `make translations`); English, the source, needs none.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterable
from functools import cache
from gettext import NullTranslations
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, Response, current_app, g, has_app_context, redirect, request
from flask_babel import get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header
from werkzeug.wrappers import Response as BaseResponse

#: Where request.environ says which language the request is in, and how that was chosen.
LANG_KEY = "jointly.lang"
SOURCE_KEY = "jointly.lang_source"
#: The language of the source strings (the templates and code are written in it).
SOURCE_LANGUAGE = "en"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"

#: Blueprints whose pages are for people reading in their language. The staff console, files
#: (PDF, open data, feeds, images) and health checks have one URL for everyone.
LOCALISED_BLUEPRINTS = frozenset({"statements", "signatories", "signing", "mailings"})
#: Pages of other blueprints.
LOCALISED_ENDPOINTS = frozenset({"pdf.pdf_versions"})
#: Endpoints of those blueprints that answer with data, not a page.
NOT_LOCALISED = frozenset(
    {
        "signatories.signatories_json",
        "signatories.signatories_csv",
        "signatories.signatories_atom",
        "signatories.updates_atom",
        "statements.count_json",
        "statements.share_image",
        "statements.robots_txt",
        "statements.sitemap_xml",
    }
)


def N_(text: str) -> str:
    """Mark `text` for the catalogues where it cannot be translated yet (a constant); the code
    that shows it passes it through gettext()."""
    return text


@cache
def available_languages() -> tuple[str, ...]:
    """English first, then every language with a catalogue, in code order."""
    found = (
        sorted(
            path.name
            for path in TRANSLATIONS.iterdir()
            if (path / "LC_MESSAGES" / "messages.po").is_file() and path.name != SOURCE_LANGUAGE
        )
        if TRANSLATIONS.is_dir()
        else []
    )
    return (SOURCE_LANGUAGE, *found)


@cache
def language_name(code: str) -> str:
    """The language's name in itself: 'Deutsch', 'Polski'."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def negotiate(accept_language: str | None, languages: Iterable[str]) -> str:
    """The best of `languages` for an Accept-Language header ('de-AT,de;q=0.9' → 'de');
    the source language when nothing matches."""
    accept = parse_accept_header(accept_language or "", LanguageAccept)
    return accept.best_match(list(languages), default=SOURCE_LANGUAGE) or SOURCE_LANGUAGE


class LanguagePrefix:
    """WSGI middleware: `/de/…` is `…` in German, with `/de` moved to SCRIPT_NAME."""

    def __init__(self, app: Callable, languages: Iterable[str]) -> None:
        self.app = app
        self.languages = frozenset(languages)

    def __call__(self, environ: dict, start_response: Callable):
        path = environ.get("PATH_INFO", "")
        first, _, rest = path.lstrip("/").partition("/")
        if first in self.languages and path.startswith(f"/{first}"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + f"/{first}"
            environ["PATH_INFO"] = f"/{rest}" if (rest or path.endswith("/")) else ""
            environ[LANG_KEY], environ[SOURCE_KEY] = first, "prefix"
            return self.app(environ, start_response)
        query_lang = _query_language(environ.get("QUERY_STRING", ""))
        if query_lang in self.languages:
            environ[LANG_KEY], environ[SOURCE_KEY] = query_lang, "query"
        else:
            environ[LANG_KEY] = negotiate(environ.get("HTTP_ACCEPT_LANGUAGE"), self.languages)
            environ[SOURCE_KEY] = "header"
        return self.app(environ, start_response)


def _query_language(query: str) -> str | None:
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "lang":
            return value.lower()
    return None


def compile_catalogues() -> None:
    """Each catalogue's .mo from its .po where missing or older (a fresh checkout holds only the
    .po files; `make translations` does the same). A read-only install must ship them compiled."""
    for po_path in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        partial = mo_path.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        partial.replace(mo_path)  # atomic: another process never reads half a file


def wrap_wsgi(app: Flask) -> None:
    compile_catalogues()
    # Flask's documented way to add WSGI middleware.
    app.wsgi_app = LanguagePrefix(app.wsgi_app, available_languages())  # type: ignore[method-assign]


def init_app(app: Flask) -> None:
    # Before the page cache's hook: the language is part of every page.
    app.before_request_funcs.setdefault(None, []).insert(0, _take_language)
    app.after_request(_vary_on_accept_language)
    app.jinja_env.globals.update(
        language_links=language_links,
        language_name=language_name,
        current_language=current_language,
        available_languages=available_languages,
        url_in=url_in,
        # The language being written: an email's (force_locale) rather than the page's.
        writing_language=writing_language,
    )


def current_language() -> str:
    return getattr(g, "lang", None) or request.environ.get(LANG_KEY) or SOURCE_LANGUAGE


def is_localised(endpoint: str | None) -> bool:
    if not endpoint or endpoint in NOT_LOCALISED:
        return False
    return endpoint in LOCALISED_ENDPOINTS or endpoint.partition(".")[0] in LOCALISED_BLUEPRINTS


def _take_language() -> BaseResponse | None:
    endpoint = request.endpoint
    localised = is_localised(endpoint)
    # The staff console and the files are in the source language; pages and errors are not.
    in_language = endpoint is None or localised
    g.lang = request.environ.get(LANG_KEY, SOURCE_LANGUAGE) if in_language else SOURCE_LANGUAGE
    if (
        localised
        and g.lang != SOURCE_LANGUAGE
        and request.environ.get(SOURCE_KEY) == "header"
        and request.method in ("GET", "HEAD")
    ):
        # The browser asks for a language this page has: its own URL, which caches may keep.
        # (Vary: Accept-Language is added to it as to every answer chosen by the header.)
        return redirect(url_in(g.lang), code=302)
    return None


def _vary_on_accept_language(response: Response) -> Response:
    endpoint = request.endpoint
    if request.environ.get(SOURCE_KEY) == "header" and (endpoint is None or is_localised(endpoint)):
        response.vary.add("Accept-Language")
    return response


def url_in(lang: str, *, external: bool = False) -> str:
    """This page's URL in `lang` (its query string kept, but for `lang`)."""
    query = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    url = f"/{lang}{request.path}" + (f"?{urlencode(query)}" if query else "")
    return current_app.config["PUBLIC_BASE_URL"] + url if external else url


def language_links() -> list[dict]:
    """The language switcher's and hreflang's entries for this page: one per language."""
    if not is_localised(request.endpoint) or (request.view_args or {}).get("token"):
        # A page reached by an emailed link keeps its language; its URL is the token's.
        return []
    current = current_language()
    return [
        {
            "code": code,
            "name": language_name(code),
            "url": url_in(code),
            "absolute": url_in(code, external=True),
            "current": code == current,
        }
        for code in available_languages()
    ]


def localised_path(lang: str | None, path: str) -> str:
    """A path of the site as someone reading `lang` should land on it (emailed links)."""
    if not lang or lang == SOURCE_LANGUAGE or lang not in available_languages():
        return path
    return f"/{lang}{path}"


def strip_language(url: str) -> str:
    """A URL url_for wrote inside a prefixed request, for an endpoint that has no language."""
    lang = request.environ.get(LANG_KEY) if request else None
    if request and request.environ.get(SOURCE_KEY) == "prefix" and lang:
        prefix = f"/{lang}"
        root = request.host_url.rstrip("/")
        if url.startswith(root + prefix + "/"):
            return root + url[len(root) + len(prefix) :]
        if url.startswith(prefix + "/"):
            return url[len(prefix) :]
    return url


# ---------------------------------------------------------------- countries and types


def country_name(code: str | None, lang: str | None = None) -> str:
    """A country's name in the page's language (CLDR, through Babel); the stored English name
    in English, as the open data and the PDF write it."""
    from .validation import country_display_name  # noqa: PLC0415 - validation imports models

    code = (code or "").upper()
    lang = lang or writing_language()
    if lang == SOURCE_LANGUAGE:
        return country_display_name(code)
    return _territories(lang).get(code) or country_display_name(code)


@cache
def _territories(lang: str) -> dict[str, str]:
    return dict(Locale.parse(lang).territories)


def type_label(value: str | None) -> str:
    """An organisation type's plural label in the page's language ('Universitäten')."""
    from flask_babel import gettext  # noqa: PLC0415

    from ..models import ORGANISATION_TYPE_LABELS, OrganisationType  # noqa: PLC0415

    try:
        return gettext(ORGANISATION_TYPE_LABELS[OrganisationType(value or "")])
    except ValueError:
        return str(value)


def localised_countries(rows: Iterable[tuple]) -> list[tuple]:
    """(code, name, *rest) rows with the name in the page's language, sorted by it."""
    from .validation import name_key  # noqa: PLC0415

    named = [(code, country_name(code), *rest) for code, _name, *rest in rows]
    return sorted(named, key=lambda row: name_key(row[1]))


def writing_locale() -> Locale | None:
    """The locale being written: the request's, or one forced for an email or the PDF; None
    outside an application (nothing to translate into)."""
    if not has_app_context():
        return None
    from flask_babel import get_locale  # noqa: PLC0415

    return get_locale()


def writing_language() -> str:
    """The language being written ('de'), the source language where there is none."""
    locale = writing_locale()
    return locale.language if locale is not None else SOURCE_LANGUAGE


#: gettext and ngettext for templates, bound to one catalogue (see bound_gettext).
_bound: weakref.WeakKeyDictionary[NullTranslations, dict[str, Callable[..., str]]] = (
    weakref.WeakKeyDictionary()
)


def bound_gettext() -> dict[str, Callable[..., str]]:
    """The templates' `gettext` and `ngettext` (and `_`, which calls `gettext`) bound to the
    catalogue of the language in force, to pass to one render as context.

    Flask-Babel's own look the language and its catalogue up again at every string, about 20 µs
    each: most of the time of an email, which a sign-on renders before it answers. These do what
    Jinja's newstyle gettext does (see jinja2.ext): the text marked safe where autoescaping is on,
    then formatted with the variables.
    """
    translations = get_translations()
    bound = _bound.get(translations)
    if bound is None:
        bound = _bound.setdefault(
            translations,
            {
                "gettext": _newstyle_gettext(translations.ugettext),
                "ngettext": _newstyle_ngettext(translations.ungettext),
            },
        )
    return bound


def _newstyle_gettext(lookup: Callable[[str], str]) -> Callable[..., str]:
    @pass_context
    def gettext(context: Context, string: str, /, **variables: Any) -> str:
        text = lookup(string)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return gettext


def _newstyle_ngettext(lookup: Callable[[str, str, int], str]) -> Callable[..., str]:
    @pass_context
    def ngettext(
        context: Context, singular: str, plural: str, num: int, /, **variables: Any
    ) -> str:
        variables.setdefault("num", num)
        text = lookup(singular, plural, num)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return ngettext
