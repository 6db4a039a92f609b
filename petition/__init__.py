"""Jointly: organisations endorse a joint statement, staff moderate, the public reads and downloads."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import cast

from dotenv import load_dotenv
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from . import check_config
from .config import build_config, load_secret_key
from .core import logging as log_redaction
from .core import templating
from .core.http import JointlyFlask
from .extensions import babel, compress, csrf, db, limiter, login_manager, mail, migrate


def create_app(test_config: dict | None = None) -> Flask:
    load_dotenv()
    app = JointlyFlask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_relative_config=True,
    )
    app.jinja_options = {**app.jinja_options, "bytecode_cache": templating.TEMPLATE_CODE}
    instance_path = Path(app.instance_path)
    instance_path.mkdir(parents=True, exist_ok=True)
    app.config.update(build_config(instance_path))
    app.config.from_prefixed_env()
    if test_config:
        app.config.update(test_config)
    # No personal data or emailed token in any log line: SQL errors without their parameters,
    # every record masked (core/logging.py).
    log_redaction.install()
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        # A connection to a server can die between two requests (a restart, a failover): one
        # that waited in the pool is tested as it is taken out (core/db.py ping_when_idle).
        **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
        "hide_parameters": True,
    }
    # Open data in UTF-8: Łódź, not \u0141\u00f3d\u017a.
    cast(DefaultJSONProvider, app.json).ensure_ascii = False
    # Judged before any embedded default (a generated key) fills a gap; `flask check-config` shows it.
    app.extensions["config_checks"] = check_config.check(app.config)
    if check_config.is_production(app.config):
        refused = [c for c in app.extensions["config_checks"] if not c.ok]
        if refused:
            raise check_config.ConfigurationRefused(refused)
    if not app.config.get("SECRET_KEY"):
        if app.config["PUBLIC_BASE_URL"].startswith("https://"):
            # A public deployment: a key generated on one machine's disk would differ per host
            # and vanish with the container, so production must say what it is.
            raise RuntimeError("SECRET_KEY must be set in the environment when serving over https")
        app.config["SECRET_KEY"] = load_secret_key(instance_path)
    if not app.debug and not app.testing:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )

    from .core import i18n

    # `/de/…` is `…` in German (core/i18n.py); inside ProxyFix, which reads the proxy's headers.
    i18n.wrap_wsgi(app)
    if app.config["PROXY_FIX_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Rate limits and logs must see the client's address, not the proxy's.
        hops = app.config["PROXY_FIX_HOPS"]
        # Flask's documented way to add WSGI middleware.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )

    register_extensions(app)
    register_blueprints(app)
    register_cli(app)
    register_hooks(app)
    return app


def register_extensions(app: Flask) -> None:
    from flask_login import current_user

    from .core import caching, i18n, jobs
    from .core.db import configure_engine
    from .staff import auth  # noqa: F401 - registers the Flask-Login user loader

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    csrf.init_app(app)
    mail.init_app(app)
    # Translations: petition/translations/<lang>/LC_MESSAGES/messages.po; `_()` in templates.
    babel.init_app(app, locale_selector=_select_locale)
    # Public pages are cached for everyone, so they must not read the session (core/caching.py):
    # templates get current_user as a lazy proxy, read only where a page shows it, and
    # Flask-Login's remember-cookie hook, which reads the session on every response, goes (no
    # remember cookie is ever set here).
    login_manager.init_app(app, add_context_processor=False)
    app.after_request_funcs[None].remove(login_manager._update_remember_cookie)
    app.context_processor(lambda: {"current_user": current_user})
    limiter.init_app(app)
    jobs.init_app(app)
    caching.init_app(app)
    i18n.init_app(app)  # after caching: its hook runs first, the language is part of every page
    compress.init_app(app)  # brotli or gzip for text responses: COMPRESS_* in config.py


def _select_locale() -> str:
    from flask import g

    return getattr(g, "lang", None) or app_default_locale()


def app_default_locale() -> str:
    from flask import current_app

    return current_app.config.get("BABEL_DEFAULT_LOCALE", "en")


def register_blueprints(app: Flask) -> None:
    from . import (
        health,
        identity,
        mailings,
        moderation,
        pdf,
        reports,
        signatories,
        signing,
        staff,
        statements,
    )
    from .core.errors import register_error_handlers

    staff.init_app(app)  # its settings, before any /staff blueprint is used
    for bp in (
        statements.bp,
        signatories.bp,
        signing.bp,
        pdf.bp,
        health.bp,
        staff.bp,
        moderation.bp,
        reports.bp,
        statements.admin_bp,
        pdf.admin_bp,
        identity.bp,
        identity.admin_bp,
        mailings.bp,
        mailings.admin_bp,
        signatories.admin_bp,
    ):
        app.register_blueprint(bp)
    register_error_handlers(app)


def register_cli(app: Flask) -> None:
    from .cli import register_commands

    register_commands(app)


def register_hooks(app: Flask) -> None:
    from .core.http import form_bodies_only, one_range_at_most
    from .core.security import apply_security_headers
    from .core.templating import register_template_helpers

    # Browser form bodies only, on every POST (public forms and the staff console alike).
    # First of all: it sets the body limit of the one form that takes a file before the CSRF
    # check reads the form.
    app.before_request_funcs.setdefault(None, []).insert(0, form_bodies_only)
    app.before_request(one_range_at_most)
    app.after_request(apply_security_headers)
    register_template_helpers(app)

    if not app.testing:
        from . import housekeeping

        @app.before_request
        def _start_housekeeping() -> None:
            # In the serving process only (not in CLI commands), once; with Redis the
            # scheduler runs it instead (thread mode only, see housekeeping.start_in_process).
            housekeeping.start_in_process(app)
