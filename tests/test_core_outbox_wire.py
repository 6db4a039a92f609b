"""outbox.WirePolicy: compat32's bytes, exactly, with a short cut for short plain headers.

The short cut is only worth having if a message comes out byte for byte as compat32 writes it,
so every header a message can carry is compared with compat32's own folding: generated values
(ASCII and not, short and long, odd whitespace) and whole messages."""

from __future__ import annotations

import email.policy
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from petition.core import outbox

COMPAT32 = email.policy.compat32.clone(linesep="\r\n")
NAMES = ["Subject", "To", "From", "Reply-To", "X-Jointly-Outbox-Id", "List-Unsubscribe"]
WORDS = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(NAMES),
    st.one_of(
        # Plain words: the short cut's own ground, either side of the 78-character limit.
        st.lists(WORDS, min_size=1, max_size=8).map(" ".join),
        # ASCII with tabs, runs of spaces, leading or trailing blanks.
        st.text(
            st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.just("\t"), max_size=100
        ),
        # Anything else: Łódź, Ελλάδα, control characters.
        st.text(
            st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
            max_size=120,
        ),
    ),
)
def test_every_header_folds_as_compat32_folds_it(name: str, value: str) -> None:
    assert outbox.WirePolicy(linesep="\r\n").fold_binary(name, value) == COMPAT32.fold_binary(
        name, value
    )


def test_the_limit_is_compat32s_exactly() -> None:
    policy = outbox.WirePolicy(linesep="\r\n")
    for length in range(60, 90):
        value = ("word " * 20)[: length - len("Subject: ")].strip()
        assert policy.fold("Subject", value) == COMPAT32.fold("Subject", value)


def test_a_long_line_kept_folded_is_folded_for_its_policy() -> None:
    value = "Confirm your endorsement of " + "a statement with a long title " * 4
    for linesep, limit in [("\r\n", 78), ("\n", 78), ("\r\n", 40), ("\r\n", 78)]:
        policy = outbox.WirePolicy(linesep=linesep, max_line_length=limit)
        expected = COMPAT32.clone(linesep=linesep, max_line_length=limit)
        for _ in range(2):  # the second time from what the first kept
            assert policy.fold("Subject", value) == expected.fold("Subject", value)
        assert policy.fold("X-Other", value) == expected.fold("X-Other", value)


def test_a_whole_message_is_byte_for_byte_compat32s(app) -> None:
    row = SimpleNamespace(
        id=7,
        kind="confirm",
        to_address="anna.nowak@lodzkie.pl",
        subject="Confirm your organisation's endorsement: Innovation investments in "
        "interregional value chains",
        body_text="Dear Anna Nowak,\n\nOpen https://example.org/confirm/abc to confirm.\n",
        body_html="<p>Dear Anna Nowak,</p><p><a href='https://example.org/c'>Confirm</a></p>",
        message_id="<20261204.7.abc@example.org>",
        list_unsubscribe="<https://example.org/unsubscribe/" + "x" * 60 + ">",
    )
    with app.app_context():
        for subject in (row.subject, "Potwierdź poparcie: Łódź", "short"):
            row.subject = subject
            msg = outbox._build_message(row, "Jointly <noreply@example.org>", "c@example.org")
            ours = msg.as_bytes()
            for part in msg.walk():
                part.policy = COMPAT32
            assert ours == msg.as_bytes(), subject


def _message(app, body_text: str, body_html: str) -> bytes:
    row = SimpleNamespace(
        id=8,
        kind="confirm",
        to_address="anna.nowak@lodzkie.pl",
        subject="Confirm",
        body_text=body_text,
        body_html=body_html,
        message_id="<20261204.8.abc@example.org>",
        list_unsubscribe=None,
    )
    with app.app_context():
        return outbox._build_message(row, "Jointly <noreply@example.org>", None).as_bytes()


def _parts(raw: bytes) -> tuple[str, list[str]]:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    bodies = [part.get_content().replace("\r\n", "\n") for part in parsed.iter_parts()]
    return parsed.get_boundary(), bodies


def test_the_boundary_is_chosen_with_the_bodies_in_view(app, monkeypatch) -> None:
    text, html = "Dear Anna,\n\nŁódź is on the list.\n", "<p>Dear Anna,</p><p>Łódź</p>\n"
    raw = _message(app, text, html)
    boundary, bodies = _parts(raw)
    # 96 random bits, and a Content-Type of one line.
    assert boundary.startswith("=_") and len(boundary) == 26
    assert raw.startswith(
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'.encode()
    )
    assert bodies == [text, html]
    # A body that holds the boundary drawn: the generator picks one of its own instead.
    monkeypatch.setattr(outbox.secrets, "token_hex", lambda n: "f" * 2 * n)
    trap = f"--=_{'f' * 24}\n"
    boundary, bodies = _parts(_message(app, text + trap, html))
    assert boundary != f"=_{'f' * 24}"
    assert bodies == [text + trap, html]
    boundary, bodies = _parts(_message(app, text, html + trap))
    assert boundary != f"=_{'f' * 24}"
    assert bodies == [text, html + trap]
