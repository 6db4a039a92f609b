"""Form helpers shared by the blueprints: service validators as WTForms validators, a button form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms.validators import ValidationError

from . import validation


def validated_by(func, **kwargs):
    """A services.validation function as a WTForms validator that keeps the clean value.

    The normalised value lands on `field.clean`, so views store exactly what was checked.
    """

    def validator(form, field):
        try:
            field.clean = func(field.data, **kwargs)
        except validation.InvalidValue as exc:
            raise ValidationError(str(exc)) from exc

    return validator


class ButtonForm(FlaskForm):
    """A form that is only a button (confirm, withdraw, approve…): CSRF is all it carries."""
