"""The catalogues: every language complete, with the source's placeholders and markup (issue 12.1).

The source strings are extracted afresh from the code and templates here, so a string marked
for translation but missing from a catalogue (someone forgot `make translations`) fails too.
"""

from __future__ import annotations

import re
from collections import Counter
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from petition.core.i18n import SOURCE_LANGUAGE, TRANSLATIONS, available_languages

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = [lang for lang in available_languages() if lang != SOURCE_LANGUAGE]
#: Placeholders a translation must keep, each as often as the source has it: %(name)s and
#: %% (gettext), {name} (the PDF's str.format wording).
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%%|\{\w+\}")
#: HTML tags, which a translation must keep (the words between them may move).
TAG = re.compile(r"</?[a-z]+\b[^>]*>")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
KEYWORDS |= {"N_": None}


def _source_ids() -> set[str]:
    method_map = [
        ("petition/**.py", "python"),
        ("templates/**.html", "jinja2"),
        ("templates/**.txt", "jinja2"),
    ]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT),
        method_map,
        keywords=KEYWORDS,
        options_map={"templates/**.txt": {}, "templates/**.html": {}},
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _catalogue(lang: str) -> Catalog:
    path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    return read_po(BytesIO(path.read_bytes()), locale=lang)


def _forms(message) -> list[str]:
    return list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]


def test_the_seven_languages_are_offered():
    assert set(available_languages()) >= {"en", "nl", "de", "fr", "es", "it", "pl"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_marked_string_is_in_the_catalogue_and_translated(lang):
    catalogue = _catalogue(lang)
    ids = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalogue if m.id}
    missing = sorted(_source_ids() - ids)
    assert not missing, (
        f"{len(missing)} strings not in {lang} (run make translations): {missing[:5]}"
    )
    untranslated = [m.id for m in catalogue if m.id and not all(form.strip() for form in _forms(m))]
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert not untranslated, f"{len(untranslated)} untranslated in {lang}: {untranslated[:5]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy in {lang}: {fuzzy[:5]}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_the_placeholders_and_markup(lang):
    catalogue = _catalogue(lang)
    wrong = []
    for message in catalogue:
        if not message.id:
            continue
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = Counter(PLACEHOLDER.findall(sources[-1]))
        tags = Counter(re.sub(r"\s+", " ", t) for t in TAG.findall(sources[-1]))
        for form in _forms(message):
            if not form:
                continue  # untranslated: the test above says so
            got = Counter(PLACEHOLDER.findall(form))
            # A plural form may leave out the count where the language's grammar spells it
            # ("one organisation"): %(num)s alone may be missing.
            if got != wanted and not (got + Counter({"%(num)s": 1}) == wanted):
                wrong.append((message.id, form, "placeholders"))
            if Counter(re.sub(r"\s+", " ", t) for t in TAG.findall(form)) != tags:
                wrong.append((message.id, form, "markup"))
    assert not wrong, f"{len(wrong)} in {lang}: {wrong[:3]}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_plural_forms_are_the_languages_own(lang):
    catalogue = _catalogue(lang)
    # CLDR's forms: Polish has three (1, 2–4, 5…); French, Spanish and Italian a third one for
    # millions ("1 million de…") since CLDR 42.
    assert catalogue.num_plurals == get_plural(lang).num_plurals
    if lang == "pl":
        assert catalogue.num_plurals == 3
    for message in catalogue:
        if isinstance(message.id, tuple):
            assert len(_forms(message)) == catalogue.num_plurals, message.id
