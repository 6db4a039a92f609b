"""The application with the naive PDF layout: `flask --app bench.naive_cli pdf rebuild SLUG`.

The same CLI command as `flask --app wsgi pdf rebuild SLUG`, in the same kind of process; only
the build's read-and-layout step is the naive one from bench/naive_layout.py.
"""

from bench.naive_layout import install
from petition import create_app

install()
app = create_app()
