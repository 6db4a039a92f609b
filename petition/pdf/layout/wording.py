"""Every fixed wording of the statement PDF, in one place (English; one catalogue later).

Templates use str.format fields; the renderer escapes the data it fills in. count_in_words spells a
count the way the summary line states it ("twelve thousand and four (12,004)").
"""

from __future__ import annotations

# The interface's fixed list of organisation types: code -> group heading, in the PDF's order.
ORGANISATION_TYPES: tuple[tuple[str, str], ...] = (
    ("region", "Regions"),
    ("public_authority", "Public authorities"),
    ("cluster", "Cluster organisations"),
    ("rto", "Research and technology organisations"),
    ("university", "Universities"),
    ("company", "Companies"),
    ("sme", "SMEs"),
    ("startup", "Start-ups"),
    ("network", "Networks and associations"),
    ("ngo", "NGOs and civil society"),
    ("other", "Other organisations"),
)

PUBLISHED = "Published {date}"
ADDRESSEE = "To: {addressee}"
DATE_PLACE = "{place}, {date}"
INITIATIVE_OF = "An initiative of"
SIGNATORIES = "Signatories"
SUMMARY_NONE = "As of {date}, no organisation has signed this statement yet."
SUMMARY_ONE = "As of {date}, one (1) organisation has signed this statement."
SUMMARY_MANY = "As of {date}, {words} ({figures}) organisations have signed this statement."
EARLIER_VERSION_NOTE = "endorsed an earlier version of the statement ({short_hash}, {date})"
GROUP_HEADING = "{label} ({count})"
CONTINUED = "{label} (continued)"
NO_COUNTRY = "Country not given"
PAGE_OF = "Page {page} of "
COLOPHON_HEADING = "About this document"
COLOPHON_VERSION = "Statement version (SHA-256): {sha256}"
COLOPHON_GENERATED = "Generated {timestamp} by Jointly; the list is as of that time."
COLOPHON_ACCESSIBLE = (
    "This PDF is meant for print and archiving and carries no tagged structure; "
    "the signatory list on the campaign website is the accessible version."
)
COLOPHON_TYPE = "Set in Noto Serif and Noto Sans (SIL Open Font License)."
OUTLINE_SIGNATORIES = "Signatories"
OUTLINE_COLOPHON = "About this document"

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


def count_in_words(n: int) -> str:
    """British usage: 'one hundred and five', 'twelve thousand and four', 'one million'."""
    if n < 0:
        return "minus " + count_in_words(-n)
    if n == 0:
        return _ONES[0]
    parts = []
    for scale, name in _SCALES:
        if n >= scale:
            high, n = divmod(n, scale)
            parts.append(f"{count_in_words(high)} {name}")
    if n:
        parts.append(_below_thousand(n, joined=bool(parts)))
    return " ".join(parts)
