"""Admin changes to a statement's signing window and embargo, and to its campaign updates."""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from datetime import date, datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select

from ..core import events
from ..core.audit import Actor, record
from ..core.db import after_write, write_transaction
from ..core.validation import InvalidValue
from ..extensions import db
from ..models import CampaignUpdate, Statement, UpdateKind
from .service import bump_list_version


class CampaignError(ValueError):
    """A change that cannot be made; the message is shown to the admin."""


# ---------------------------------------------------------------- statement settings


@dataclass(frozen=True)
class StatementSettings:
    is_open: bool
    signing_opens_at: datetime | None
    signing_closes_at: datetime | None
    list_public_from: datetime | None
    data_licence: str = "CC0-1.0"


def _settings_of(statement: Statement) -> StatementSettings:
    return StatementSettings(
        bool(statement.is_open),
        statement.signing_opens_at,
        statement.signing_closes_at,
        statement.list_public_from,
        statement.data_licence,
    )


def _jsonable(value):
    return value.isoformat() if isinstance(value, date | datetime) else value


@write_transaction
def update_statement_settings(
    statement_id: int, settings: StatementSettings, actor: Actor
) -> tuple[str, ...]:
    """Returns the names of what changed. A new embargo date changes what the public list and
    PDF show, so it counts as a list change (the PDF part listens for it)."""
    statement = db.session.get(Statement, statement_id)
    if statement is None:
        raise CampaignError("There is no such statement.")
    if (
        settings.signing_opens_at
        and settings.signing_closes_at
        and settings.signing_closes_at <= settings.signing_opens_at
    ):
        raise CampaignError("Signing must close after it opens.")
    before = _settings_of(statement)
    changed = tuple(
        f.name
        for f in fields(StatementSettings)
        if getattr(before, f.name) != getattr(settings, f.name)
    )
    if not changed:
        return ()
    for name in changed:
        setattr(statement, name, getattr(settings, name))
    embargo_changed = "list_public_from" in changed
    if embargo_changed:
        bump_list_version(statement.id)
    record(
        actor,
        "statement_settings",
        statement_id=statement.id,
        before={k: _jsonable(getattr(before, k)) for k in changed},
        after={k: _jsonable(getattr(settings, k)) for k in changed},
    )
    if embargo_changed:
        after_write(lambda: events.signatory_list_changed(statement_id, reason="embargo"))
    return changed


@write_transaction
def set_open(statement_id: int, is_open: bool, actor: Actor) -> bool:
    statement = db.session.get(Statement, statement_id)
    if statement is None:
        raise CampaignError("There is no such statement.")
    settings = _settings_of(statement)
    return bool(
        update_statement_settings(
            statement_id,
            StatementSettings(
                is_open,
                settings.signing_opens_at,
                settings.signing_closes_at,
                settings.list_public_from,
                settings.data_licence,
            ),
            actor,
        )
    )


# ---------------------------------------------------------------- campaign updates


def link_url(value: str | None) -> str:
    """Links on the public page: absolute http(s) only, so no javascript: or data: URL slips in."""
    text = (value or "").strip()
    if not text:
        return ""
    if len(text) > 500:
        raise InvalidValue("The link must be at most 500 characters.")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise InvalidValue("Enter a link such as https://www.example.org/news.") from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in text:
        raise InvalidValue("The link must be a full address starting with http:// or https://.")
    if any(ord(ch) < 32 for ch in text):
        raise InvalidValue("The link must not contain control characters.")
    return text


@dataclass(frozen=True)
class UpdateInput:
    kind: str
    title: str
    body: str
    link_url: str
    link_label: str
    published_on: date | None
    attribution: str = ""  # a quote's speaker
    event_date: date | None = None  # an event's date and place
    place: str = ""


def _update_snapshot(update: CampaignUpdate) -> dict:
    return {
        "kind": UpdateKind(update.kind).value,
        "title": update.title,
        "body": update.body,
        "link_url": update.link_url,
        "link_label": update.link_label,
        "published_on": _jsonable(update.published_on),
        "is_published": bool(update.is_published),
        "attribution": update.attribution or "",
        "event_date": _jsonable(update.event_date),
        "place": update.place or "",
    }


def needs_link(update: CampaignUpdate) -> bool:
    """An event, or an update with no text, leads nowhere without its link: not published so."""
    return not update.link_url and (
        UpdateKind(update.kind) is UpdateKind.EVENT or not (update.body or "").strip()
    )


