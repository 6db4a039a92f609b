"""Normalisation and validation of organisation data, shared by the form, the import and the console."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pycountry
from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_app_context
from publicsuffixlist import PublicSuffixList

from ..models import OrganisationType
from .i18n import N_


class InvalidValue(ValueError):
    """A value that cannot be stored; the message is shown to the person who typed it.

    `message` is an English template with %(name)s fields (a msgid of the catalogues, marked
    with N_); str() is the English text (logs, the CLI), `translated()` the text in the
    language of the page. A `field` parameter names the field and is translated too.
    """

    def __init__(self, message: str, **params: object) -> None:
        self.message = message
        self.params = params
        super().__init__(message % params if params else message)

    def translated(self) -> str:
        from flask_babel import gettext  # noqa: PLC0415 - the CLI and jobs need no Babel

        params = dict(self.params)
        if isinstance(params.get("field"), str):
            params["field"] = gettext(str(params["field"]))
        return gettext(self.message) % params if params else gettext(self.message)


_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
)
_CONTROL_OR_NEWLINE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)
_SPACES = re.compile(r"\s+")
WEBSITE_MAX_LEN = 300  # Signature.website
EMAIL_MAX_LEN = 254  # RFC 5321 path limit; Signature.email is 320
# One DNS label of a public host name (after IDNA encoding), and a top-level domain.
_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


def _refuse_unreadable(text: str, field: str) -> None:
    # U+FFFD is what a decoder leaves for bytes that were not UTF-8: storing it would keep garbage.
    if "\ufffd" in text:
        raise InvalidValue(
            N_("The %(field)s contains characters that could not be read; type it again."),
            field=field,
        )


def clean_line(value: str | None, *, field: str, min_len: int = 0, max_len: int = 200) -> str:
    """One line of text: NFC, trimmed, inner whitespace folded, no control characters."""
    text = unicodedata.normalize("NFC", value or "")
    _refuse_unreadable(text, field)
    if _CONTROL_OR_NEWLINE.search(text.strip()):
        raise InvalidValue(
            N_("The %(field)s must not contain control characters or line breaks."), field=field
        )
    text = _SPACES.sub(" ", text).strip()
    if min_len and len(text) < min_len:
        if not text:
            raise InvalidValue(N_("Enter the %(field)s."), field=field)
        raise InvalidValue(
            N_("The %(field)s must be at least %(min)s characters."), field=field, min=min_len
        )
    if len(text) > max_len:
        raise InvalidValue(
            N_("The %(field)s must be at most %(max)s characters."), field=field, max=max_len
        )
    return text


# The statement PDF prints organisation names and cities in the Noto faces shipped with it
# (pdf/layout/fonts; every face there has this same character map). A character outside it would
# print as the font's empty .notdef box (PDF/A forbids it), so the name would reach the
# European Commission mutilated: such text is refused where it is typed instead.
PDF_FONT_FILE = (
    Path(__file__).resolve().parents[1] / "pdf" / "layout" / "fonts" / "NotoSerif-Regular.ttf"
)
_SHOWN_AT_MOST = 8


@lru_cache(maxsize=1)
def pdf_font_coverage() -> frozenset[int]:
    """The code points the PDF's fonts can draw, read once from the shipped font's cmap."""
    from reportlab.pdfbase.ttfonts import TTFontFace  # noqa: PLC0415 - only when first needed

    # Without U+FFFF, the end marker of the cmap's last segment, which ReportLab keeps.
    return frozenset(TTFontFace(str(PDF_FONT_FILE)).charToGlyph) - {0xFFFF}


def unprintable_characters(text: str) -> list[str]:
    """The distinct characters of `text` the PDF cannot draw, in order of appearance."""
    coverage = pdf_font_coverage()
    missing = dict.fromkeys(ch for ch in text if ord(ch) not in coverage and not ch.isspace())
    return list(missing)


def _describe(characters: list[str]) -> str:
    shown = ", ".join(f"{ch} (U+{ord(ch):04X})" for ch in characters[:_SHOWN_AT_MOST])
    return shown + (", …" if len(characters) > _SHOWN_AT_MOST else "")


def printed_line(value: str | None, *, field: str, min_len: int = 0, max_len: int = 200) -> str:
    """A clean_line that the statement PDF prints: only characters its fonts can draw."""
    text = clean_line(value, field=field, min_len=min_len, max_len=max_len)
    missing = unprintable_characters(text)
    if missing:
        raise InvalidValue(
            N_(
                "The %(field)s contains characters that the statement's PDF cannot print:"
                " %(characters)s. Write it in Latin, Greek or Cyrillic letters."
            ),
            field=field,
            characters=_describe(missing),
        )
    return text


def clean_paragraphs(value: str | None, *, field: str, max_len: int = 1000) -> str:
    """Free text that may keep line breaks (a public comment)."""
    text = unicodedata.normalize("NFC", value or "").replace("\r\n", "\n").replace("\r", "\n")
    _refuse_unreadable(text, field)
    if _CONTROL.search(text):
        raise InvalidValue(N_("The %(field)s must not contain control characters."), field=field)
    text = "\n".join(line.strip() for line in text.strip().split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    if len(text) > max_len:
        raise InvalidValue(
            N_("The %(field)s must be at most %(max)s characters."), field=field, max=max_len
        )
    return text


def organisation_type(value: str | None) -> OrganisationType:
    try:
        return OrganisationType((value or "").strip())
    except ValueError as exc:
        raise InvalidValue(N_("Choose the type of organisation from the list.")) from exc


@lru_cache(maxsize=1)
def country_choices() -> list[tuple[str, str]]:
    """(alpha-2, name) for every ISO 3166-1 country, sorted by name."""
    return sorted(
        ((c.alpha_2, country_display_name(c.alpha_2)) for c in pycountry.countries),
        key=lambda pair: name_key(pair[1]),
    )


# The 27 member states of the European Union (since 1 February 2020), by ISO 3166-1 alpha-2 code:
# Greece is GR here, as in every other field of ours, not the EU's own "EL".
EU_MEMBER_STATES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)


def country_choices_eu_first() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The EU member states and then every other country, each sorted by name (the sign-on form)."""
    countries = country_choices()
    return (
        [pair for pair in countries if pair[0] in EU_MEMBER_STATES],
        [pair for pair in countries if pair[0] not in EU_MEMBER_STATES],
    )


