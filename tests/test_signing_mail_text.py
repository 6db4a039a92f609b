"""Text an organisation typed reaches the plain part of its emails in a form no mail client links."""

from __future__ import annotations

import re

from tests.conftest import links_in, submit_sign

# What autolinkers pick up: a scheme, www., or a dotted name ending in a top-level domain.
LINKABLE = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.|[\w-]+\.(?:com|example|org)\b)|\w@\w")


def test_organisation_text_is_not_link_like_in_the_plain_part(app, client, seeded, smtp):
    submit_sign(
        client,
        seeded,
        organisation_name="Prizes at evil.example.com or http://evil.example/win",
        contact_name="See www.evil.example",
        email="victim@example.net",
    )
    message = smtp.wait_for(1)[0]
    plain = message.get_body(("plain",)).get_content()
    ours = plain
    for link in re.findall(r"http://localhost/\S+", plain):
        ours = ours.replace(link, "")
    assert "evil[.]example[.]com" in ours and "http[:]//evil[.]example/win" in ours
    assert not LINKABLE.search(ours), LINKABLE.search(ours)
    # The site's own links stay links.
    assert set(links_in(message)) == {"confirm", "withdraw"}
