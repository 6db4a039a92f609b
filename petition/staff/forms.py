"""Forms of the staff sign-in and account pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import EqualTo, InputRequired, Length

from ..models import StaffRole

ROLE_CHOICES = [
    SelectChoice(StaffRole.MODERATOR.value, "Moderator"),
    SelectChoice(StaffRole.ADMIN.value, "Admin"),
]


class LoginForm(FlaskForm):
    email = EmailField(
        "Email address",
        validators=[InputRequired("Enter your email address."), Length(max=320)],
        render_kw={"autocomplete": "username", "spellcheck": "false", "autofocus": True},
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class CodeForm(FlaskForm):
    code = StringField(
        "Six-digit code from your authenticator app",
        validators=[InputRequired("Enter the code."), Length(max=12)],
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "pattern": "[0-9 ]*",
            "maxlength": 12,
            "autofocus": True,
        },
    )


class PasswordChangeForm(FlaskForm):
    current = PasswordField(
        "Current password",
        validators=[InputRequired("Enter your current password.")],
        render_kw={"autocomplete": "current-password"},
    )
    new = PasswordField(
        "New password (at least 12 characters)",
        validators=[InputRequired("Enter a new password."), Length(max=1024)],
        render_kw={"autocomplete": "new-password", "minlength": 12},
    )
    confirm = PasswordField(
        "New password again",
        validators=[EqualTo("new", "The two new passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )


class DigestForm(FlaskForm):
    wants_digest = BooleanField("Email me a digest of new endorsements waiting in the queue")


class UserCreateForm(FlaskForm):
    email = StringField(
        "Email address",
        validators=[InputRequired("Enter the email address."), Length(max=254)],
        render_kw={"spellcheck": "false", "autocomplete": "off"},
    )
    role = SelectField("Role", choices=ROLE_CHOICES)


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class ResetPasswordForm(FlaskForm):
    reset_totp = BooleanField("Also turn off two-factor sign-in (lost phone)")


class ForgotPasswordForm(FlaskForm):
    email = EmailField(
        "Email address of your staff account",
        validators=[InputRequired("Enter your email address."), Length(max=254)],
        render_kw={"autocomplete": "username", "spellcheck": "false"},
    )


class SetPasswordForm(FlaskForm):
    new = PasswordField(
        "New password (at least 12 characters)",
        validators=[InputRequired("Choose a password."), Length(max=1024)],
        render_kw={"autocomplete": "new-password", "minlength": 12},
    )
    confirm = PasswordField(
        "New password again",
        validators=[EqualTo("new", "The two passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )
