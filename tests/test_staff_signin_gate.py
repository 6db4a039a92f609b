"""Password checks asked for by requests take a bounded share of each process (issue 15.8).

One check at a time per process, and a cool-down after each in proportion to its length: tries
beyond that are answered 429 at once, uncounted, instead of queueing on the argon2 slot and holding
the threads that public pages need. bench/login_bench.py shows the effect under load.
"""

from __future__ import annotations

import threading
import time
import types

import pytest
from argon2 import PasswordHasher

from petition.staff import accounts
from petition.staff.views import BUSY_MESSAGE, REFUSED_MESSAGE
from tests.staff_helpers import PASSWORD, login, make_staff, page_token, signed_in
from tests.test_staff_signin_delays import EMAIL, A, B, client_at, pair


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """accounts' own view of time.monotonic, moved by hand (the rest of the process keeps its
    real clock)."""
    fake = FakeClock()
    monkeypatch.setattr(accounts, "time", types.SimpleNamespace(monotonic=fake.monotonic))
    return fake


def slow_verify(monkeypatch, seconds: float = 0.0, gate: threading.Event | None = None):
    """PasswordHasher.verify that takes `seconds`, or waits for `gate` (a check in flight)."""
    original = PasswordHasher.verify
    started = threading.Event()

    def verify(self, hash_, password):
        started.set()
        if gate is not None:
            assert gate.wait(30)
        time.sleep(seconds)
        return original(self, hash_, password)

    monkeypatch.setattr(PasswordHasher, "verify", verify)
    return started


# ---------------------------------------------------------------- the gate itself


@pytest.mark.config(STAFF_ARGON2_CPU_SHARE=0.25)
def test_a_check_closes_the_gate_for_three_times_its_length_at_a_quarter(app, clock):
    with app.app_context():
        with accounts.password_check_admitted():
            clock.now += 2.0  # a check of two seconds …
        clock.now += 5.9  # … closes the gate for six: 0.25 = 2 / (2 + 6)
        with pytest.raises(accounts.PasswordChecksBusy) as busy:
            with accounts.password_check_admitted():
                pytest.fail("admitted during the cool-down")
        assert busy.value.retry_after == 1.0  # at least a second, as Retry-After counts
        clock.now += 0.1
        with accounts.password_check_admitted():
            clock.now += 0.5
        clock.now += 1.4
        with pytest.raises(accounts.PasswordChecksBusy):
            with accounts.password_check_admitted():
                pass
        clock.now += 0.1
        with accounts.password_check_admitted():
            pass


@pytest.mark.config(STAFF_ARGON2_CPU_SHARE=1.0)
def test_one_check_at_a_time_and_a_failed_check_still_closes_the_gate(app, clock):
    with app.app_context():
        with accounts.password_check_admitted():
            with pytest.raises(accounts.PasswordChecksBusy):
                with accounts.password_check_admitted():
                    pass
        with accounts.password_check_admitted():  # share 1: no cool-down
            pass
        app.config["STAFF_ARGON2_CPU_SHARE"] = 0.5
        with pytest.raises(RuntimeError), accounts.password_check_admitted():
            clock.now += 1.0
            raise RuntimeError("the check failed")
        with pytest.raises(accounts.PasswordChecksBusy):
            with accounts.password_check_admitted():
                pass


def test_production_share_leaves_the_public_pages_most_of_each_process(app):
    assert 0 < accounts.ARGON2_CPU_SHARE <= 0.2
    app.testing = False
    try:
        with app.app_context():
            assert accounts._cpu_share() == accounts.ARGON2_CPU_SHARE
    finally:
        app.testing = True


# ---------------------------------------------------------------- over HTTP


