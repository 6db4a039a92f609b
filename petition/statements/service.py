"""Statements and their versions: loading Markdown with front matter, rendering it safely."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache

import nh3
import yaml
from markdown_it import MarkdownIt
from sqlalchemy import false, func, select, update

from ..core import events
from ..core.audit import Actor, record
from ..core.db import after_write, write_transaction
from ..core.i18n import N_
from ..core.kept import kept
from ..extensions import db
from ..models import Statement, StatementVersion, accepts_signatures, utcnow


class StatementError(ValueError):
    """A statement file or change that cannot be accepted."""


class StatementNotFound(LookupError):
    pass


_ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li",
    "em", "strong", "a", "code", "pre", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # "js-default" leaves raw HTML as text; nh3 still cleans the output as a second line of defence.
    return MarkdownIt("js-default", {"typographer": False}).enable("table")


def render_markdown(text: str) -> str:
    """Markdown to sanitised HTML. A top-level '#' becomes h2: the page owns the h1."""
    html = _markdown().render(text or "")
    html = html.replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "th": {"align"}, "td": {"align"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


_SENTENCE_END = re.compile(r"[.!?…](?=\s)")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=16)
def summary_of(body: str, limit: int = 320) -> str:
    """The body's first paragraph as plain text, cut to whole sentences within `limit` characters.

    Statements open with the paragraph that says what they ask for; headings, quotes and lists are
    skipped. Shown where a page names the statement without its full text (the sign-on form).
    """
    tokens = _markdown().parse(body or "")
    for opening, inline in zip(tokens, tokens[1:], strict=False):
        if opening.type == "paragraph_open" and opening.level == 0 and inline.children:
            text = _SPACES.sub(" ", "".join(_plain(t) for t in inline.children)).strip()
            if text:
                return _shorten(text, limit)
    return ""


def _plain(token) -> str:
    if token.type in ("text", "code_inline"):
        return token.content
    if token.type in ("softbreak", "hardbreak"):
        return " "
    if token.type == "image":
        return "".join(_plain(child) for child in token.children or ())
    return ""  # the markup of emphasis and links: their text comes as text tokens


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, limit)]
    if ends and ends[-1] >= 30:  # shorter than that, "Yes." or "Dear all." says nothing
        return text[: ends[-1]]
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit - 1].rstrip(" ,;:") + "…"


def body_sha256(body: str) -> str:
    return hashlib.sha256(normalise_body(body).encode("utf-8")).hexdigest()


def normalise_body(body: str) -> str:
    """Line endings and trailing blank lines do not make a new version; every other byte does."""
    return body.replace("\r\n", "\n").replace("\r", "\n").strip("\n") + "\n"


@dataclass
class StatementFile:
    slug: str
    title: str
    body: str
    subtitle: str = ""
    language: str = "en"
    campaign: str = ""
    initiators: list[str] = field(default_factory=list)
    published_on: date | None = None
    signing_closes_at: datetime | None = None
    list_public_from: datetime | None = None


def _as_datetime(value, key: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise StatementError(f"{key}: not a date or date-time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_TEXT_LIMITS = {"title": 300, "subtitle": 500, "campaign": 300}
# A BCP 47 tag as it appears in <html lang>: "en", "pl", "pt-BR", "sr-Latn".
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")


def clean_slug(value: str) -> str:
    """The statement's part of its web address: letters, digits and hyphens (lower-cased)."""
    slug = (value or "").strip()
    if (
        not slug
        or not slug.replace("-", "").isalnum()
        or not slug.isascii()
        or len(slug) > 100
        or slug.startswith("-")
    ):
        raise StatementError(f"slug {slug!r}: use lower-case letters, digits and hyphens")
    return slug.lower()


def clean_language(value: str) -> str:
    language = (value or "").strip()
    if not _LANGUAGE_TAG.match(language) or len(language) > 16:
        raise StatementError(f"language {language!r}: use a language tag such as en or pt-BR")
    return language


