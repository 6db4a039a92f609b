"""The manage page's correction form: the sign-on form's fields and names, prefilled."""

from __future__ import annotations

from wtforms import IntegerField
from wtforms.validators import InputRequired
from wtforms.widgets import HiddenInput

from ..models import OrganisationType, Signature
from .forms import SignForm


class ManageForm(SignForm):
    """Every field of the sign-on form, with its checks; consent was given when signing, and
    the honeypot only guards the public form. `row_version` is the version the form was made
    from: a form older than the stored endorsement is refused, not applied."""

    consent = None
    fax_number = None
    row_version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])

    @classmethod
    def of(cls, signature: Signature) -> ManageForm:
        """The form showing the stored details."""
        form = cls(formdata=None, obj=signature)
        form.organisation_type.data = OrganisationType(signature.organisation_type).value
        return form
