"""Failed staff sign-ins delay the (account, client address) pair, never the account for everyone.

The clock is controlled the way the other services are tested: `authenticate(…, now=…)` and
`prune_signin_failures(now=…)` take the time, and over HTTP the stored times are moved back.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from petition import housekeeping
from petition.core.audit import Actor
from petition.extensions import db
from petition.models import AuditEvent, StaffSigninFailure, StaffUser, utcnow
from petition.staff import accounts
from petition.staff.views import DEVICE_COOKIE, REFUSED_MESSAGE
from tests.staff_helpers import PASSWORD, login, make_staff, page_token, post

A = "198.51.100.7"
B = "203.0.113.9"
EMAIL = "mod@example.org"
REFUSED = accounts.LoginOutcome.REFUSED
OK = accounts.LoginOutcome.OK


def client_at(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def pair(app, address: str, email: str = EMAIL) -> StaffSigninFailure | None:
    with app.app_context():
        row = db.session.scalar(
            select(StaffSigninFailure)
            .join(StaffUser, StaffUser.id == StaffSigninFailure.staff_user_id)
            .where(StaffUser.email == email, StaffSigninFailure.address == address)
        )
        if row is not None:
            db.session.expunge(row)
        return row


def audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        for row in rows:
            db.session.expunge(row)
        return rows


def move_pairs_back(app, delta: timedelta) -> None:
    """The clock moves on: every stored time of the pair records is `delta` earlier."""
    with app.app_context():
        for row in db.session.scalars(select(StaffSigninFailure)):
            row.first_failed_at -= delta
            row.last_failed_at -= delta
            row.expires_at -= delta
            if row.delayed_until is not None:
                row.delayed_until -= delta
        db.session.commit()


def enable_totp(app, email: str = EMAIL) -> pyotp.TOTP:
    secret = pyotp.random_base32()
    with app.app_context():
        db.session.execute(
            update(StaffUser)
            .where(StaffUser.email == email)
            .values(totp_secret=secret, totp_enabled=True)
        )
        db.session.commit()
    return pyotp.TOTP(secret)


def send_code(client, code: str):
    token = page_token(client, "/staff/login/code")
    return client.post("/staff/login/code", data={"code": code, "csrf_token": token})


# ---------------------------------------------------------------- one address, one account


def test_failures_from_one_address_delay_that_address_only(app, seeded):
    make_staff(app, EMAIL)
    attacker = client_at(app, A)
    for _ in range(5):
        assert login(attacker, EMAIL, "a wrong guess").status_code == 401
    # A waits: even the right password is refused there, with the same answer as a wrong one.
    refused = login(attacker, EMAIL, PASSWORD)
    assert refused.status_code == 401
    assert REFUSED_MESSAGE in refused.get_data(as_text=True)
    row = pair(app, A)
    assert row.failures == 5
    assert utcnow() + timedelta(seconds=50) < row.delayed_until < utcnow() + timedelta(seconds=61)
    # The owner, from another address, signs in at once.
    owner = client_at(app, B)
    assert login(owner, EMAIL, PASSWORD).status_code == 302
    assert owner.get("/staff/").status_code == 200
    assert pair(app, B) is None
    # One audit row when A started waiting; it names the account and A, not the guesses.
    (delayed,) = audit(app, "staff_signin_delayed")
    assert EMAIL in delayed.detail and A in delayed.detail
    assert "guess" not in delayed.detail and PASSWORD not in delayed.detail
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == EMAIL))
        assert user.signin_guarded_until is None


def test_the_refusal_is_the_same_for_every_cause(app, seeded):
    make_staff(app, EMAIL)
    make_staff(app, "off@example.org")
    with app.app_context():
        accounts.set_active(
            db.session.scalar(select(StaffUser.id).where(StaffUser.email == "off@example.org")),
            False,
            Actor.cli("test"),
        )
    waiting = client_at(app, A)
    for _ in range(5):
        login(waiting, EMAIL, "a wrong guess")
    answers = [
        login(client_at(app, B), EMAIL, "a wrong guess"),  # wrong password
        login(client_at(app, B), "nobody@example.org", PASSWORD),  # no such account
        login(client_at(app, B), "off@example.org", PASSWORD),  # disabled
        login(waiting, EMAIL, PASSWORD),  # this pair waits
    ]
    pages = [r.get_data(as_text=True).replace("nobody@example.org", EMAIL) for r in answers]
    pages = [p.replace("off@example.org", EMAIL) for p in pages]
    assert {r.status_code for r in answers} == {401}
    assert all(REFUSED_MESSAGE in p for p in pages)
    assert len({_without_csrf(p) for p in pages}) == 1


def _without_csrf(page: str) -> str:
    import re

    return re.sub(r'name="csrf_token"[^>]*value="[^"]*"', "", page)


def test_delays_double_with_each_further_failure_up_to_the_cap(app, seeded):
    make_staff(app, EMAIL)
    client = accounts.Client(A)
    t = utcnow()
    with app.app_context():
        for _ in range(4):
            assert accounts.authenticate(EMAIL, "a wrong guess", client, now=t).outcome is REFUSED
        assert pair(app, A).delayed_until is None
        waits = []
        for _ in range(9):
            assert accounts.authenticate(EMAIL, "a wrong guess", client, now=t).outcome is REFUSED
            row = pair(app, A)
            waits.append(row.delayed_until - t)
            # During the wait nothing is checked or counted, the right password included.
            during = t + (row.delayed_until - t) / 2
            assert accounts.authenticate(EMAIL, PASSWORD, client, now=during).outcome is REFUSED
            assert pair(app, A).failures == row.failures
            t = row.delayed_until + timedelta(seconds=1)
    assert [w.total_seconds() / 60 for w in waits] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert len(audit(app, "staff_signin_delayed")) == 1


def test_the_delay_expires_and_a_success_clears_the_pair(app, seeded):
    make_staff(app, EMAIL)
    client = accounts.Client(A)
    t = utcnow()
    with app.app_context():
        for _ in range(6):
            accounts.authenticate(EMAIL, "a wrong guess", client, now=t)
            t = max(t, pair(app, A).delayed_until or t)
        assert pair(app, A).failures == 6
        ends = pair(app, A).delayed_until
        almost = ends - timedelta(seconds=1)
        assert accounts.authenticate(EMAIL, PASSWORD, client, now=almost).outcome is REFUSED
        later = ends + timedelta(seconds=1)
        assert accounts.authenticate(EMAIL, PASSWORD, client, now=later).outcome is OK
        assert pair(app, A) is None
        # Counting starts again from nothing: four failures delay nobody.
        for _ in range(4):
            accounts.authenticate(EMAIL, "a wrong guess", client, now=later)
        assert pair(app, A).failures == 4
        assert pair(app, A).delayed_until is None
        assert accounts.authenticate(EMAIL, PASSWORD, client, now=later).outcome is OK


def test_over_http_the_wait_ends_and_the_right_password_then_signs_in(app, seeded):
    make_staff(app, EMAIL)
    client = client_at(app, A)
    for _ in range(5):
        login(client, EMAIL, "a wrong guess")
    assert login(client, EMAIL, PASSWORD).status_code == 401
    move_pairs_back(app, timedelta(seconds=61))
    assert login(client, EMAIL, PASSWORD).status_code == 302
    assert pair(app, A) is None


def test_parallel_tries_cannot_slip_past_the_count(app, seeded):
    """Each try is counted before its password is checked: 12 at once, and 5 get checked."""
    make_staff(app, EMAIL)
    barrier = threading.Barrier(12)
    outcomes: list[accounts.LoginOutcome] = []

    def guess() -> None:
        with app.app_context():
            barrier.wait()
            outcomes.append(
                accounts.authenticate(EMAIL, "a wrong guess", accounts.Client(A)).outcome
            )
            db.session.remove()

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes == [REFUSED] * 12
    assert pair(app, A).failures == 5


# ---------------------------------------------------------------- the code step


def test_the_code_step_counts_the_same_way(app, seeded):
    make_staff(app, EMAIL)
    totp = enable_totp(app)
    attacker = client_at(app, A)  # knows the password, not the phone
    assert login(attacker, EMAIL, PASSWORD).headers["Location"] == "/staff/login/code"
    # The right password is not a failure: the code step decides.
    assert pair(app, A).failures == 0
    for _ in range(4):
        assert send_code(attacker, "000000").status_code == 401
    assert pair(app, A).failures == 4 and pair(app, A).delayed_until is None
    assert send_code(attacker, "000000").status_code == 401
    assert pair(app, A).delayed_until is not None
    assert len(audit(app, "staff_signin_delayed")) == 1
    # A waits now: the right code is refused there, and so is the password step.
    assert send_code(attacker, totp.now()).status_code == 401
    again = login(client_at(app, A), EMAIL, PASSWORD)
    assert again.status_code == 401
    # The owner elsewhere: password, then the code, signed in.
    owner = client_at(app, B)
    assert login(owner, EMAIL, PASSWORD).headers["Location"] == "/staff/login/code"
    assert send_code(owner, totp.now()).status_code == 302
    assert owner.get("/staff/").status_code == 200


def test_a_right_password_does_not_reset_the_count_of_wrong_codes(app, seeded):
    """Alternating password and codes, a thief who knows the password still meets the delays."""
    make_staff(app, EMAIL)
    enable_totp(app)
    attacker = client_at(app, A)
    for _ in range(2):
        assert login(attacker, EMAIL, PASSWORD).status_code == 302
        send_code(attacker, "000000")
        send_code(attacker, "111111")
    assert pair(app, A).failures == 4
    assert login(attacker, EMAIL, PASSWORD).status_code == 302
    send_code(attacker, "000000")
    assert pair(app, A).delayed_until is not None


# ---------------------------------------------------------------- the Account page


def test_guessing_the_current_password_delays_that_address_only(app, seeded):
    make_staff(app, EMAIL)
    thief = client_at(app, A)  # a stolen session
    assert login(thief, EMAIL, PASSWORD).status_code == 302
    change = {"new": "a brand new passphrase", "confirm": "a brand new passphrase"}
    for attempt in range(5):
        response = post(thief, "/staff/account/password", {"current": f"guess {attempt}", **change})
        assert response.status_code == 422
        assert "current password is not right" in response.get_data(as_text=True)
    assert pair(app, A).failures == 5
    assert len(audit(app, "staff_signin_delayed")) == 1
    # The right current password from A changes nothing while A waits.
    response = post(thief, "/staff/account/password", {"current": PASSWORD, **change})
    assert response.status_code == 422
    assert "wait a few minutes" in response.get_data(as_text=True)
    assert login(client_at(app, B), EMAIL, "a brand new passphrase").status_code == 401
    # The owner elsewhere is not held up.
    assert login(client_at(app, B), EMAIL, PASSWORD).status_code == 302


# ---------------------------------------------------------------- many addresses


@pytest.mark.config(STAFF_SIGNIN_GUARD_FAILURES=6)
def test_guessing_from_many_addresses_lets_only_known_browsers_sign_in(app, seeded):
    make_staff(app, EMAIL)
    make_staff(app, "other@example.org")
    # The owner's browser signs in once: it is known to the account from then on.
    laptop = client_at(app, "192.0.2.50")
    assert login(laptop, EMAIL, PASSWORD).status_code == 302
    assert laptop.get_cookie(DEVICE_COOKIE, path="/staff") is not None
    post(laptop, "/staff/logout", token_from="/staff/")
    # A botnet: two guesses from each of three addresses, none of which waits yet.
    for n in range(3):
        bot = client_at(app, f"198.51.100.{n + 10}")
        for _ in range(2):
            assert login(bot, EMAIL, "a wrong guess").status_code == 401
    assert all(pair(app, f"198.51.100.{n + 10}").delayed_until is None for n in range(3))
    (guarded,) = audit(app, "staff_signin_guarded")
    assert EMAIL in guarded.detail and "3 address" in guarded.detail
    # A browser the account does not know is refused, the right password included …
    new_browser = client_at(app, B)
    refused = login(new_browser, EMAIL, PASSWORD)
    assert refused.status_code == 401
    assert REFUSED_MESSAGE in refused.get_data(as_text=True)
    # … while the owner's browser signs in, from an address never seen before.
    laptop.environ_base["REMOTE_ADDR"] = "192.0.2.99"
    assert login(laptop, EMAIL, PASSWORD).status_code == 302
    # Only the account under attack is guarded; a cookie vouches for its own account only.
    assert login(client_at(app, B), "other@example.org", PASSWORD).status_code == 302
    # An admin's password reset lifts the guard (and makes every browser unknown again).
    with app.app_context():
        user_id = db.session.scalar(select(StaffUser.id).where(StaffUser.email == EMAIL))
        accounts.set_password(user_id, "the reset passphrase", Actor.cli("test"))
        assert db.session.get(StaffUser, user_id).signin_guarded_until is None
        assert not db.session.scalar(select(func.count(StaffSigninFailure.id)))
    assert login(new_browser, EMAIL, "the reset passphrase").status_code == 302


@pytest.mark.config(STAFF_SIGNIN_GUARD_FAILURES=3)
def test_failures_of_known_browsers_do_not_guard_the_account(app, seeded):
    make_staff(app, EMAIL)
    laptop = client_at(app, A)
    assert login(laptop, EMAIL, PASSWORD).status_code == 302
    post(laptop, "/staff/logout", token_from="/staff/")
    for _ in range(4):  # the owner's own typos
        assert login(laptop, EMAIL, "a typo in it").status_code == 401
    assert not audit(app, "staff_signin_guarded")
    assert login(client_at(app, B), EMAIL, PASSWORD).status_code == 302


@pytest.mark.config(
    RATELIMIT_ENABLED=True,
    STAFF_LOGIN_GLOBAL_RATE_LIMIT="3 per minute",
    STAFF_LOGIN_RATE_LIMIT="100 per minute",
)
def test_the_global_limit_holds_every_address_but_known_browsers(app, seeded):
    make_staff(app, EMAIL)
    laptop = client_at(app, "192.0.2.50")
    assert login(laptop, EMAIL, PASSWORD).status_code == 302  # 1 of 3
    post(laptop, "/staff/logout", token_from="/staff/")
    assert login(client_at(app, A), EMAIL, "a wrong guess").status_code == 401  # 2
    assert login(client_at(app, B), "x@example.org", "a wrong guess").status_code == 401  # 3
    assert login(client_at(app, "192.0.2.77"), EMAIL, PASSWORD).status_code == 429
    # The owner's known browser is not held up by anyone else's tries.
    assert login(laptop, EMAIL, PASSWORD).status_code == 302
    post(laptop, "/staff/logout", token_from="/staff/")
    # A cookie of this account does not open the limit for guessing another one.
    assert login(laptop, "x@example.org", "a wrong guess").status_code == 429


# ---------------------------------------------------------------- client address


@pytest.mark.config(PROXY_FIX_HOPS=1)
def test_the_pair_is_the_address_the_proxy_saw(app, seeded):
    """Behind one proxy the client is the last X-Forwarded-For entry; earlier ones are forgeable."""
    make_staff(app, EMAIL)
    client = app.test_client()  # the proxy's own address is 127.0.0.1

    def login_via_proxy(forwarded_for: str, password: str):
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
        return login(client, EMAIL, password)

    for _ in range(5):
        login_via_proxy(A, "a wrong guess")
    assert pair(app, A).delayed_until is not None
    assert pair(app, "127.0.0.1") is None
    # A forged entry in front of the one the proxy appended changes nothing.
    assert login_via_proxy(f"{B}, {A}", PASSWORD).status_code == 401
    assert login_via_proxy(B, PASSWORD).status_code == 302


@pytest.mark.config(STAFF_SIGNIN_GUARD_FAILURES=6)
def test_an_ipv6_client_is_its_64_not_each_of_its_addresses(app, seeded):
    """One subscriber's /64 holds 2^64 addresses: each a fresh pair would mean unlimited
    guesses, and the account guarded at once."""
    make_staff(app, EMAIL)
    for n in range(20):
        guess = login(client_at(app, f"2001:db8:7:1::{n + 1:x}"), EMAIL, "a wrong guess")
        assert guess.status_code == 401
    row = pair(app, "2001:db8:7:1::/64")
    assert row.failures == 5 and row.delayed_until is not None
    assert pair(app, "2001:db8:7:1::1") is None
    # Only the five counted tries reached the account's count: it is not guarded.
    assert not audit(app, "staff_signin_guarded")
    (delayed,) = audit(app, "staff_signin_delayed")
    assert "2001:db8:7:1::/64" in delayed.detail
    # Any address of that /64 waits, the right password included; the next /64 does not.
    assert login(client_at(app, "2001:db8:7:1:ffff::1"), EMAIL, PASSWORD).status_code == 401
    assert login(client_at(app, "2001:db8:7:2::1"), EMAIL, PASSWORD).status_code == 302
    # An IPv4 client is its own address (neighbours are not one client), also written as
    # IPv4-mapped IPv6.
    other = "other@example.org"
    make_staff(app, other)
    for _ in range(5):
        login(client_at(app, "::ffff:192.0.2.44"), other, "a wrong guess")
    assert pair(app, "192.0.2.44", other).failures == 5
    assert login(client_at(app, "192.0.2.44"), other, PASSWORD).status_code == 401
    assert login(client_at(app, "192.0.2.45"), other, PASSWORD).status_code == 302


@pytest.mark.config(
    RATELIMIT_ENABLED=True,
    STAFF_LOGIN_RATE_LIMIT="3 per minute",
    STAFF_LOGIN_GLOBAL_RATE_LIMIT="100 per minute",
)
def test_the_rate_limits_count_an_ipv6_client_by_its_64(app, seeded):
    statuses = [
        login(client_at(app, f"2001:db8:9:1::{n + 1}"), f"g{n}@example.org", "wrong").status_code
        for n in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    forgot = []
    for n in range(4):
        client = client_at(app, f"2001:db8:9:1:{n + 1}::1")
        token = page_token(client, "/staff/password/forgot")
        form = {"email": "x@example.org", "csrf_token": token}
        forgot.append(client.post("/staff/password/forgot", data=form).status_code)
    assert forgot == [200, 200, 200, 429]
    # Another /64 has its own count.
    assert login(client_at(app, "2001:db8:9:2::1"), "g@example.org", "wrong").status_code == 401


@pytest.mark.config(
    RATELIMIT_ENABLED=True,
    STAFF_LOGIN_RATE_LIMIT="3 per minute",
    STAFF_LOGIN_GLOBAL_RATE_LIMIT="100 per minute",
)
def test_the_current_password_form_answers_429_past_its_rate_limit(app, seeded):
    make_staff(app, EMAIL)
    thief = client_at(app, A)  # a stolen session
    assert login(thief, EMAIL, PASSWORD).status_code == 302
    change = {"new": "a brand new passphrase", "confirm": "a brand new passphrase"}
    statuses = [
        post(thief, "/staff/account/password", {"current": f"guess {n}", **change}).status_code
        for n in range(4)
    ]
    assert statuses == [422, 422, 422, 429]
    # The right one is refused too until the limit's minute has passed.
    refused = post(thief, "/staff/account/password", {"current": PASSWORD, **change})
    assert refused.status_code == 429
    assert login(client_at(app, B), EMAIL, "a brand new passphrase").status_code == 401


def test_without_a_proxy_x_forwarded_for_is_ignored(app, seeded):
    make_staff(app, EMAIL)
    client = client_at(app, A)
    for n in range(5):
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"192.0.2.{n}"
        login(client, EMAIL, "a wrong guess")
    assert pair(app, A).failures == 5


# ---------------------------------------------------------------- expiry


def test_expired_records_are_pruned_by_the_housekeeping_or_overwritten(app, seeded):
    make_staff(app, EMAIL)
    assert "petition.staff.accounts:prune_signin_failures" in housekeeping.TASKS
    for address in (A, B):
        client = client_at(app, address)
        for _ in range(5):
            login(client, EMAIL, "a wrong guess")
    # A day after A's wait ended, A's record is forgotten; B's is not (yet).
    move_pairs_back(app, timedelta(hours=12))
    with app.app_context():
        db.session.execute(
            update(StaffSigninFailure)
            .where(StaffSigninFailure.address == A)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    # Before the pruning runs, the next failure from A starts its record again.
    login(client_at(app, A), EMAIL, "a wrong guess")
    assert pair(app, A).failures == 1
    with app.app_context():
        db.session.execute(
            update(StaffSigninFailure)
            .where(StaffSigninFailure.address == A)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        assert housekeeping.run_tasks() == []
    assert pair(app, A) is None
    assert pair(app, B).failures == 5
    with app.app_context():
        later = utcnow() + timedelta(hours=13)
        assert accounts.prune_signin_failures(now=later) == 1
    assert pair(app, B) is None


# ---------------------------------------------------------------- argon2


def test_production_argon2_parameters_meet_owasp_and_old_hashes_are_upgraded(app, seeded):
    # OWASP's minimums for argon2id: m=19 MiB with t=2, or more memory with t=1; p=1.
    assert accounts.ARGON2_MEMORY_COST >= 19456 and accounts.ARGON2_TIME_COST >= 2
    assert accounts.ARGON2_PARALLELISM >= 1
    # A hash from the RFC 9106 low-memory profile, as made before, is replaced at sign-in.
    old = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash(PASSWORD)
    make_staff(app, EMAIL)
    with app.app_context():
        db.session.execute(
            update(StaffUser).where(StaffUser.email == EMAIL).values(password_hash=old)
        )
        db.session.commit()
    app.testing = False  # production parameters from here on
    try:
        assert login(client_at(app, A), EMAIL, PASSWORD).status_code == 302
    finally:
        app.testing = True
    with app.app_context():
        stored = db.session.scalar(select(StaffUser.password_hash).where(StaffUser.email == EMAIL))
    assert stored.startswith("$argon2id$v=19$m=32768,t=2,p=1$")


@pytest.mark.config(STAFF_ARGON2_CONCURRENCY=1)
def test_one_argon2_hash_at_a_time_per_process(app, seeded, monkeypatch):
    make_staff(app, EMAIL)
    running = 0
    most = 0
    lock = threading.Lock()
    original = PasswordHasher.verify

    def verify(self, hash_, password):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.05)  # long enough for the threads to meet, if they could
            return original(self, hash_, password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(PasswordHasher, "verify", verify)
    barrier = threading.Barrier(6)

    def guess(n: int) -> None:
        with app.app_context():
            barrier.wait()
            accounts.authenticate(EMAIL, "a wrong guess", accounts.Client(f"192.0.2.{n}"))
            db.session.remove()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert most == 1
