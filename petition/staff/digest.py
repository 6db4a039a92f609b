"""The staff email digest: endorsements waiting in the queue, at most once per interval per person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update

from ..core import outbox
from ..core.db import rowcount, write_transaction
from ..extensions import db
from ..models import Signature, SignatureState, StaffUser, Statement, utcnow
from ..signing.service import public_url

DIGEST_LIST_LIMIT = 25


@dataclass(frozen=True)
class DigestResult:
    sent: int
    skipped: int  # nothing new for them, or their last digest is too recent


def _interval() -> timedelta:
    return timedelta(hours=float(current_app.config.get("STAFF_DIGEST_INTERVAL_HOURS", 24)))


@write_transaction
def send_digests(*, force: bool = False, now: datetime | None = None) -> DigestResult:
    """Queue a digest to every active staff member who asked for one and has something new to see.

    The per-person compare-and-set on last_digest_at makes a cron job, the periodic job
    and a manual run safe together: nobody gets two digests within the interval.
    """
    now = now or utcnow()
    waiting_total = db.session.scalar(
        select(func.count(Signature.id)).where(Signature.state == SignatureState.VERIFIED)
    )
    oldest = db.session.scalar(
        select(func.min(Signature.verified_at)).where(Signature.state == SignatureState.VERIFIED)
    )
    recipients = list(
        db.session.scalars(
            select(StaffUser)
            .where(StaffUser.is_active.is_(True), StaffUser.wants_digest.is_(True))
            .order_by(StaffUser.id)
        )
    )
    sent = skipped = 0
    for user in recipients:
        since = user.last_digest_at
        new_query = (
            select(Signature, Statement.title)
            .join(Statement)
            .where(Signature.state == SignatureState.VERIFIED)
        )
        if since is not None:
            new_query = new_query.where(Signature.verified_at > since)
        new_items = db.session.execute(
            new_query.order_by(Signature.verified_at, Signature.id).limit(DIGEST_LIST_LIMIT)
        ).all()
        new_count = db.session.scalar(
            select(func.count()).select_from(new_query.order_by(None).subquery())
        )
        if not new_count:
            skipped += 1
            continue
        claim = update(StaffUser).where(StaffUser.id == user.id)
        if not force:
            claim = claim.where(
                or_(
                    StaffUser.last_digest_at.is_(None),
                    StaffUser.last_digest_at <= now - _interval(),
                )
            )
        claimed = db.session.execute(
            claim.values(last_digest_at=now).execution_options(synchronize_session=False)
        )
        if rowcount(claimed) != 1:
            skipped += 1
            continue
        outbox.queue_email(
            "staff_digest",
            user.email,
            "staff_digest",
            new_count=new_count,
            new_items=new_items,
            more=max(new_count - len(new_items), 0),
            waiting_total=waiting_total,
            oldest=oldest,
            queue_url=public_url("/staff/queue"),
            account_url=public_url("/staff/account"),
        )
        sent += 1
    return DigestResult(sent, skipped)