def test_a_try_while_a_check_runs_is_answered_429_at_once_and_not_counted(app, seeded, monkeypatch):
    make_staff(app, EMAIL)
    release = threading.Event()
    checking = slow_verify(monkeypatch, gate=release)
    first: dict = {}
    attacker = client_at(app, A)
    token = page_token(attacker)

    def first_try() -> None:
        first["response"] = attacker.post(
            "/staff/login",
            data={"email": EMAIL, "password": "a wrong guess", "csrf_token": token},
        )

    thread = threading.Thread(target=first_try)
    thread.start()
    try:
        assert checking.wait(30)
        other = client_at(app, B)
        started = time.monotonic()
        response = login(other, EMAIL, PASSWORD)  # even the right password waits its turn
        assert time.monotonic() - started < 5  # not queued behind the check in flight
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) >= 1
        text = response.get_data(as_text=True)
        assert BUSY_MESSAGE in text and REFUSED_MESSAGE not in text
        assert f'value="{EMAIL}"' in text  # the form as it was, to send again
        # An unknown address gets the very same answer: nothing is looked up before the gate.
        stranger = login(client_at(app, B), "nobody@example.org", "whatever it is")
        assert stranger.status_code == 429
        assert BUSY_MESSAGE in stranger.get_data(as_text=True)
    finally:
        release.set()
        thread.join(30)
    assert first["response"].status_code == 401
    assert pair(app, A).failures == 1
    assert pair(app, B) is None  # the refused tries were never counted
    # The gate is open again: the right password signs in.
    assert login(client_at(app, B), EMAIL, PASSWORD).status_code == 302


@pytest.mark.config(STAFF_ARGON2_CPU_SHARE=0.2)
def test_tries_in_quick_succession_wait_out_the_cool_down(app, seeded, monkeypatch):
    make_staff(app, EMAIL)
    slow_verify(monkeypatch, seconds=0.3)  # then the gate stays closed for 1.2 s or more
    attacker = client_at(app, A)
    assert login(attacker, EMAIL, "a wrong guess").status_code == 401
    refused = login(attacker, EMAIL, "another guess")
    assert refused.status_code == 429
    assert pair(app, A).failures == 1
    time.sleep(float(refused.headers["Retry-After"]) + 0.3)
    assert login(attacker, EMAIL, "a third guess").status_code == 401
    assert pair(app, A).failures == 2


def test_the_account_page_password_check_takes_its_turn_too(app, seeded, monkeypatch):
    client = signed_in(app, EMAIL)
    release = threading.Event()
    checking = slow_verify(monkeypatch, gate=release)
    thread = threading.Thread(target=lambda: login(client_at(app, A), EMAIL, "a wrong guess"))
    thread.start()
    try:
        assert checking.wait(30)
        response = client.post(
            "/staff/account/password",
            data={
                "current": PASSWORD,
                "new": "a brand new password here",
                "confirm": "a brand new password here",
                "csrf_token": page_token(client, "/staff/account"),
            },
        )
        assert response.status_code == 429
        assert BUSY_MESSAGE in response.get_data(as_text=True)
    finally:
        release.set()
        thread.join(30)
    assert pair(app, B) is None
    # Nothing changed: the old password still signs in.
    assert login(client_at(app, B), EMAIL, PASSWORD).status_code == 302


@pytest.mark.config(STAFF_ARGON2_CPU_SHARE=0.2)
def test_a_browser_that_signed_in_before_is_not_kept_out_by_strangers_tries(
    app, seeded, monkeypatch
):
    make_staff(app, EMAIL)
    staff = client_at(app, B)
    assert login(staff, EMAIL, PASSWORD).status_code == 302  # this browser is known from now on
    assert (
        staff.post("/staff/logout", data={"csrf_token": page_token(staff, "/staff/")}).status_code
        == 302
    )
    # The staff's own sign-in above closed the gate for a while (longer on a busy machine):
    # start from an open gate, as after any quiet spell.
    app.extensions.get("staff_password_gates", {}).clear()
    slow_verify(monkeypatch, seconds=0.3)
    attacker = client_at(app, A)
    assert login(attacker, EMAIL, "a wrong guess").status_code == 401
    assert login(attacker, EMAIL, "another guess").status_code == 429  # the gate is closed …
    assert login(client_at(app, B), EMAIL, PASSWORD).status_code == 429  # … to strangers
    assert login(staff, EMAIL, PASSWORD).status_code == 302  # but not to the known browser
    # Its check counted: the gate stays closed to the others.
    assert login(attacker, EMAIL, "a third guess").status_code == 429
