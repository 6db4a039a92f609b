"""bench/minimal_form_app.py, the sign-on bench's yardstick: it must do what signon.lua expects
of a sign-on form (a token and a cookie from the GET; a row and a 303 per good POST), or the
machine factor it reports would compare a different amount of work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench import minimal_form_app
from bench.signon_bench import TOKEN


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(minimal_form_app, "DATABASE", str(tmp_path / "minimal.sqlite3"))
    monkeypatch.setattr(minimal_form_app, "_local", minimal_form_app.threading.local())
    return minimal_form_app.app.test_client()


def test_the_form_gives_what_the_wrk_script_replays(client) -> None:
    response = client.get("/statements/minimal/sign")
    assert response.status_code == 200
    assert TOKEN.search(response.get_data(as_text=True)).group(1) == minimal_form_app.TOKEN
    assert re.match(r"session=\w+", response.headers["Set-Cookie"])


def test_a_post_stores_one_row_and_redirects(client) -> None:
    form = {"csrf_token": minimal_form_app.TOKEN, "email": "ann@example.org", "city": "Łódź"}
    for _ in range(3):
        response = client.post("/statements/minimal/sign", data=form)
        assert response.status_code == 303
    assert minimal_form_app.count_rows() == 3


@pytest.mark.parametrize(
    "form", [{"csrf_token": "wrong", "email": "ann@example.org"}, {"csrf_token": "x"}, {}]
)
def test_a_bad_post_stores_nothing(client, form: dict[str, str]) -> None:
    minimal_form_app._connection()  # the table exists
    assert client.post("/statements/minimal/sign", data=form).status_code == 400
    assert minimal_form_app.count_rows() == 0
