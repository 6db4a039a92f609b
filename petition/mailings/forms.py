"""The mailing's compose form: a subject and a Markdown text per language, the statement's first."""

from __future__ import annotations

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField

from ..core.validation import InvalidValue
from .service import SITE_LANGUAGES, Text, clean_text


class MailingForm(FlaskForm):
    """Fields `subject_<lang>` and `body_<lang>` for each site language (see `for_languages`)."""

    languages: tuple[str, ...] = ()

    @classmethod
    def for_languages(cls, default: str, formdata=None, texts: dict[str, Text] | None = None):
        languages = (default, *[lang for lang in SITE_LANGUAGES if lang != default])

        class Form(cls):  # type: ignore[valid-type, misc]
            pass

        for lang in languages:
            setattr(
                Form,
                f"subject_{lang}",
                StringField(lazy_gettext("Subject"), render_kw={"maxlength": 200}),
            )
            setattr(
                Form,
                f"body_{lang}",
                TextAreaField(
                    lazy_gettext("Text"), render_kw={"rows": 12, "class": "markdown-editor"}
                ),
            )
        Form.languages = languages
        form = Form(formdata=formdata)
        if formdata is None:
            for lang, text in (texts or {}).items():
                if lang in languages:
                    form[f"subject_{lang}"].data = text.subject
                    form[f"body_{lang}"].data = text.body
        return form

    def texts(self) -> dict[str, Text] | None:
        """The texts typed, each checked; None (with the errors on the fields) if one is wrong."""
        texts: dict[str, Text] = {}
        ok = True
        for lang in self.languages:
            subject, body = self[f"subject_{lang}"], self[f"body_{lang}"]
            try:
                text = clean_text(subject.data, body.data)
            except InvalidValue as exc:
                body.errors = [*body.errors, str(exc)]
                ok = False
                continue
            if text is not None:
                texts[lang] = text
        default = self.languages[0]
        if ok and default not in texts:
            self[f"subject_{default}"].errors = [
                str(lazy_gettext("Write the subject and text in the statement's language."))
            ]
            ok = False
        return texts if ok else None


class SendForm(FlaskForm):
    confirm = BooleanField(lazy_gettext("I have checked the preview and the test email"))
