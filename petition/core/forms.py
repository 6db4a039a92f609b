"""Form helpers shared by the blueprints: service validators as WTForms validators, a button form."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from flask_wtf.csrf import _FlaskFormCSRF
from wtforms import DateField, DateTimeLocalField
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
            raise ValidationError(exc.translated()) from exc

    return validator


def organisation_fields(form) -> dict[str, str]:
    """The organisation fields of a form whose validators kept the clean values (sign-on, edit)."""
    return {
        "organisation_name": form.organisation_name.clean,
        "organisation_type": form.organisation_type.clean.value,
        "country": form.country.clean,
        "city": form.city.clean,
        "website": form.website.clean,
    }


class _TokenWhenShown(_FlaskFormCSRF):
    """Flask-WTF's CSRF check, with the form's own token made only if the form is shown: a POST
    that succeeds never shows it, and signing it (an HMAC, JSON and base64) was a twentieth of
    the work of a sign-on. The check itself is Flask-WTF's, unchanged."""

    def generate_csrf_token(self, csrf_token_field):
        return LazyString(super().generate_csrf_token, csrf_token_field)


class Form(FlaskForm):
    """The public forms' base: a FlaskForm whose CSRF token is made when it is rendered."""

    class Meta:
        csrf_class = _TokenWhenShown


class ButtonForm(Form):
    """A form that is only a button (confirm, withdraw, approve…): CSRF is all it carries."""


class _MachineValue:
    """A date input shows its value as HTML requires (`2026-05-01`), never the text as sent.

    WTForms echoes what was posted, so a value it could not parse (or parsed leniently, such
    as `2026-5-1`) would make the page's HTML invalid; a browser never sends one.
    """

    format: list[str]
    data: date | None

    def _value(self) -> str:
        return self.data.strftime(self.format[0]) if self.data else ""


class MachineDateField(_MachineValue, DateField):
    pass


class MachineDateTimeLocalField(_MachineValue, DateTimeLocalField):
    data: datetime | None
