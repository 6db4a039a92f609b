"""gunicorn's settings for Jointly in production (read by `gunicorn wsgi:app` from this folder).

Threaded workers, one process per core: a request waiting on the database or a slow reader does not
hold a whole process, and a client that sends its request head slowly holds no thread at all (see
deploy/gunicorn_worker.py). nginx in front (deploy/nginx/) buffers requests and responses too; this
file keeps gunicorn safe on its own. Each value can be changed from the environment, as noted.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deploy.gunicorn_worker import HeadFirstThreadWorker  # noqa: E402
from petition.core.logging import ACCESS_LOG_FORMAT  # noqa: E402

wsgi_app = "wsgi:app"
# Loopback by default: nginx is the public face. `unix:/run/jointly/gunicorn.sock` works too.
bind = [os.environ.get("GUNICORN_BIND") or "127.0.0.1:8000"]
worker_class = HeadFirstThreadWorker
workers = int(os.environ.get("WEB_CONCURRENCY") or max(2, os.cpu_count() or 1))
threads = int(os.environ.get("GUNICORN_THREADS") or 8)
# Idle keep-alive connections (and clients that have not sent a byte yet) close after this.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE") or 5)
# A worker whose main loop is silent this long is restarted (requests run in threads; the
# loop stays responsive while they do).
timeout = 30
graceful_timeout = 30
# Headers: gunicorn's limits, stated here so that they sit beside nginx's.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
# X-Forwarded-* are read by the application's ProxyFix (PROXY_FIX_HOPS), from nginx only.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1,::1"
# No access log here unless asked for: nginx keeps one. Where there is one, its lines hold the
# path without the query string or the referrer, and the application masks the tokens in it.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
access_log_format = ACCESS_LOG_FORMAT
errorlog = "-"
# gunicornc's control socket only where asked for (its default path is shared by every gunicorn of
# the user, so two instances on one host would fight over it).
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET") or "gunicorn.ctl"
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL") or "info"


def post_worker_init(worker):
    """Before a worker's first request: what its first sign-on would otherwise read (the PDF
    font's character map that the form checks names against, the Public Suffix List of the
    per-domain mail cap), about 0.4 s of CPU that a burst's first requests would wait for."""
    from petition.core.validation import pdf_font_coverage, registrable_domain

    pdf_font_coverage()
    registrable_domain("example.org")