def updates_state(statement_id: int) -> tuple:
    """Changes whenever a campaign update of the statement is added, edited, published,
    unpublished or deleted (its updated_at, or the count): part of the statement page's ETag."""
    row = db.session.execute(
        select(func.count(CampaignUpdate.id), func.max(CampaignUpdate.updated_at)).where(
            CampaignUpdate.statement_id == statement_id
        )
    ).one()
    return tuple(row)


def updates_for(statement_id: int) -> list[CampaignUpdate]:
    return list(
        db.session.scalars(
            select(CampaignUpdate)
            .where(CampaignUpdate.statement_id == statement_id)
            .order_by(
                CampaignUpdate.is_published,
                CampaignUpdate.published_on.desc(),
                CampaignUpdate.position,
            )
        )
    )


@write_transaction
def create_update(statement_id: int, data: UpdateInput, actor: Actor) -> CampaignUpdate:
    if db.session.get(Statement, statement_id) is None:
        raise CampaignError("There is no such statement.")
    update = CampaignUpdate(
        statement_id=statement_id,
        kind=UpdateKind(data.kind),
        title=data.title,
        body=data.body,
        link_url=data.link_url,
        link_label=data.link_label,
        published_on=data.published_on,
        attribution=data.attribution,
        event_date=data.event_date,
        place=data.place,
        is_published=False,  # a new update starts as a draft
        position=0,
    )
    db.session.add(update)
    db.session.flush()
    record(
        actor,
        "update_created",
        statement_id=statement_id,
        after=_update_snapshot(update),
        detail=f"update {update.id}",
    )
    return update


class UpdateAction(enum.StrEnum):
    PUBLISH = "publish"
    UNPUBLISH = "unpublish"
    DELETE = "delete"


def _get_update(update_id: int) -> CampaignUpdate:
    update = db.session.get(CampaignUpdate, update_id)
    if update is None:
        raise CampaignError("There is no such campaign update.")
    return update


@write_transaction
def edit_update(update_id: int, data: UpdateInput, actor: Actor) -> bool:
    update = _get_update(update_id)
    before = _update_snapshot(update)
    update.kind = UpdateKind(data.kind)
    update.title = data.title
    update.body = data.body
    update.link_url = data.link_url
    update.link_label = data.link_label
    update.published_on = data.published_on
    update.attribution = data.attribution
    update.event_date = data.event_date
    update.place = data.place
    after = _update_snapshot(update)
    changed = [k for k in after if after[k] != before[k]]
    if not changed:
        return False
    record(
        actor,
        "update_edited",
        statement_id=update.statement_id,
        before={k: before[k] for k in changed},
        after={k: after[k] for k in changed},
        detail=f"update {update.id}",
    )
    return True


@write_transaction
def change_update(update_id: int, action: UpdateAction, actor: Actor) -> str:
    """Publish, unpublish, or delete a draft; returns a message for the admin."""
    update = _get_update(update_id)
    before = _update_snapshot(update)
    statement_id = update.statement_id
    if action is UpdateAction.DELETE:
        if update.is_published:
            raise CampaignError("Unpublish the update before deleting it.")
        db.session.delete(update)
        record(
            actor,
            "update_deleted",
            statement_id=statement_id,
            before=before,
            detail=f"update {update_id}",
        )
        return "The draft was deleted."
    publish = action is UpdateAction.PUBLISH
    if bool(update.is_published) == publish:
        return "Already published." if publish else "Already a draft."
    if publish and needs_link(update):
        raise CampaignError(
            "Add a link before publishing: an event, or an update without text, would lead nowhere."
        )
    update.is_published = publish
    if publish and update.published_on is None:
        update.published_on = date.today()
    record(
        actor,
        "update_published" if publish else "update_unpublished",
        statement_id=statement_id,
        before={"is_published": before["is_published"]},
        after={"is_published": publish},
        detail=f"update {update_id}",
    )
    return "Published on the statement page." if publish else "Taken off the statement page."


def published_updates(statement: Statement) -> list[CampaignUpdate]:
    """The updates the public sees, newest first (the statement page and its Atom feed)."""
    return list(
        db.session.scalars(
            select(CampaignUpdate)
            .where(
                CampaignUpdate.statement_id == statement.id,
                CampaignUpdate.is_published.is_(True),
            )
            .order_by(CampaignUpdate.published_on.desc(), CampaignUpdate.position)
        )
    )
