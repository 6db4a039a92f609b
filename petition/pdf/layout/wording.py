"""Every fixed wording of the statement PDF, in one place: English, the catalogues' source.

The PDF is one document in the statement's language: the renderer passes each wording through
gettext (`translate`) under that language. Templates use str.format fields; the renderer
escapes the data it fills in. count_in_words spells a count the way the summary line states it
("twelve thousand and four (12,004)", "zwölftausendvier (12.004)").
"""

from __future__ import annotations

from flask import has_app_context
from flask_babel import gettext, ngettext
from num2words import num2words

from ...core.i18n import N_, writing_language

# The interface's fixed list of organisation types: code -> group heading, in the PDF's order.
ORGANISATION_TYPES: tuple[tuple[str, str], ...] = (
    ("region", N_("Regions")),
    ("public_authority", N_("Public authorities")),
    ("cluster", N_("Cluster organisations")),
    ("rto", N_("Research and technology organisations")),
    ("university", N_("Universities")),
    ("company", N_("Companies")),
    ("sme", N_("SMEs")),
    ("startup", N_("Start-ups")),
    ("network", N_("Networks and associations")),
    ("ngo", N_("NGOs and civil society")),
    ("other", N_("Other organisations")),
)

PUBLISHED = N_("Published {date}")
ADDRESSEE = N_("To: {addressee}")
DATE_PLACE = N_("{place}, {date}")
INITIATIVE_OF = N_("An initiative of")
INITIATORS_COUNTED = N_(
    "The initiators, named at the beginning, are counted here and not listed again below."
)
SIGNATORIES = N_("Signatories")
SUMMARY_NONE = N_("As of {date}, no organisation has signed this statement yet.")
SUMMARY_ONE = N_("As of {date}, one (1) organisation has signed this statement.")
SUMMARY_MANY = "As of {date}, {words} ({figures}) organisations have signed this statement."
EARLIER_VERSION_NOTE = N_("endorsed an earlier version of the statement ({short_hash}, {date})")
GROUP_HEADING = N_("{label} ({count})")
CONTINUED = N_("{label} (continued)")
NO_COUNTRY = N_("Country not given")
PAGE_OF = N_("Page {page} of ")
COLOPHON_HEADING = N_("About this document")
COLOPHON_VERSION = N_("Statement version (SHA-256): {sha256}")
COLOPHON_GENERATED = N_("Generated {timestamp} by Jointly; the list is as of that time.")
COLOPHON_ACCESSIBLE = N_(
    "This PDF is meant for print and archiving and carries no tagged structure; "
    "the signatory list on the campaign website is the accessible version."
)
COLOPHON_TYPE = N_("Set in Noto Serif and Noto Sans (SIL Open Font License).")
OUTLINE_SIGNATORIES = N_("Signatories")
OUTLINE_COLOPHON = N_("About this document")

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1_000, "thousand"))


def _below_thousand(n: int, joined: bool) -> str:
    hundreds, rest = divmod(n, 100)
    parts = []
    if hundreds:
        parts.append(f"{_ONES[hundreds]} hundred")
    if rest:
        if hundreds or joined:
            parts.append("and")
        if rest < 20:
            parts.append(_ONES[rest])
        else:
            tens, ones = divmod(rest, 10)
            parts.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    return " ".join(parts)


def translate(text: str) -> str:
    """A wording in the language being written (the statement's, set by the PDF build)."""
    return gettext(text) if has_app_context() else text


def summary_many(total: int) -> str:
    """The summary line for `total` (2 and more) signatories, in the form the language's plural
    rules ask for (Polish has three)."""
    if not has_app_context():
        return SUMMARY_MANY
    return ngettext(
        "As of {date}, {words} ({figures}) organisation has signed this statement.",
        "As of {date}, {words} ({figures}) organisations have signed this statement.",
        total,
    )


def count_in_words(n: int) -> str:
    """The count spelt out in the language being written; English in British usage."""
    lang = writing_language()
    if lang != "en":
        try:
            return str(num2words(n, lang=lang))
        except NotImplementedError:
            pass
    return english_count_in_words(n)


def english_count_in_words(n: int) -> str:
    """British usage: 'one hundred and five', 'twelve thousand and four', 'one million'."""
    if n < 0:
        return "minus " + english_count_in_words(-n)
    if n == 0:
        return _ONES[0]
    parts = []
    for scale, name in _SCALES:
        if n >= scale:
            high, n = divmod(n, scale)
            parts.append(f"{english_count_in_words(high)} {name}")
    if n:
        parts.append(_below_thousand(n, joined=bool(parts)))
    return " ".join(parts)
