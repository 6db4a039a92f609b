"""HTTP caching: public pages with ETags and 304s, fingerprinted static files, and the rule that
nothing that depends on the visitor's cookie is ever stored by a shared cache.

A public page is answered by `public_page(etag, render)`: the ETag comes from a cheap query (a
list version, a row's columns), so a revalidation costs no rendering. Its response is
`Cache-Control: public, max-age=…, s-maxage=…`, with no `Vary: Cookie` and no `Set-Cookie`:
browsers, nginx and a CDN may give it to every visitor. Everything else keeps the private
default (HTML: `private, no-store`, see core/security.py).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Response, current_app, g, make_response, request, session
from flask.globals import request_ctx
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import generate_csrf

from . import identity
from .i18n import LANG_KEY

#: Encodings whose compressed variants carry the page's ETag with a suffix ("tag:br"), as
#: Flask-Compress writes them; a client revalidating such a variant sends that tag back.
COMPRESSED_SUFFIXES = ("br", "gzip", "deflate", "zstd")
#: A year: the longest lifetime caches honour, for files whose URL names their content.
IMMUTABLE_MAX_AGE = 31_536_000
#: What a page that depends on the visitor (a form's CSRF token, a staff session) is sent with.
PRIVATE = "private, no-store"
# The files whose content makes up a public page, besides the database: a deploy that changes
# any of them changes every page's ETag.
_BUILD_SUFFIXES = (".py", ".html", ".txt", ".md", ".csv", ".css", ".js", ".svg", ".ico", ".po")


def init_app(app: Flask) -> None:
    """Fingerprint the static files and the build once, at start-up."""
    static = Path(app.static_folder or "")
    app.extensions["static_fingerprints"] = _fingerprints(static)
    app.extensions["build_fingerprint"] = _build_fingerprint(
        [Path(app.root_path), Path(app.root_path, app.template_folder or ""), static]
    )
    app.url_defaults(_fingerprint_static_urls)
    app.extensions["page_cache"] = PageCache(
        app.config["PAGE_CACHE_ENTRIES"], app.config["PAGE_FRESH_SECONDS"]
    )
    # First of the hooks: a page answered from the cache needs none of the others' work.
    app.before_request_funcs.setdefault(None, []).insert(0, answer_from_cache)


# ---------------------------------------------------------------- public pages


def etag_for(*parts: object) -> str:
    """A strong ETag from the values a response is made of, and the code that renders them.

    The campaign's identity (every page's header and footer) is part of it: a change on the
    console's identity page is a new version of every page.
    """
    campaign = identity.current()
    build = current_app.extensions["build_fingerprint"]
    lang = request.environ.get(LANG_KEY, "") if request else ""
    text = "\x1f".join(str(part) for part in (build, campaign.updated_at, lang, *parts))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _matching_tag(etag: str) -> str | None:
    """The tag of If-None-Match naming this ETag, compressed variants and weak tags included
    (a compressing proxy may have made it W/"…"); None when the client has another version."""
    if_none_match = request.if_none_match
    if not if_none_match:
        return None
    if if_none_match.star_tag:
        return etag
    for tag in if_none_match.as_set(include_weak=True):
        base, _, suffix = tag.partition(":")
        if base == etag and (not suffix or suffix in COMPRESSED_SUFFIXES):
            return tag
    return None


def public_page(etag: str, render: Callable[[], ResponseReturnValue]) -> Response:
    """A GET that every visitor gets alike: 304 without rendering when the client has `etag`,
    else `render()` marked public. Templates rendered here show nothing of the visitor's own
    (no flashed messages, no staff links): they must not read the session.

    The rendered body is kept in this process under the URL and `etag` (`PageCache`), so the
    next visitor of the same version gets it without rendering; for PAGE_FRESH_SECONDS after
    that, without even the queries that make the ETag (`answer_from_cache`)."""
    response = _public_from_cache(etag)
    if response is not None:
        return response
    response = make_response(render())
    if response.status_code != 200:
        return response
    if not _read_the_session():
        page_cache().keep((page_key(), etag), response, kind="public")
    response.set_etag(etag)
    return make_public(response)


def _public_from_cache(etag: str) -> Response | None:
    g.shared_page = True
    cache = page_cache()
    matched = _matching_tag(etag)
    if matched is not None:
        cache.still_current(page_key(), etag, "public")
        response = current_app.response_class(status=304)
        response.set_etag(matched)
        return make_public(response)
    cached = cache.response((page_key(), etag))
    if cached is None:
        return None
    cache.still_current(page_key(), etag, "public")
    cached.set_etag(etag)
    return make_public(cached)


def form_page(etag: str, render: Callable[[], ResponseReturnValue]) -> Response:
    """A GET of a form page that is the same for every visitor but its CSRF token: rendered
    once per URL and `etag`, then served with this visitor's token in place. The page stays
    private (the token ties it to the visitor's session cookie). A visitor whose session holds
    more than a token (a staff login, a flashed message) gets a page rendered for them."""
    if not _form_page_is_theirs_alike():
        return make_response(render())
    cached = _form_from_cache(etag)
    if cached is not None:
        return cached
    token = generate_csrf()
    response = make_response(render())
    if response.status_code == 200:
        page_cache().keep((page_key(), etag), response, replace=(token, _TOKEN_SLOT), kind="form")
    return response


def _form_page_is_theirs_alike() -> bool:
    return bool(current_app.config.get("WTF_CSRF_ENABLED", True)) and not (
        set(session) - {"csrf_token"}
    )


def _form_from_cache(etag: str) -> Response | None:
    cache = page_cache()
    cached = cache.response((page_key(), etag), replace=(_TOKEN_SLOT, generate_csrf()))
    if cached is not None:
        cache.still_current(page_key(), etag, "form")
    return cached


def answer_from_cache() -> Response | None:
    """Before any view: a GET of a page whose ETag was computed less than PAGE_FRESH_SECONDS ago
    is answered from the kept page, without the queries that make the ETag. Every cache in
    front may keep a public page for its max-age already; this keeps it for a moment."""
    if request.method not in ("GET", "HEAD"):
        return None
    found = page_cache().current(page_key())
    if found is None:
        return None
    etag, kind = found
    if kind == "public":
        return _public_from_cache(etag)
    if _form_page_is_theirs_alike():
        return _form_from_cache(etag)
    return None


#: What stands for the visitor's CSRF token in a kept form page: no page contains it.
_TOKEN_SLOT = f"csrf-slot-{secrets.token_hex(16)}"


def page_key() -> str:
    """A page's key in the cache: its URL and its language (a URL without a language prefix
    is in the language the browser asked for)."""
    return f"{request.url}\x1f{request.environ.get(LANG_KEY, '')}"


def _read_the_session() -> bool:
    opened = request_ctx._session  # noqa: SLF001 - see keep_visitors_apart
    return opened is not None and opened.accessed


def page_cache() -> PageCache:
    return current_app.extensions["page_cache"]


class PageCache:
    """Rendered bodies of pages that every visitor gets alike, by (URL, ETag), least recently
    used out first; `PAGE_CACHE_ENTRIES` of them per process (0: none kept).

    The key names the page's version: a change anywhere in what the page is made of is a new
    ETag, hence a miss and a fresh rendering; old versions fall out of use and then out of the
    cache. Only plain bodies are kept (no files, no streams, no cookies).
    """

    #: A body larger than this is rendered every time (an open-data file of a huge list).
    MAX_BODY_BYTES = 2_000_000
    _HEADERS = ("Content-Type", "Content-Disposition", "Link")

    def __init__(self, entries: int, fresh_seconds: float = 0.0) -> None:
        self.entries = entries
        self.fresh_seconds = fresh_seconds
        self._pages: OrderedDict[tuple[str, str], tuple[bytes, list[tuple[str, str]]]] = (
            OrderedDict()
        )
        # URL -> (until, ETag, kind): the ETag was computed moments ago, and is taken as current
        # until then.
        self._current: dict[str, tuple[float, str, str]] = {}
        self._lock = threading.Lock()

    def still_current(self, url: str, etag: str, kind: str) -> None:
        if self.fresh_seconds > 0:
            until = time.monotonic() + self.fresh_seconds
            with self._lock:
                self._current[url] = (until, etag, kind)

    def current(self, url: str) -> tuple[str, str] | None:
        if self.fresh_seconds <= 0:
            return None
        with self._lock:
            found = self._current.get(url)
            if found is not None and found[0] <= time.monotonic():
                del self._current[url]
                found = None
        return (found[1], found[2]) if found is not None else None

    def response(
        self, key: tuple[str, str], replace: tuple[str, str] | None = None
    ) -> Response | None:
        with self._lock:
            found = self._pages.get(key)
            if found is not None:
                self._pages.move_to_end(key)
        if found is None:
            return None
        body, headers = found
        if replace is not None:
            body = body.replace(replace[0].encode(), replace[1].encode())
        return current_app.response_class(body, headers=headers)

    def keep(
        self,
        key: tuple[str, str],
        response: Response,
        replace: tuple[str, str] | None = None,
        kind: str = "public",
    ) -> None:
        if (
            not self.entries
            or response.direct_passthrough
            or response.is_streamed
            or response.headers.get("Set-Cookie")
        ):
            return
        body = response.get_data()
        if len(body) > self.MAX_BODY_BYTES:
            return
        if replace is not None:
            if body.count(replace[0].encode()) == 0:
                return  # the token is not where it was expected: nothing safe to keep
            body = body.replace(replace[0].encode(), replace[1].encode())
        headers = [
            (name, response.headers[name]) for name in self._HEADERS if name in response.headers
        ]
        with self._lock:
            self._pages[key] = (body, headers)
            self._pages.move_to_end(key)
            while len(self._pages) > self.entries:
                (url, _etag), _page = self._pages.popitem(last=False)
                self._current.pop(url, None)
        self.still_current(key[0], key[1], kind)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self._current.clear()


def make_public(
    response: Response, *, must_revalidate: bool = False, shared_max_age: int | None = None
) -> Response:
    """`Cache-Control: public` with the configured lifetimes, in browsers and in shared caches
    (`shared_max_age`: another lifetime in shared caches; 0, ask the application every time)."""
    config = current_app.config
    shared = config["PAGE_SHARED_MAX_AGE_SECONDS"] if shared_max_age is None else shared_max_age
    value = f"public, max-age={config['PAGE_MAX_AGE_SECONDS']}, s-maxage={shared}"
    response.headers["Cache-Control"] = value + (", must-revalidate" if must_revalidate else "")
    return response


def keep_visitors_apart(response: Response) -> Response:
    """The last word on a response, after the session is saved: one marked public that sets a
    cookie, or whose content read the session, is private after all. A shared cache would
    otherwise hand one visitor's cookie, flash message or staff link to the next."""
    if not response.cache_control.public:
        return response
    # The session object itself: the `session` proxy would mark it accessed by looking.
    opened = request_ctx._session  # noqa: SLF001
    if response.headers.get("Set-Cookie") or (opened is not None and opened.accessed):
        response.headers["Cache-Control"] = PRIVATE
    return response