@lru_cache(maxsize=512)
def country_display_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return getattr(country, "common_name", None) or country.name


def country_code(value: str | None) -> str:
    code = (value or "").strip().upper()
    if len(code) != 2 or not code.isascii() or pycountry.countries.get(alpha_2=code) is None:
        raise InvalidValue(N_("Choose a country from the list."))
    return code


def website(value: str | None, *, required: bool = False) -> str:
    """A http(s) URL, normalised: scheme added when missing, host lower-cased, no credentials."""
    text = (value or "").strip()
    if not text:
        if required:
            raise InvalidValue(N_("Enter the organisation's website."))
        return ""
    if len(text) > WEBSITE_MAX_LEN:
        raise InvalidValue(
            N_("The website address must be at most %(max)s characters."), max=WEBSITE_MAX_LEN
        )
    if _CONTROL_OR_NEWLINE.search(text) or " " in text:
        raise InvalidValue(N_("Enter a website address such as https://www.example.org."))
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidValue(N_("Enter a website address such as https://www.example.org.")) from exc
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidValue(N_("The website address must start with http:// or https://."))
    if parts.username or parts.password:
        raise InvalidValue(N_("The website address must not contain a user name or password."))
    if "." not in host or host.startswith(".") or ".." in host:
        raise InvalidValue(N_("Enter a website address such as https://www.example.org."))
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise InvalidValue(N_("The website's domain name is not valid.")) from exc
    labels = host.split(".")
    # urlsplit accepts any character in a host; only a domain name with a real TLD is a website
    # (no IP addresses, no quotes or angle brackets that would end up in a link).
    if not all(_HOST_LABEL.match(label) for label in labels) or not _TLD.match(labels[-1]):
        raise InvalidValue(N_("The website's domain name is not valid."))
    netloc = host + (f":{port}" if port and port not in (80, 443) else "")
    path = parts.path if parts.path not in ("", "/") else ""
    stored = urlunsplit((parts.scheme.lower(), netloc, path, parts.query, ""))
    # The stored form is what must fit the column: "https://" and IDNA make it longer than typed.
    if len(stored) > WEBSITE_MAX_LEN:
        raise InvalidValue(
            N_(
                "The website address must be at most %(max)s characters"
                " (with https:// and the domain name in its encoded form)."
            ),
            max=WEBSITE_MAX_LEN,
        )
    return stored


