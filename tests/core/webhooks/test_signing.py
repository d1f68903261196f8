"""The signature scheme, as a receiver checks it."""

from __future__ import annotations

import hashlib
import hmac

from core.webhooks.signing import sign, signature_header, verify

SECRET = "whsec_test"
BODY = b'{"id":"1","event":"customers.created"}'


def test_the_signature_is_the_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()

    assert sign(SECRET, 1700000000, BODY) == expected
    assert signature_header([SECRET], 1700000000, BODY) == f"t=1700000000,v1={expected}"


def test_a_fresh_signature_verifies_and_a_changed_body_does_not() -> None:
    header = signature_header([SECRET], 1700000000, BODY)

    assert verify(SECRET, header, BODY, now=1700000000 + 299)
    assert not verify(SECRET, header, BODY + b" ", now=1700000000)
    assert not verify("whsec_other", header, BODY, now=1700000000)


def test_an_old_or_future_timestamp_is_refused_beyond_the_tolerance() -> None:
    header = signature_header([SECRET], 1700000000, BODY)

    assert not verify(SECRET, header, BODY, now=1700000000 + 301)
    assert not verify(SECRET, header, BODY, now=1700000000 - 301)
    assert verify(SECRET, header, BODY, tolerance=600, now=1700000000 + 301)


def test_any_of_several_signatures_may_match() -> None:
    header = signature_header(["whsec_new", SECRET], 1700000000, BODY)

    assert verify(SECRET, header, BODY, now=1700000000)
    assert verify("whsec_new", header, BODY, now=1700000000)


def test_a_malformed_header_is_refused() -> None:
    good = sign(SECRET, 1700000000, BODY)

    for header in ["", "t=abc,v1=" + good, "v1=" + good, "t=1700000000", f"t=1700000000,v0={good}"]:
        assert not verify(SECRET, header, BODY, now=1700000000), header
