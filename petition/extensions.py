"""Flask extensions, created unbound and initialised in the application factory."""

from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Model(DeclarativeBase):
    """SQLAlchemy 2.0's typed declarative base; Flask-SQLAlchemy builds `db.Model` from it.

    Models subclass `petition.models.Base`: `db.Model` at run time, this class for type checkers
    (which cannot follow a base class created at run time), so `Mapped[...]` columns are typed.
    """

    metadata = MetaData(naming_convention=naming_convention)


db = SQLAlchemy(model_class=Model)
migrate = Migrate()
csrf = CSRFProtect()
compress = Compress()
mail = Mail()
login_manager = LoginManager()
babel = Babel()


def client_key() -> str:
    """The rate limits' key: the client's address, an IPv6 client by its /64 (one subscriber's
    2^64 addresses are one client, as for staff sign-in)."""
    from .core.http import client_block  # noqa: PLC0415 - core.http needs the extensions

    return client_block(get_remote_address())


limiter = Limiter(key_func=client_key, default_limits=[])
