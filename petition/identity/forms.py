"""The identity page's two forms: the texts, and the logo (one of the forms that take a file)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField

from .service import IdentityInput


class IdentityForm(FlaskForm):
    name = StringField("Campaign name", render_kw={"maxlength": 200, "required": True})
    short_name = StringField("Short name", render_kw={"maxlength": 60, "required": True})
    organisation_name = StringField(
        "Legal name of the organisation that runs the campaign (the data controller)",
        render_kw={"maxlength": 300},
    )
    organisation_address = TextAreaField(
        "Its postal address", render_kw={"maxlength": 500, "rows": 3}
    )
    organisation_email = StringField(
        "Its email for data-protection requests", render_kw={"maxlength": 254, "type": "email"}
    )
    contact_email = StringField(
        "Public contact address (footer of every page and email)",
        render_kw={"maxlength": 254, "type": "email"},
    )
    sender_name = StringField("Sender name of the emails", render_kw={"maxlength": 100})
    sender_email = StringField(
        "Sender address of the emails", render_kw={"maxlength": 254, "type": "email"}
    )
    reply_to = StringField(
        "Reply-To address (replies to the emails go here)",
        render_kw={"maxlength": 254, "type": "email"},
    )
    processors = TextAreaField(
        "Recipients and processors named in the privacy notice, one a line",
        render_kw={"maxlength": 2000, "rows": 4},
    )

    def raw(self) -> dict[str, str | None]:
        return {name: getattr(self, name).data for name in IdentityInput.__dataclass_fields__}


class LogoForm(FlaskForm):
    logo = FileField("Logo (SVG or PNG, at most 1 MB)")
