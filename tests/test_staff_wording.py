"""Staff pages speak in words: states, audit actions, actors and mail kinds, never stored codes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from petition.core import wording
from petition.models import OutboxStatus, SignatureState
from tests.conftest import valid_form
from tests.flows import confirm, post_form
from tests.htmltree import parse
from tests.staff_helpers import act, make_signature

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")

PETITION = Path(__file__).resolve().parent.parent / "petition"
#: What a person must never read on a staff page: stored codes and the old placeholders.
CODES = re.compile(
    r"pending_email|staff_created|staff_signed_in|_[a-z]+_|∅|signatory signatory|"
    r"\b(?:approve|reject|reopen|unpublish)\b"
)


def cell_texts(html: str, table_class: str) -> list[str]:
    table = parse(html).find("table", class_=table_class)
    assert table is not None, f"no table.{table_class}"
    return [" ".join(td.text.split()) for td in table.find_all("td")]


def test_audit_log_reads_as_words(app, client, seeded, moderator):
    email = "wording@example.org"
    assert post_form(client, seeded, valid_form(email=email)).status_code == 302
    signature_id = confirm(app, client, email)
    assert act(moderator, signature_id, "approve").status_code == 303

    page = moderator.get("/staff/audit").get_data(as_text=True)
    cells = cell_texts(page, "audit-table")
    text = " | ".join(cells)
    assert not CODES.search(text), CODES.search(text)
    # The signature's life, newest first: approved by staff, confirmed and submitted by the signatory.
    assert "Approved" in cells and "Awaiting a decision → Approved" in cells
    assert "Email confirmed" in cells
    assert "Waiting for email confirmation → Awaiting a decision" in cells
    assert "Submitted" in cells and "New: Waiting for email confirmation" in cells
    assert "The signatory" in cells
    assert "mod@example.org Staff" in cells
    assert "Staff account created" in cells and "Signed in" in cells
    # The filter offers the same words; its values stay the codes the URLs carry.
    options = {
        o.get("value"): o.text for o in parse(page).find("select", id="a-action").find_all("option")
    }
    assert options["approve"] == "Approved" and options["submitted"] == "Submitted"
    assert options["staff_created"] == "Staff account created"
    approve_only = moderator.get("/staff/audit?action=approve").get_data(as_text=True)
    assert cell_texts(approve_only, "audit-table").count("Approved") == 1


def test_signature_page_history_and_mail_in_words_without_row_version(
    app, client, seeded, moderator
):
    email = "history@example.org"
    post_form(client, seeded, valid_form(email=email))
    signature_id = confirm(app, client, email)
    page = moderator.get(f"/staff/signatures/{signature_id}").get_data(as_text=True)
    assert "Row version" not in page
    tree = parse(page)
    history = " | ".join(" ".join(td.text.split()) for td in tree.find_all("td"))
    assert not CODES.search(history), CODES.search(history)
    assert "Email confirmed Waiting for email confirmation → Awaiting a decision" in history
    assert "Submitted New: Waiting for email confirmation" in history
    mails = " ".join(tree.find("ul", class_="plain-list").text.split())
    assert "Confirmation link" in mails and "confirm ·" not in mails
    eyebrow = " ".join(tree.find("p", class_="eyebrow").text.split())
    assert "All: Awaiting a decision" in eyebrow


def test_edit_history_shows_field_names_and_values_in_words(app, seeded, moderator):
    from tests.staff_helpers import post

    sid = make_signature(app, seeded, name="Wording Org", country="PL", org_type="region")
    response = post(
        moderator,
        f"/staff/signatures/{sid}/edit",
        {
            "organisation_name": "Wording Org",
            "organisation_type": "university",
            "country": "DE",
            "city": "Łódź",
            "website": "https://www.lodzkie.pl",
            "comment": "",
            "note": "",
            "row_version": "1",
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    page = moderator.get(f"/staff/signatures/{sid}").get_data(as_text=True)
    diff = parse(page).find("dl", class_="diff")
    terms = [dt.text for dt in diff.find_all("dt")]
    values = [" ".join(dd.text.split()) for dd in diff.find_all("dd")]
    assert terms == ["Type", "Country"]
    assert values == ["Regions Universities", "Poland (PL) Germany (DE)"]


def test_refusals_name_the_state_in_words(app, seeded, moderator):
    from tests.staff_helpers import flashes

    sid = make_signature(app, seeded, name="Pending Org", state=SignatureState.PENDING_EMAIL)
    response = act(moderator, sid, "approve", expected_state="")
    page = flashes(moderator, response)
    flash = " ".join(parse(page).find(class_="flash").text.split())
    assert f"Signature {sid} is waiting for email confirmation; it cannot be approved." in flash


def _recorded_actions() -> set[str]:
    """Every action code the code base passes to the audit, read from its source."""
    found: set[str] = set()
    for path in PETITION.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name not in ("record", "_record_staff", "_audit"):
                continue
            for const in ast.walk(node.args[1]):
                if isinstance(const, ast.Constant) and isinstance(const.value, str):
                    found.add(const.value)
    return found


def test_every_audit_action_in_the_code_has_words():
    from petition.moderation.service import _TRANSITIONS

    actions = _recorded_actions() | set(_TRANSITIONS)
    assert {"submitted", "staff_created", "mail_marked_sent", "approve"} <= actions
    missing = sorted(a for a in actions if a not in wording.ACTION_LABELS)
    assert missing == []


def test_every_state_mail_kind_and_status_has_words():
    assert set(wording.STATE_LABELS) == {s.value for s in SignatureState}
    assert set(wording.OUTBOX_STATUS_LABELS) == {s.value for s in OutboxStatus}
    kinds = set()
    for path in PETITION.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = getattr(getattr(node, "func", None), "attr", "")
            if isinstance(node, ast.Call) and name == "queue_email" and node.args:
                if isinstance(node.args[0], ast.Constant):
                    kinds.add(node.args[0].value)
    # passed on as the template's name
    kinds |= {"already_signed", "manage_link", "staff_invite", "staff_reset"}
    assert kinds - set(wording.MAIL_KIND_LABELS) == set()
    # A code nobody named yet still reads as words.
    assert wording.action_label("mail_bounced") == "Mail bounced"


def test_actor_words():
    assert wording.actor_words("signatory", "signatory") == ("The signatory", "")
    assert wording.actor_words("staff", "mod@example.org") == ("mod@example.org", "Staff")
    assert wording.actor_words("cli", "staff create") == ("flask staff create", "Command line")
    assert wording.actor_words("cli", "cli") == ("Command line", "")
    assert wording.actor_words("system", "retention") == ("Retention", "Automatic")


def _countries_page(app, seeded, moderator, codes):
    for i, code in enumerate(codes):
        make_signature(app, seeded, name=f"Org {code}", email=f"o{i}@c{i}.example", country=code)
    return moderator.get("/staff/queue").get_data(as_text=True)


def test_queue_country_filter_sorted_by_name(app, seeded, moderator):
    page = _countries_page(app, seeded, moderator, ["CH", "DE", "AT", "AX", "NL", "GR"])
    options = parse(page).find("select", id="f-country").find_all("option")
    names = [o.text.rsplit(" (", 1)[0] for o in options[1:]]
    assert names == ["Åland Islands", "Austria", "Germany", "Greece", "Netherlands", "Switzerland"]


def test_more_countries_is_a_link_to_all_of_them(app, seeded, moderator):
    codes = "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT".split()
    for i, code in enumerate(codes):
        make_signature(app, seeded, name=f"Org {code}", email=f"o{i}@c{i}.example", country=code)
    page = moderator.get("/staff/").get_data(as_text=True)
    panel = parse(page).find("section", id="by-country")
    rows = panel.find("tbody").find_all("tr")
    more = next((a for a in panel.find_all("a") if "more countries" in a.text), None)
    assert more is not None, "the remark about the other countries is a link"
    assert len(rows) == 15
    full = moderator.get(more.get("href")).get_data(as_text=True)
    all_rows = parse(full).find("section", id="by-country").find("tbody").find_all("tr")
    shown = int(re.search(r"and (\d+) more", more.text).group(1))
    assert len(all_rows) == 15 + shown
    linked = {tr.find("a").text for tr in all_rows}
    assert {"Lithuania", "Latvia", "Austria"} <= linked


def test_pdf_build_log_says_why_in_words(app, seeded, admin):
    from petition.extensions import db
    from petition.models import PdfBuildLog
    from tests.staff_helpers import statement_id

    triggers = ["approve", "statement_version", "staff asked for a rebuild (a-b@example.org)"]
    sid = statement_id(app, seeded)
    with app.app_context():
        for trigger in triggers:
            db.session.add(PdfBuildLog(statement_id=sid, trigger=trigger, ok=True))
        db.session.commit()
    page = admin.get("/staff/pdf").get_data(as_text=True)
    cells = [" ".join(td.text.split()) for td in parse(page).find_all("td")]
    assert "An endorsement was approved" in cells
    assert "New version of the statement" in cells
    assert "Staff asked for a rebuild (a-b@example.org)" in cells
    assert "approve" not in cells and "statement_version" not in cells
    # Every reason the code announces a list change with has its words.
    reasons = set()
    for path in PETITION.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if getattr(getattr(node, "func", None), "attr", "") == "signatory_list_changed":
                for kw in getattr(node, "keywords", []):
                    if kw.arg == "reason" and isinstance(kw.value, ast.Constant):
                        reasons.add(kw.value.value)
    assert {"edit", "import", "embargo ended"} <= reasons
    assert reasons - set(wording.BUILD_TRIGGER_LABELS) == set()
