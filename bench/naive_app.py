"""A baseline WSGI app for bench/serve_bench.py: `gunicorn bench.naive_app:app`.

/generate.pdf renders a 1,000-row statement PDF with the real renderer on every request (what
serving would cost without the cached file); /static/<file> is Flask's plain static-file route
over BENCH_STATIC_DIR, to compare the cached-PDF route with; /healthz says it is up.
"""

from __future__ import annotations

import io
import os

from flask import Flask, Response

from bench.pdf_render_bench import synthetic_doc, synthetic_rows, type_counts_for
from petition.pdf.layout import render_statement_pdf

GENERATED_ROWS = 1_000

app = Flask(__name__, static_folder=os.environ.get("BENCH_STATIC_DIR") or None)


@app.get("/generate.pdf")
def generate_pdf() -> Response:
    out = io.BytesIO()
    render_statement_pdf(
        out, synthetic_doc(), type_counts_for(GENERATED_ROWS), synthetic_rows(GENERATED_ROWS)
    )
    return Response(out.getvalue(), mimetype="application/pdf")


@app.get("/healthz")
def healthz() -> Response:
    return Response("ok", mimetype="text/plain")