def split_front_matter(text: str, keys: str = "slug, title, …") -> tuple[dict, str]:
    """A Markdown file's '---' YAML front matter, and its body kept byte for byte."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n")
    if not text.startswith("---\n"):
        raise StatementError(f"the file must start with '---' front matter ({keys})")
    end = text.find("\n---\n", 4)
    if end == -1:
        raise StatementError("the front matter is not closed by a '---' line")
    try:
        meta = yaml.safe_load(text[4:end]) or {}
    except yaml.YAMLError as exc:
        raise StatementError(f"the front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise StatementError("the front matter must be a mapping of keys to values")
    return meta, text[end + 5 :]


def parse_statement_file(text: str) -> StatementFile:
    """Split '---' YAML front matter from the Markdown body, which is kept byte for byte."""
    meta, body = split_front_matter(text)
    for key in ("slug", "title"):
        if not str(meta.get(key) or "").strip():
            raise StatementError(f"the front matter has no {key}")
    if not body.strip():
        raise StatementError("the statement body is empty")
    initiators = meta.get("initiators") or []
    if isinstance(initiators, str):
        initiators = [name.strip() for name in initiators.split(",") if name.strip()]
    published = meta.get("published")
    if published is not None and not isinstance(published, date):
        try:
            published = date.fromisoformat(str(published))
        except ValueError as exc:
            raise StatementError(f"published: not a date: {published!r}") from exc
    if isinstance(published, datetime):
        published = published.date()
    slug = clean_slug(str(meta["slug"]))
    texts = {key: str(meta.get(key) or "").strip() for key in _TEXT_LIMITS}
    for key, limit in _TEXT_LIMITS.items():
        # The columns are bounded; PostgreSQL would refuse a longer value with a traceback.
        if len(texts[key]) > limit:
            raise StatementError(f"{key}: at most {limit} characters, not {len(texts[key])}")
    language = clean_language(str(meta.get("language") or "en"))
    return StatementFile(
        slug=slug,
        title=texts["title"],
        subtitle=texts["subtitle"],
        language=language,
        campaign=texts["campaign"],
        initiators=[str(name) for name in initiators],
        published_on=published,
        signing_closes_at=_as_datetime(meta.get("signing_closes_at"), "signing_closes_at"),
        list_public_from=_as_datetime(meta.get("list_public_from"), "list_public_from"),
        body=normalise_body(body),
    )


@dataclass(frozen=True)
class LoadResult:
    statement: Statement
    created: bool
    new_version: bool
    # An earlier body loaded again becomes current without being a new version.
    current_changed: bool = False


@write_transaction
def load_statement(text: str, actor: Actor | None = None) -> LoadResult:
    """Create a statement, or add a version when its body changed; unchanged files change nothing."""
    actor = actor or Actor.cli()
    parsed = parse_statement_file(text)
    statement = db.session.scalar(select(Statement).where(Statement.slug == parsed.slug))
    created = statement is None
    if statement is None:
        statement = Statement(slug=parsed.slug, title=parsed.title)
        db.session.add(statement)
    statement.title = parsed.title
    statement.subtitle = parsed.subtitle
    statement.language = parsed.language
    statement.campaign = parsed.campaign
    statement.initiators = join_initiators(parsed.initiators)
    statement.published_on = parsed.published_on
    statement.signing_closes_at = parsed.signing_closes_at
    statement.list_public_from = parsed.list_public_from
    db.session.flush()
    return make_current(statement, parsed.body, actor, created=created)


def join_initiators(names: list[str]) -> str:
    """One name a line (a name may hold a comma: "Region of Łódź, Poland")."""
    return "\n".join(" ".join(str(name).split()) for name in names if str(name).strip())


def make_current(statement: Statement, body: str, actor: Actor, *, created: bool) -> LoadResult:
    """Make `body` the statement's current text: a new version when no earlier one has it.

    Signatures keep the version they endorsed; a change of the current text rebuilds the PDF.
    """
    sha = body_sha256(body)
    version = db.session.scalar(
        select(StatementVersion).where(
            StatementVersion.statement_id == statement.id, StatementVersion.sha256 == sha
        )
    )
    new_version = version is None
    if version is None:
        number = (
            db.session.scalar(
                select(func.max(StatementVersion.number)).where(
                    StatementVersion.statement_id == statement.id
                )
            )
            or 0
        ) + 1
        version = StatementVersion(statement_id=statement.id, number=number, body=body, sha256=sha)
        db.session.add(version)
        db.session.flush()
        record(
            actor,
            "statement_created" if created else "statement_version_added",
            statement_id=statement.id,
            after={"version": number, "sha256": sha},
        )
    changed_current = statement.current_version_id != version.id
    statement.current_version_id = version.id
    if changed_current and not created:
        bump_list_version(statement.id)
    if changed_current and not created:
        statement_id = statement.id
        after_write(lambda: events.signatory_list_changed(statement_id, reason="statement_version"))
    return LoadResult(
        statement=statement,
        created=created,
        new_version=new_version,
        current_changed=changed_current and not created,
    )


def bump_list_version(statement_id: int) -> None:
    """Count a change of what the PDF shows; done in the caller's transaction."""
    db.session.execute(
        update(Statement)
        .where(Statement.id == statement_id)
        .values(list_version=Statement.list_version + 1, list_changed_at=utcnow())
        .execution_options(synchronize_session=False)
    )


