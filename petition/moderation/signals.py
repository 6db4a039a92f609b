"""What a moderator needs to judge an endorsement: domain match, free mail, duplicates, bursts."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from sqlalchemy import select

# The registrable domain is core's: the mail outbox caps mail per domain with it too.
from ..core.validation import name_key, registrable_domain
from ..extensions import db
from ..models import Signature, SignatureState

# Free and consumer mail providers: an address there says nothing about the organisation.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "live.com", "msn.com", "aol.com",
        "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com", "pm.me", "tutanota.com",
        "tuta.io", "zoho.com", "mail.com", "email.com", "fastmail.com", "hey.com", "yahoo.com",
        "web.de", "t-online.de", "freenet.de", "posteo.de", "mailbox.org", "arcor.de",
        "mail.ru", "bk.ru", "inbox.ru", "list.ru", "rambler.ru",
        "wp.pl", "o2.pl", "onet.pl", "op.pl", "interia.pl", "interia.eu", "poczta.fm", "gazeta.pl",
        "libero.it", "virgilio.it", "tiscali.it", "alice.it", "tim.it",
        "orange.fr", "free.fr", "laposte.net", "sfr.fr", "wanadoo.fr", "neuf.fr", "bbox.fr",
        "seznam.cz", "centrum.cz", "atlas.cz", "azet.sk", "centrum.sk", "post.sk",
        "abv.bg", "freemail.hu", "citromail.hu", "inbox.lv", "one.lt", "hot.ee",
        "telenet.be", "skynet.be", "ziggo.nl", "kpnmail.nl", "home.nl", "planet.nl",
        "bluewin.ch", "gmx.ch", "sapo.pt", "terra.es", "telefonica.net", "otenet.gr",
        "eircom.net", "btinternet.com", "sky.com", "virginmedia.com", "ntlworld.com",
        "comcast.net", "qq.com", "163.com", "126.com", "naver.com",
    }
)  # fmt: skip
# Providers present under many country endings: hotmail.fr, yahoo.co.uk, gmx.at, yandex.ru.
FREE_MAIL_BRANDS = frozenset({"hotmail", "yahoo", "gmx", "yandex", "outlook", "live", "ymail"})

# Legal-form words as they look after punctuation became spaces (S.A. -> "s a").
LEGAL_FORMS: frozenset[tuple[str, ...]] = frozenset(
    tuple(form.split())
    for form in (
        "gmbh", "gmbh co kg", "gmbh and co kg", "and co kg", "and co", "mbh", "ggmbh",
        "ag", "kg", "ug", "e v", "ev", "eg", "gbr",
        "ltd", "limited", "plc", "llp", "llc", "inc", "corp", "co", "cic",
        "s a", "sa", "s a s", "sas", "sarl", "s a r l", "s p a", "spa", "s r l", "srl",
        "scarl", "s c a r l", "s l", "sl", "s l u", "slu", "s coop",
        "sp z o o", "spzoo", "sp zoo", "s c", "sp j", "sp k", "s k a",
        "ab", "publ", "ab publ", "oy", "oyj", "ry", "as", "a s", "asa", "aps", "a m b a",
        "bv", "b v", "nv", "n v", "vzw", "asbl", "cv", "vof",
        "s r o", "sro", "z s", "o p s", "d o o", "doo", "d d", "dd", "kft", "zrt",
        "nyrt", "bt", "ou", "uab", "sia", "ad", "ood", "eood",
        "ike", "ae", "epe", "lda", "unipessoal lda", "ehf", "hf",
    )
)  # fmt: skip
# Looked up by their last word, longest first, so stripping costs a dictionary look-up per word.
_FORMS_BY_LAST_WORD: dict[str, list[tuple[str, ...]]] = {}
for _form in sorted(LEGAL_FORMS, key=lambda form: (-len(form), form)):
    _FORMS_BY_LAST_WORD.setdefault(_form[-1], []).append(_form)
_NOT_WORD = re.compile(r"[\W_]+")


# ---------------------------------------------------------------- domains


def host_of(url: str | None) -> str:
    try:
        host = urlsplit(url or "").hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".").lower()


def email_domain(email: str | None) -> str:
    return email.rsplit("@", 1)[1].strip().lower() if email and "@" in email else ""


def is_free_mail(domain: str | None) -> bool:
    domain = (domain or "").lower()
    if not domain:
        return False
    if domain in FREE_MAIL_DOMAINS or registrable_domain(domain) in FREE_MAIL_DOMAINS:
        return True
    return registrable_domain(domain).split(".")[0] in FREE_MAIL_BRANDS


def domains_match(email: str | None, website: str | None) -> bool | None:
    """True/False when both are known; None when there is nothing to compare."""
    mail_domain = email_domain(email)
    site_host = host_of(website)
    if not mail_domain or not site_host:
        return None
    return registrable_domain(mail_domain) == registrable_domain(site_host)


# ---------------------------------------------------------------- names


@lru_cache(maxsize=16384)
def organisation_key(name: str | None) -> str:
    """Case, accents, punctuation and a trailing legal form do not tell organisations apart."""
    words = _NOT_WORD.sub(" ", name_key(name or "").replace("&", " and ")).split()
    changed = True
    while changed and words:
        changed = False
        for form in _FORMS_BY_LAST_WORD.get(words[-1], ()):
            if len(words) > len(form) and tuple(words[-len(form) :]) == form:
                del words[-len(form) :]
                changed = True
                break
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return " ".join(words)


# ---------------------------------------------------------------- per row


@dataclass(frozen=True)
class DuplicateMatch:
    signature_id: int
    organisation_name: str
    state: str
    country: str


@dataclass
class Signals:
    email_domain: str = ""
    website_domain: str = ""
    domain_match: bool | None = None
    free_mail: bool = False
    duplicates: list[DuplicateMatch] = field(default_factory=list)
    same_ip: int = 0  # other endorsements from this IP within 24 h of this one
    same_domain: int = 0  # other endorsements from this email domain within 24 h

    @property
    def flags(self) -> int:
        """How many warning signs; the queue can sort or highlight by it."""
        return (
            int(self.domain_match is False and not self.free_mail)
            + int(self.free_mail)
            + int(bool(self.duplicates))
            + int(self.same_ip > 0)
        )


BURST_WINDOW = timedelta(hours=24)
_DUPLICATE_STATES = (SignatureState.APPROVED, SignatureState.VERIFIED)


def signals_for(signatures: Iterable[Signature]) -> dict[int, Signals]:
    """Signals for a page of signatures, in a few queries whatever the page size."""
    rows = list(signatures)
    if not rows:
        return {}
    result: dict[int, Signals] = {}
    for sig in rows:
        mail_domain = email_domain(sig.email)
        result[sig.id] = Signals(
            email_domain=mail_domain,
            website_domain=registrable_domain(host_of(sig.website)),
            domain_match=domains_match(sig.email, sig.website),
            free_mail=is_free_mail(mail_domain),
        )
    _add_duplicates(rows, result)
    _add_bursts(rows, result)
    return result


def _add_duplicates(rows: list[Signature], result: dict[int, Signals]) -> None:
    index: dict[tuple[int, str], list[DuplicateMatch]] = defaultdict(list)
    statement_ids = {sig.statement_id for sig in rows}
    candidates = db.session.execute(
        select(
            Signature.id,
            Signature.statement_id,
            Signature.organisation_name,
            Signature.state,
            Signature.country,
        ).where(Signature.statement_id.in_(statement_ids), Signature.state.in_(_DUPLICATE_STATES))
    )
    for sig_id, statement_id, name, state, country in candidates:
        index[(statement_id, organisation_key(name))].append(
            DuplicateMatch(sig_id, name, SignatureState(state).value, country)
        )
    for sig in rows:
        key = organisation_key(sig.organisation_name)
        if not key:
            continue
        result[sig.id].duplicates = [
            match
            for match in index.get((sig.statement_id, key), [])
            if match.signature_id != sig.id
        ]


def _add_bursts(rows: list[Signature], result: dict[int, Signals]) -> None:
    times = [sig.created_at for sig in rows if sig.created_at]
    if not times:
        return
    since, until = min(times) - BURST_WINDOW, max(times) + BURST_WINDOW
    by_ip: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    by_domain: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    nearby = db.session.execute(
        select(
            Signature.id, Signature.submitted_ip, Signature.email_normalised, Signature.created_at
        ).where(Signature.created_at >= since, Signature.created_at <= until)
    )
    for sig_id, ip, email, created in nearby:
        if ip:
            by_ip[ip].append((sig_id, created))
        domain = email_domain(email)
        if domain:
            by_domain[domain].append((sig_id, created))

    def near(entries: list[tuple[int, datetime]], sig: Signature) -> int:
        return sum(
            1
            for other_id, created in entries
            if other_id != sig.id and abs(created - sig.created_at) <= BURST_WINDOW
        )

    for sig in rows:
        if sig.created_at is None:
            continue
        signals = result[sig.id]
        if sig.submitted_ip:
            signals.same_ip = near(by_ip.get(sig.submitted_ip, []), sig)
        if signals.email_domain:
            signals.same_domain = near(by_domain.get(signals.email_domain, []), sig)
