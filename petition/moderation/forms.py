"""Console forms; every value is checked server-side with the same rules as the sign-on form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from ..core import validation
from ..core.forms import organisation_fields, validated_by
from ..core.http import MAX_ID, is_id_text
from ..models import ORGANISATION_TYPE_LABELS, SignatureState
from .service import SignatureEdit

MAX_REASON = 1000
REJECTION_REASONS = (
    "Not an organisation",
    "Duplicate of an existing endorsement",
    "Could not verify that the person represents the organisation",
    "Spam or test submission",
    "Outside the scope of the statement",
)


def parse_state(value: str | None) -> SignatureState | None:
    """A state's code as sent (None when empty); ValueError for anything else."""
    value = (value or "").strip()
    return SignatureState(value) if value else None


class _Routing:
    """Hidden fields every action form carries: what the moderator saw and where to go back."""

    expected_state = HiddenField()
    statement_id = HiddenField()
    next = HiddenField()

    def expected(self) -> SignatureState | None:
        try:
            return parse_state(self.expected_state.data)
        except ValueError:
            raise ValidationError("unknown state") from None

    def statement(self) -> int | None:
        value = (self.statement_id.data or "").strip()
        if not value:
            return None
        if not (value.isascii() and value.isdigit()) or len(value) > 9:
            raise ValidationError("bad statement id")
        return int(value)


class ActionForm(_Routing, FlaskForm):
    reason = TextAreaField(
        "Reason",
        validators=[Optional(), Length(max=MAX_REASON)],
        render_kw={"maxlength": MAX_REASON, "rows": 2},
    )
    notify = BooleanField("Email the reason to the contact")


class IdListField(Field):
    """The checked rows of a list: each value a plain ASCII number naming a signature."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data: list[int] = []
        for raw in valuelist:
            if not is_id_text(raw) or len(raw) > 10 or int(raw) > MAX_ID:
                raise ValueError("The selection carried something that is not a signature id.")
            if int(raw) not in self.data:
                self.data.append(int(raw))

    def _value(self) -> str:
        return ""


class BulkForm(_Routing, FlaskForm):
    ids = IdListField()
    action = SelectField(
        "Action",
        choices=[
            SelectChoice("approve", "Approve"),
            SelectChoice("reject", "Reject"),
            SelectChoice("unpublish", "Unpublish"),
            SelectChoice("reopen", "Reopen"),
        ],
    )
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=MAX_REASON)])
    notify = BooleanField("Email the reason to each contact")


class EditForm(FlaskForm):
    organisation_name = StringField(
        "Organisation name",
        validators=[validated_by(validation.printed_line, field="organisation name", min_len=2)],
        render_kw={"maxlength": 200, "required": True},
    )
    organisation_type = SelectField(
        "Type",
        choices=[SelectChoice(t.value, label) for t, label in ORGANISATION_TYPE_LABELS.items()],
        validate_choice=False,
        validators=[validated_by(validation.organisation_type)],
    )
    country = SelectField(
        "Country", validate_choice=False, validators=[validated_by(validation.country_code)]
    )
    city = StringField(
        "City",
        validators=[validated_by(validation.printed_line, field="city", max_len=100)],
        render_kw={"maxlength": 100},
    )
    website = StringField(
        "Website",
        validators=[validated_by(validation.website)],
        render_kw={"maxlength": 300, "inputmode": "url"},
    )
    comment = TextAreaField(
        "Public comment",
        validators=[validated_by(validation.clean_paragraphs, field="comment", max_len=1000)],
        render_kw={"maxlength": 1000, "rows": 3},
    )
    note = TextAreaField(
        "Staff note (never public)",
        validators=[validated_by(validation.clean_paragraphs, field="note", max_len=2000)],
        render_kw={"maxlength": 2000, "rows": 2},
    )
    row_version = IntegerField(validators=[InputRequired()])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = [
            SelectChoice(code, name) for code, name in validation.country_choices()
        ]

    def to_edit(self) -> SignatureEdit:
        return SignatureEdit(
            **organisation_fields(self),
            comment=self.comment.clean,
            note=self.note.clean,
        )
