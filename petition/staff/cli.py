"""`flask staff`: staff accounts of the moderation console and their digests."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from ..core import jobs
from ..core.audit import Actor
from ..models import StaffRole
from . import accounts, digest

staff_cli = AppGroup("staff", help="Staff accounts of the moderation console.")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        accounts.check_password_strength(password)
    except accounts.StaffError as exc:
        raise click.ClickException(str(exc)) from None
    return password


def _staff_or_exit(email: str):
    user = accounts.get_by_email(email)
    if user is None:
        raise click.ClickException(f"no staff account for {email!r}")
    return user


@staff_cli.command("create")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice([r.value for r in StaffRole]),
    required=True,
    help="admin or moderator",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def staff_create(email: str, role: str, password_stdin: bool) -> None:
    """Create a staff account; the password comes from a prompt or standard input."""
    try:
        email = accounts.normalise_staff_email(email, new=True)
    except accounts.StaffError as exc:
        raise click.ClickException(str(exc)) from None
    password = _read_password(password_stdin)
    try:
        user = accounts.create_staff(email, password, role, Actor.cli("staff create"))
    except accounts.StaffError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {StaffRole(user.role).value} {user.email}")


@staff_cli.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
@click.option("--reset-totp", is_flag=True, help="Also turn off two-factor sign-in (lost phone).")
def staff_reset_password(email: str, password_stdin: bool, generate: bool, reset_totp: bool):
    """Set a new password; this ends the account's sessions and lifts its sign-in delays."""
    user = _staff_or_exit(email)
    password = accounts.generate_password() if generate else _read_password(password_stdin)
    accounts.set_password(
        user.id, password, Actor.cli("staff reset-password"), reset_totp=reset_totp
    )
    click.echo(
        f"password of {user.email} reset" + (" and two-factor sign-in off" if reset_totp else "")
    )
    if generate:
        click.echo(f"new password: {password}")


@staff_cli.command("list")
def staff_list() -> None:
    """A header line, then one line per staff account."""
    click.echo("email\trole\tactive\ttotp\tdigest\tlast_login")
    for user in accounts.list_staff():
        last = user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else "-"
        click.echo(
            f"{user.email}\t{StaffRole(user.role).value}\t{'yes' if user.is_active else 'no'}\t"
            f"{'on' if user.totp_enabled else 'off'}\t{'yes' if user.wants_digest else 'no'}\t{last}"
        )


@staff_cli.command("disable")
@click.argument("email")
def staff_disable(email: str) -> None:
    """Disable an account and end its session at once."""
    user = _staff_or_exit(email)
    try:
        accounts.set_active(user.id, False, Actor.cli("staff disable"))
    except accounts.StaffError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"disabled {user.email}")


@staff_cli.command("enable")
@click.argument("email")
def staff_enable(email: str) -> None:
    """Enable a disabled account again."""
    user = _staff_or_exit(email)
    accounts.set_active(user.id, True, Actor.cli("staff enable"))
    click.echo(f"enabled {user.email}")


@staff_cli.command("ensure-admin")
def staff_ensure_admin() -> None:
    """On a fresh install, create the first admin and print its password once."""

    email = current_app.config["STAFF_ADMIN_EMAIL"]
    try:
        created = accounts.ensure_admin(email, Actor.cli("staff ensure-admin"))
    except accounts.StaffError as exc:
        raise click.ClickException(f"STAFF_ADMIN_EMAIL: {exc}") from None
    if created is None:
        click.echo("staff accounts exist; no admin created (staff list shows them)")
        return
    user, password = created
    base = current_app.config["PUBLIC_BASE_URL"]
    click.echo("")
    click.echo("  First staff admin created. This password is shown only this once:")
    click.echo(f"    email:    {user.email}")
    click.echo(f"    password: {password}")
    click.echo(f"  Sign in at {base}/staff/login")
    click.echo(f"  Lost it? flask --app wsgi staff reset-password {user.email}")
    click.echo("")


@staff_cli.command("send-digest")
@click.option("--force", is_flag=True, help="Ignore the per-person interval.")
def staff_send_digest(force: bool) -> None:
    """Email each staff member who asked for it the endorsements new in the queue."""
    result = digest.send_digests(force=force)
    click.echo(f"digests sent: {result.sent}, skipped: {result.skipped}")
    jobs.finish()