def email_address(value: str | None, utf8_local_part: bool | None = None) -> tuple[str, str]:
    """Return (address to send to, key for duplicate detection); no DNS look-up.

    `utf8_local_part`: accept a part before the @ beyond ASCII (jöhn@…); by default as the
    MAIL_SMTPUTF8 setting says, since only a relay with SMTPUTF8 can take such an address.
    """
    text = (value or "").strip()
    if not text:
        raise InvalidValue(N_("Enter an email address."))
    if len(text) > EMAIL_MAX_LEN:
        raise InvalidValue(N_("The email address is too long."))
    if utf8_local_part is None:
        utf8_local_part = has_app_context() and bool(current_app.config.get("MAIL_SMTPUTF8"))
    local_part = text.rsplit("@", 1)[0]
    if not local_part.isascii() and not utf8_local_part:
        # Such an address needs a mail server with SMTPUTF8 all the way (MAIL_SMTPUTF8 says the
        # relay has it): accepting it otherwise would queue mail that never leaves.
        raise InvalidValue(
            N_(
                "Enter an email address whose part before the @ uses only Latin letters without"
                " accents, digits and . _ + - (the part after the @ may use any script)."
            )
        )
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise InvalidValue(N_("Enter a valid email address: %(reason)s"), reason=str(exc)) from exc
    if len(result.normalized) > EMAIL_MAX_LEN:  # normalising can lengthen (NFC of some scripts)
        raise InvalidValue(N_("The email address is too long."))
    return result.normalized, normalise_email(result.normalized)


def normalise_email(value: str) -> str:
    return unicodedata.normalize("NFC", value.strip()).casefold()


def name_key(name: str) -> str:
    """Sort and search key: accents folded, case folded (Łódź → lodz, Ελλάδα stays Greek)."""
    decomposed = unicodedata.normalize("NFKD", name.replace("ł", "l").replace("Ł", "L"))
    # Control characters never belong in a key (and PostgreSQL refuses NUL in a search term).
    stripped = "".join(
        " " if unicodedata.category(ch) == "Cc" else ch
        for ch in decomposed
        if not unicodedata.combining(ch)
    )
    return _SPACES.sub(" ", stripped).strip().casefold()


# Letters that Unicode does not decompose into a base letter and an accent, as people type them.
_LETTERS = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ħ": "h"}
)
_NOT_ALNUM = re.compile(r"[^\w]|_")
#: Separates the name from the city in the stored search key; never in a folded query.
SEARCH_KEY_SEPARATOR = "|"
SEARCH_KEY_LENGTH = 320


def search_fold(text: str) -> str:
    """Search form of a text: name_key, then every run of punctuation, hyphens, apostrophes and
    spaces made one space ("Île-de-France" → "ile de france", "d’Aragon" → "d aragon")."""
    folded = name_key(text).translate(_LETTERS)
    return " ".join(_NOT_ALNUM.sub(" ", folded).split())


def search_key(organisation_name: str, city: str) -> str:
    """The stored key that public and staff search match a folded query against (a substring
    of the name's fold or of the city's, never across the two)."""
    key = f"{search_fold(organisation_name)}{SEARCH_KEY_SEPARATOR}{search_fold(city)}"
    return key[:SEARCH_KEY_LENGTH]


def derived_columns(
    organisation_name: str, organisation_type: str, country: str, city: str
) -> dict:
    """The columns kept in step with an organisation's public fields, for sorting and search."""
    return {
        "organisation_name_key": name_key(organisation_name)[:200],
        "organisation_type_order": OrganisationType(organisation_type).order,
        "country_name": country_display_name(country),
        "city_key": name_key(city)[:100],
        "search_key": search_key(organisation_name, city),
    }


@dataclass(frozen=True)
class OrganisationFields:
    """An organisation's public details as validated: from the sign-on form or the console's edit."""

    organisation_name: str
    organisation_type: str
    country: str
    city: str
    website: str


@lru_cache(maxsize=1)
def _public_suffixes() -> PublicSuffixList:
    # The list bundled with the pinned package: nothing is downloaded at run time.
    return PublicSuffixList()


def registrable_domain(host: str | None) -> str:
    """www.mail.lodzkie.pl -> lodzkie.pl; www.ed.ac.uk -> ed.ac.uk; an IP address stays as it is.

    The Public Suffix List decides where the registrable part starts (ac.uk, gv.at, and
    hosting suffixes such as github.io, where each subdomain is a different owner).
    """
    host = (host or "").strip().rstrip(".").lower()
    if not host or host.replace(".", "").isdigit() or ":" in host:
        return host
    labels = [label for label in host.split(".") if label]
    host = ".".join(labels)
    return _public_suffixes().privatesuffix(host) or host
