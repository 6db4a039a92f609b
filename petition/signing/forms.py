"""The sign-on form and the lost-link form; every check runs server-side via services.validation."""

from __future__ import annotations

from functools import lru_cache

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import ValidationError

from ..core import validation
from ..core.forms import Form, organisation_fields, validated_by
from ..core.i18n import N_, current_language, localised_countries
from ..models import ORGANISATION_TYPE_LABELS
from .service import SignatureInput

EU_GROUP = N_("EU member states")
OTHERS_GROUP = N_("Other countries")


class SignForm(Form):
    organisation_name = StringField(
        _l("Name of the organisation"),
        validators=[
            validated_by(validation.printed_line, field=N_("organisation name"), min_len=2)
        ],
        render_kw={"autocomplete": "organization", "maxlength": 200, "required": True},
    )
    organisation_type = SelectField(
        _l("Type of organisation"),
        choices=[SelectChoice("", _l("Choose a type…"))]
        + [SelectChoice(t.value, _l(label)) for t, label in ORGANISATION_TYPE_LABELS.items()],
        validate_choice=False,
        validators=[validated_by(validation.organisation_type)],
        render_kw={"required": True},
    )
    country = SelectField(
        _l("Country"),
        validate_choice=False,
        validators=[validated_by(validation.country_code)],
        render_kw={"autocomplete": "country", "required": True},
    )
    city = StringField(
        _l("City or town"),
        validators=[validated_by(validation.printed_line, field=N_("city"), max_len=100)],
        render_kw={"autocomplete": "address-level2", "maxlength": 100},
    )
    website = StringField(
        _l("Website of the organisation"),
        # Optional (not every network has a site of its own), but asked for: it is the
        # moderators' strongest cheap authenticity check against the email's domain.
        validators=[validated_by(validation.website)],
        render_kw={
            "autocomplete": "url",
            "inputmode": "url",
            "maxlength": 300,
            "placeholder": "https://www.example.org",
        },
    )
    contact_name = StringField(
        _l("Your name"),
        validators=[
            validated_by(validation.clean_line, field=N_("contact person's name"), min_len=2)
        ],
        render_kw={"autocomplete": "name", "maxlength": 200, "required": True},
    )
    contact_role = StringField(
        _l("Your job title or role"),
        validators=[
            validated_by(validation.clean_line, field=N_("contact person's role"), max_len=200)
        ],
        render_kw={"autocomplete": "organization-title", "maxlength": 200},
    )
    email = EmailField(
        _l("Your work email address"),
        validators=[validated_by(validation.email_address)],
        render_kw={
            "autocomplete": "email",
            "maxlength": 254,
            "required": True,
            "spellcheck": "false",
        },
    )
    comment = TextAreaField(
        _l("A short public comment"),
        validators=[validated_by(validation.clean_paragraphs, field=N_("comment"), max_len=1000)],
        render_kw={"maxlength": 1000, "rows": 3},
    )
    consent = BooleanField("consent")
    # Optional and unticked: campaign mailings go only to contacts who ask for them.
    keep_informed = BooleanField(_l("Keep me informed about this statement"))
    # Honeypot: hidden from people, irresistible to form-filling bots.
    fax_number = StringField(
        _l("Leave this field empty"), render_kw={"autocomplete": "off", "tabindex": "-1"}
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = _country_choices(current_language())

    def validate_consent(self, field) -> None:
        if not field.data:
            raise ValidationError(
                _(
                    "Tick the box to agree that the organisation's name is published and to the "
                    "privacy notice."
                )
            )

    @property
    def is_bot(self) -> bool:
        return bool((self.fax_number.data or "").strip())

    def to_input(self) -> SignatureInput:
        email, email_key = self.email.clean
        return SignatureInput(
            **organisation_fields(self),
            contact_name=self.contact_name.clean,
            contact_role=self.contact_role.clean,
            email=email,
            email_normalised=email_key,
            comment=self.comment.clean,
            keep_informed=bool(self.keep_informed.data),
            lang=current_language(),
        )


@lru_cache(maxsize=16)
def _country_choices(lang: str) -> list[SelectChoice]:
    # Built once per process and language (WTForms only reads the list): about 250 entries on
    # every form were a good part of a submission's cost. The likely countries first, in their
    # own labelled group; each country still appears once, with its ISO code as the value. The
    # names in the form's language, sorted in it.
    eu, others = validation.country_choices_eu_first()
    eu, others = localised_countries(eu), localised_countries(others)
    eu_group, others_group = _(EU_GROUP), _(OTHERS_GROUP)
    return (
        [SelectChoice("", _("Choose a country…"))]
        + [SelectChoice(code, name, optgroup=eu_group) for code, name in eu]
        + [SelectChoice(code, name, optgroup=others_group) for code, name in others]
    )


class LostLinkForm(Form):
    email = EmailField(
        _l("Email address used to sign"),
        validators=[validated_by(validation.email_address)],
        render_kw={"autocomplete": "email", "required": True, "spellcheck": "false"},
    )