# ---------------------------------------------------------------- static files


def _fingerprints(folder: Path) -> dict[str, str]:
    found = {}
    for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            found[path.relative_to(folder).as_posix()] = digest
    return found


def _build_fingerprint(folders: list[Path]) -> str:
    digest = hashlib.sha256()
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(_BUILD_SUFFIXES):
                    path = Path(root, name)
                    digest.update(str(path.relative_to(folder)).encode() + b"\0")
                    digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _fingerprint_static_urls(endpoint: str | None, values: dict) -> None:
    """url_for('static', filename=…) names the file's content: `?v=<sha-256 prefix>`."""
    if endpoint != "static" or "v" in values:
        return
    fingerprint = static_fingerprint(values.get("filename") or "")
    if fingerprint:
        values["v"] = fingerprint


def static_fingerprint(filename: str) -> str | None:
    return current_app.extensions["static_fingerprints"].get(filename)


def static_max_age(filename: str) -> tuple[int, bool]:
    """How long a static file may be kept, and whether it is immutable: a year when the URL
    names the file's current content, else the short STATIC_MAX_AGE_SECONDS (an old page's
    link, a hand-typed URL, a fingerprint from another release)."""
    fingerprint = static_fingerprint(filename)
    if fingerprint and request.args.get("v") == fingerprint:
        return IMMUTABLE_MAX_AGE, True
    return current_app.config["STATIC_MAX_AGE_SECONDS"], False
