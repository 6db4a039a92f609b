"""bench/minimal_form_app.py, the sign-on bench's yardstick: it must do what signon.lua expects
of a sign-on form (a token and a cookie from the GET; a row and a 303 per good POST), or the
machine factor it reports would compare a different amount of work."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from bench import minimal_form_app, signon_instructions
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


class _Database:
    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": "sqlite:///bench.sqlite3"}


def test_sign_on_mail_files_go_to_the_memory_folder_unless_asked_for_disk(tmp_path: Path):
    from bench import signon_bench

    memory = signon_bench.memory_mail_root()
    if memory is None:
        pytest.skip("no writable /dev/shm here")
    try:
        assert memory.parent == Path("/dev/shm") and memory.is_dir()
        on_memory = signon_bench.app_env(_Database(), tmp_path, "sqlite", memory)  # type: ignore[arg-type]
        on_disk = signon_bench.app_env(_Database(), tmp_path, "sqlite")  # type: ignore[arg-type]
    finally:
        memory.rmdir()
    assert on_memory["FLASK_MAIL_DIR"] == str(memory / "mail-sqlite")
    assert on_disk["FLASK_MAIL_DIR"] == str(tmp_path / "mail-sqlite")
    parser = argparse.ArgumentParser()
    signon_bench.add_arguments(parser)
    assert parser.parse_args(["--mail-on-disk"]).mail_on_disk
    assert not parser.parse_args([]).mail_on_disk


@pytest.mark.parametrize("case", signon_instructions.CASES)
def test_the_instruction_counts_cases_do_their_work(case: str) -> None:
    """bench/signon_instructions.py's inner runs (here without valgrind): each raises if a sign-on
    is not answered 302 or a mail is missing."""
    signon_instructions._inner(case, 3, fill=3, postgres=False)
