"""Seeding a fresh install: the default statement, its founding signatories and campaign updates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from .core.audit import Actor
from .core.db import write_transaction
from .extensions import db
from .identity.service import seed_identity
from .models import CampaignUpdate, Statement, UpdateKind
from .signatories.service import import_signatories
from .statements.service import load_statement

CONTENT_DIR = Path(__file__).resolve().parent / "content"
DEFAULT_STATEMENT = CONTENT_DIR / "interregional-innovation-investments.md"
FOUNDING_SIGNATORIES = CONTENT_DIR / "founding-signatories.csv"
CAMPAIGN_PAGE = CONTENT_DIR / "campaign-page.md"


@dataclass(frozen=True)
class SeedResult:
    statement: Statement
    statement_created: bool
    signatories_created: int
    updates_created: int


_MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
# A headline or line that only points somewhere: a dead end without its link.
_POINTER = re.compile(r"^(Read more|Download and share|Register)\s*:\s*(.*)$", re.I | re.S)
# “Words.” – Speaker, role
_ATTRIBUTED_QUOTE = re.compile(r"^[“\"](?P<quote>[^“”\"]+)[”\"]\s*[-–—]+\s*(?P<who>[^\n]+)$")


@dataclass(frozen=True)
class UpdateItem:
    title: str
    body: str
    kind: UpdateKind
    draft: bool
    link_url: str = ""
    link_label: str = ""
    attribution: str = ""


def _item(title: str, body: str, cut_off: bool) -> UpdateItem:
    link = _MARKDOWN_LINK.search(body) or _MARKDOWN_LINK.search(title)
    link_url = link.group(2) if link else ""
    title = _MARKDOWN_LINK.sub(r"\1", title)
    body = _MARKDOWN_LINK.sub(r"\1", body)
    kind, attribution, link_label = UpdateKind.NEWS, "", ""
    pointer = _POINTER.match(body) or _POINTER.match(title)
    if body.startswith("Register:"):
        kind, link_label, body = UpdateKind.EVENT, "Register", ""
    elif pointer:
        link_label = pointer.group(1)
        if pointer.string == body:
            body = ""
    elif body.startswith(("“", '"')):
        kind = UpdateKind.QUOTE
        quote = _ATTRIBUTED_QUOTE.match(body)
        if quote:
            body, attribution = _quote_and_speaker(quote)
    needs_link = kind is UpdateKind.EVENT or not body
    return UpdateItem(
        title.strip(),
        body,
        kind,
        draft=cut_off or (needs_link and not link_url),
        link_url=link_url,
        link_label=link_label if link_url or needs_link else "",
        attribution=attribution,
    )


def _quote_and_speaker(quote: re.Match) -> tuple[str, str]:
    return f"“{quote['quote'].strip()}”", quote["who"].strip()


def _section_items(title: str, body: str, cut_off: bool) -> list[UpdateItem]:
    """One item, or, for a section of several quotes each with its speaker (and perhaps a
    paragraph of news), one quote per speaker, its words in the quote and the speaker in
    the attribution, then the rest as news under the section's title."""
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
    quotes = [_ATTRIBUTED_QUOTE.match(p) for p in paragraphs]
    if not any(quotes) or len(paragraphs) == 1:
        return [_item(title, body, cut_off)]
    items = []
    for quote in quotes:
        if quote:
            words, who = _quote_and_speaker(quote)
            speaker = who.split(",")[0].strip()
            items.append(
                UpdateItem(
                    f"{title.strip()} — {speaker}", words, UpdateKind.QUOTE, False, attribution=who
                )
            )
    rest = "\n\n".join(p for p, quote in zip(paragraphs, quotes, strict=True) if not quote)
    if rest:
        items.append(_item(title, rest, cut_off))
    return items


def parse_campaign_page(text: str) -> list[UpdateItem]:
    """'## Title' sections after the front matter, in the order published.

    An item that only points somewhere ("Read more: …", "Register: …", a headline without text)
    is published only with the link the source gives (a Markdown link); without one it is a
    draft until staff add it. The last item is cut off in the source: a draft too. A section
    of several attributed quotes becomes one quote per speaker (see _section_items).
    """
    if text.startswith("---\n"):
        text = text[text.index("\n---\n", 4) + 5 :]
    sections = re.split(r"^## +", text, flags=re.MULTILINE)[1:]
    items = []
    for index, section in enumerate(sections):
        title, _, body = section.partition("\n")
        body = body.strip()
        is_last = index == len(sections) - 1
        cut_off = is_last and bool(body) and not body.rstrip().endswith((".", "!", "?", "”", '"'))
        items.extend(_section_items(title, body, cut_off))
    return items


@write_transaction
def seed_campaign_updates(statement: Statement, text: str) -> int:
    existing = set(
        db.session.scalars(
            select(CampaignUpdate.title).where(CampaignUpdate.statement_id == statement.id)
        )
    )
    created = 0
    for position, item in enumerate(parse_campaign_page(text)):
        if item.title in existing:
            continue
        db.session.add(
            CampaignUpdate(
                statement_id=statement.id,
                kind=item.kind,
                title=item.title,
                body=item.body,
                link_url=item.link_url,
                link_label=item.link_label,
                attribution=item.attribution,
                published_on=statement.published_on,
                is_published=not item.draft,
                position=position,
            )
        )
        created += 1
    return created


def seed() -> SeedResult:
    """Idempotent: a second run finds everything in place and changes nothing."""
    actor = Actor.cli("seed")
    loaded = load_statement(DEFAULT_STATEMENT.read_text(encoding="utf-8"), actor)
    statement = loaded.statement
    imported = import_signatories(
        statement, FOUNDING_SIGNATORIES.read_text(encoding="utf-8"), actor, initiators=True
    )
    campaign_page = CAMPAIGN_PAGE.read_text(encoding="utf-8")
    seed_identity(campaign_page, statement.campaign or statement.title, actor)
    updates = seed_campaign_updates(statement, campaign_page)
    return SeedResult(statement, loaded.created, imported.created, updates)
