"""Statement admin forms: signing dates and state, campaign updates."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Optional

from ..core import validation
from ..core.forms import MachineDateField, MachineDateTimeLocalField, validated_by
from ..models import OPEN_DATA_LICENCES, Statement, UpdateKind
from .campaign import StatementSettings, UpdateInput, link_url


def _naive(value: datetime | None) -> datetime | None:
    """datetime-local inputs show UTC wall time."""
    return value.astimezone(UTC).replace(tzinfo=None) if value else None


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value else None


class StatementSettingsForm(FlaskForm):
    is_open = BooleanField("Open for signing")
    signing_opens_at = MachineDateTimeLocalField(
        "Signing opens (UTC)", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    signing_closes_at = MachineDateTimeLocalField(
        "Signing closes (UTC)", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    list_public_from = MachineDateTimeLocalField(
        "List and PDF published from (UTC)", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    data_licence = SelectField(
        "Licence of the open data",
        choices=[SelectChoice(code, name) for code, (name, _url) in OPEN_DATA_LICENCES.items()],
        # Left out of a post, the statement's licence stays (the form is filled from it).
        validators=[Optional()],
    )

    @classmethod
    def for_statement(cls, statement: Statement, formdata=None) -> StatementSettingsForm:
        """The form filled from the statement (GET), or from the posted data over it (POST)."""
        return cls(
            formdata=formdata,
            data={
                "is_open": statement.is_open,
                "signing_opens_at": _naive(statement.signing_opens_at),
                "signing_closes_at": _naive(statement.signing_closes_at),
                "list_public_from": _naive(statement.list_public_from),
                "data_licence": statement.data_licence,
            },
        )

    def to_settings(self) -> StatementSettings:
        return StatementSettings(
            is_open=bool(self.is_open.data),
            signing_opens_at=_aware(self.signing_opens_at.data),
            signing_closes_at=_aware(self.signing_closes_at.data),
            list_public_from=_aware(self.list_public_from.data),
            data_licence=self.data_licence.data or "CC0-1.0",
        )


class UpdateForm(FlaskForm):
    kind = SelectField(
        "Kind",
        choices=[
            SelectChoice(UpdateKind.NEWS.value, "News"),
            SelectChoice(UpdateKind.QUOTE.value, "Quote"),
            SelectChoice(UpdateKind.EVENT.value, "Event"),
        ],
    )
    title = StringField(
        "Title",
        validators=[validated_by(validation.clean_line, field="title", min_len=2, max_len=300)],
        render_kw={"maxlength": 300, "required": True},
    )
    body = TextAreaField(
        "Text",
        validators=[validated_by(validation.clean_paragraphs, field="text", max_len=5000)],
        render_kw={"maxlength": 5000, "rows": 6},
    )
    link_url = StringField(
        "Link (http or https)",
        validators=[validated_by(link_url)],
        render_kw={"maxlength": 500, "inputmode": "url", "placeholder": "https://"},
    )
    link_label = StringField(
        "Link text",
        validators=[validated_by(validation.clean_line, field="link text", max_len=200)],
        render_kw={"maxlength": 200, "placeholder": "Read more"},
    )
    published_on = MachineDateField("Date shown", validators=[Optional()])
    attribution = StringField(
        "Quote: who said it",
        validators=[validated_by(validation.clean_line, field="attribution", max_len=300)],
        render_kw={"maxlength": 300, "placeholder": "Name, role"},
    )
    event_date = MachineDateField("Event: date", validators=[Optional()])
    place = StringField(
        "Event: place",
        validators=[validated_by(validation.clean_line, field="place", max_len=200)],
        render_kw={"maxlength": 200, "placeholder": "City, venue — or Online"},
    )

    def to_input(self) -> UpdateInput:
        return UpdateInput(
            kind=self.kind.data,
            title=self.title.clean,
            body=self.body.clean,
            link_url=self.link_url.clean,
            link_label=self.link_label.clean,
            published_on=self.published_on.data,
            attribution=self.attribution.clean,
            event_date=self.event_date.data,
            place=self.place.clean,
        )


class StatementCreateForm(FlaskForm):
    title = StringField(
        "Title",
        validators=[validated_by(validation.printed_line, field="title", min_len=3, max_len=300)],
        render_kw={"maxlength": 300},
    )
    slug = StringField(
        "Web address",
        validators=[InputRequired("Choose the web address.")],
        render_kw={"maxlength": 100, "spellcheck": "false", "placeholder": "eu-innovation-2027"},
    )
    subtitle = StringField(
        "Subtitle",
        validators=[validated_by(validation.printed_line, field="subtitle", max_len=500)],
        render_kw={"maxlength": 500},
    )
    language = StringField(
        "Language of the text",
        default="en",
        validators=[InputRequired("Give the language of the text, e.g. en.")],
        render_kw={"maxlength": 16, "spellcheck": "false"},
    )
    campaign = StringField(
        "Campaign",
        validators=[validated_by(validation.printed_line, field="campaign", max_len=300)],
        render_kw={"maxlength": 300},
    )
    initiators = TextAreaField("Initiators (“An initiative of …”)", render_kw={"rows": 4})
    body = TextAreaField(
        "Text (Markdown)",
        validators=[InputRequired("Write the statement's text.")],
        render_kw={"rows": 18, "class": "markdown-editor"},
    )


class StatementTextForm(FlaskForm):
    body = TextAreaField(
        "Text (Markdown)",
        validators=[InputRequired("The statement text is empty.")],
        render_kw={"rows": 24, "class": "markdown-editor"},
    )
    based_on = HiddenField()
    confirm = BooleanField("I understand: this publishes a new version of the statement")


class PdfLetterForm(FlaskForm):
    """The statement PDF's letter lines: "To: …" and "place, date" above the title."""

    addressee = StringField(
        "Addressee",
        validators=[validated_by(validation.printed_line, field="addressee", max_len=300)],
        render_kw={"maxlength": 300, "placeholder": "European Commission"},
    )
    place = StringField(
        "Place",
        validators=[validated_by(validation.printed_line, field="place", max_len=120)],
        render_kw={"maxlength": 120, "placeholder": "Brussels"},
    )
    letter_date = MachineDateField("Date", validators=[Optional()])

    @classmethod
    def for_statement(cls, statement: Statement) -> PdfLetterForm:
        return cls(
            formdata=None,
            data={
                "addressee": statement.pdf_addressee or "",
                "place": statement.pdf_place or "",
                "letter_date": statement.pdf_date,
            },
        )


class InitiatorsForm(FlaskForm):
    names = TextAreaField("Initiators, one a line, in order", render_kw={"rows": 6})


class TranslationForm(FlaskForm):
    """A translation of the statement's current text into one language (statements/translations)."""

    title = StringField(
        "Title",
        validators=[InputRequired("Enter the translated title.")],
        render_kw={"maxlength": 300},
    )
    subtitle = StringField("Subtitle", render_kw={"maxlength": 500})
    body = TextAreaField(
        "Text (Markdown)",
        validators=[InputRequired("The translated text is empty.")],
        render_kw={"rows": 24, "class": "markdown-editor"},
    )
