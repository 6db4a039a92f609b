"""Translations of a statement's text, for reading: the original stays authoritative.

Organisations endorse the statement in its own language; its SHA-256 is that text's. A
translation is kept per language with the version it translates, so a new version of the
statement shows every older translation as out of date until staff replace it. Staff add one
with `flask statements translate SLUG LANG FILE.md` (front matter: title, optional subtitle).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..core.audit import Actor, record
from ..core.db import write_transaction
from ..core.i18n import available_languages
from ..extensions import db
from ..models import Statement, StatementTranslation, utcnow
from .service import StatementError, split_front_matter

TITLE_MAX = 300
SUBTITLE_MAX = 500
BODY_MAX = 100_000


@dataclass(frozen=True)
class TranslationText:
    title: str
    subtitle: str
    body: str


def parse_translation_file(text: str) -> TranslationText:
    """A translation file: front matter with `title` (and `subtitle`), then the Markdown text."""
    meta, body = split_front_matter(text, "title, subtitle")
    return clean_text(str(meta.get("title") or ""), str(meta.get("subtitle") or ""), body)


def clean_text(title: str, subtitle: str, body: str) -> TranslationText:
    title, subtitle = title.strip(), subtitle.strip()
    if not title:
        raise StatementError("the translation has no title")
    if not body.strip():
        raise StatementError("the translation's text is empty")
    for name, value, limit in (
        ("title", title, TITLE_MAX),
        ("subtitle", subtitle, SUBTITLE_MAX),
        ("text", body, BODY_MAX),
    ):
        if len(value) > limit:
            raise StatementError(f"{name}: at most {limit} characters, not {len(value)}")
    return TranslationText(title, subtitle, body)


def check_language(statement: Statement, lang: str) -> str:
    lang = (lang or "").strip().lower()
    others = [code for code in available_languages() if code != statement.language]
    if lang == statement.language:
        raise StatementError(f"{lang} is the statement's own language: its text is the original")
    if lang not in others:
        raise StatementError(f"language {lang!r}: choose one of {', '.join(others)}")
    return lang


def translation(statement: Statement, lang: str) -> StatementTranslation | None:
    return db.session.scalar(
        select(StatementTranslation).where(
            StatementTranslation.statement_id == statement.id, StatementTranslation.lang == lang
        )
    )


def translations(statement: Statement) -> list[StatementTranslation]:
    return list(
        db.session.scalars(
            select(StatementTranslation)
            .where(StatementTranslation.statement_id == statement.id)
            .order_by(StatementTranslation.lang)
        )
    )


def translation_state(statement: Statement, lang: str) -> str:
    """What a page showing the statement in `lang` depends on, for its ETag."""
    found = translation(statement, lang)
    return "" if found is None else f"{found.id}:{found.updated_at}:{found.statement_version_id}"


@write_transaction
def save_translation(
    statement: Statement, lang: str, text: TranslationText, actor: Actor
) -> tuple[StatementTranslation, bool]:
    """Add or replace the translation in `lang` of the statement's current version (audited).
    Returns it and whether anything changed."""
    lang = check_language(statement, lang)
    if statement.current_version_id is None:
        raise StatementError("the statement has no text yet")
    found = translation(statement, lang)
    created = found is None
    if found is None:
        found = StatementTranslation(statement_id=statement.id, lang=lang)
        db.session.add(found)
    elif (found.title, found.subtitle, found.body) == (
        text.title,
        text.subtitle,
        text.body,
    ) and found.statement_version_id == statement.current_version_id:
        return found, False
    found.title, found.subtitle, found.body = text.title, text.subtitle, text.body
    found.statement_version_id = statement.current_version_id
    found.updated_at = utcnow()
    db.session.flush()
    version = statement.current_version
    record(
        actor,
        "translation_added" if created else "translation_updated",
        statement_id=statement.id,
        detail=f"{lang}, of version {version.number if version else '?'}",
    )
    return found, True


@write_transaction
def delete_translation(statement: Statement, lang: str, actor: Actor) -> bool:
    found = translation(statement, lang)
    if found is None:
        return False
    db.session.delete(found)
    record(actor, "translation_deleted", statement_id=statement.id, detail=lang)
    return True
