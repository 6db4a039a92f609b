"""The staff form that records a PDF version's delivery to its addressee."""

from __future__ import annotations

from datetime import timedelta

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, ValidationError

from ..core import validation
from ..core.forms import MachineDateField, validated_by
from ..models import utcnow


class DeliveryForm(FlaskForm):
    delivered_on = MachineDateField(
        "Delivered on", validators=[InputRequired("Give the date of the delivery.")]
    )
    delivered_to = StringField(
        "Delivered to",
        validators=[validated_by(validation.clean_line, field="recipient", min_len=2, max_len=300)],
        render_kw={"maxlength": 300, "placeholder": "e.g. European Commission, DG REGIO"},
    )
    note = TextAreaField(
        "Note",
        validators=[validated_by(validation.clean_paragraphs, field="note", max_len=2000)],
        render_kw={"maxlength": 2000, "rows": 2},
    )

    def validate_delivered_on(self, field) -> None:
        # A day of slack: staff east of UTC may already be in tomorrow.
        if field.data and field.data > utcnow().date() + timedelta(days=1):
            raise ValidationError("A delivery cannot be dated in the future.")