_SLUG_SHAPE = re.compile(r"^[a-z0-9-]{1,100}$")


def is_slug(slug: str) -> bool:
    # A slug from a URL can hold anything, NUL included, which PostgreSQL refuses with an error.
    return bool(_SLUG_SHAPE.match(slug or ""))


def get_statement(slug: str) -> Statement:
    if not is_slug(slug):
        raise StatementNotFound(slug)
    statement = db.session.scalar(select(Statement).where(Statement.slug == slug))
    if statement is None:
        raise StatementNotFound(slug)
    return statement


@dataclass(frozen=True)
class StatementToSign:
    """What a sign-on needs of its statement before its write transaction (which checks again,
    in the database, that the statement takes signatures)."""

    id: int
    slug: str
    title: str
    current_version_id: int | None
    is_open: bool
    signing_opens_at: datetime | None
    signing_closes_at: datetime | None

    def is_accepting_signatures(self, now: datetime | None = None) -> bool:
        return accepts_signatures(
            self.is_open, self.signing_opens_at, self.signing_closes_at, now=now
        )


def statement_to_sign(slug: str) -> StatementToSign:
    """The statement at `slug` as a sign-on sees it: read now, or what this process read less
    than PAGE_FRESH_SECONDS ago (core/kept.py: a new title shows in confirmation emails that
    much later; a closed statement refuses signatures at once). StatementNotFound when there is
    none."""
    return kept("statement_to_sign", slug, lambda: _to_sign(get_statement(slug)))


def _to_sign(statement: Statement) -> StatementToSign:
    return StatementToSign(
        statement.id,
        statement.slug,
        statement.title,
        statement.current_version_id,
        statement.is_open,
        statement.signing_opens_at,
        statement.signing_closes_at,
    )


def statement_or_404(slug: str) -> Statement:
    """For views: the statement at /statements/<slug>, or the 404 page."""
    query = select(Statement).where(Statement.slug == slug if is_slug(slug) else false())
    return db.one_or_404(query, description=N_("There is no statement at this address."))


#: Columns of a statement that no public page shows: the PDF builds' bookkeeping, and
#: timestamps that change with it (list_version stands for list_changed_at).
_NOT_SHOWN = frozenset(
    {
        "pdf_built_list_version",
        "pdf_building_since",
        "pdf_build_lease_until",
        "pdf_build_owner",
        "list_changed_at",
        "updated_at",
    }
)


def public_state(statement: Statement) -> tuple:
    """What the public pages show of a statement's own row (its texts, dates, current version,
    list version), and whether signing is open and the list public right now: both change with
    the clock alone. Part of every public page's ETag; a PDF build changes none of it."""
    columns = tuple(
        getattr(statement, attr.key)
        for attr in Statement.__mapper__.column_attrs
        if attr.key not in _NOT_SHOWN
    )
    return (*columns, statement.is_accepting_signatures(), statement.is_list_public())


def all_statements() -> list[Statement]:
    """Every statement, open for signing or not, oldest first."""
    return list(db.session.scalars(select(Statement).order_by(Statement.created_at, Statement.id)))
