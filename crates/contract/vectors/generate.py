#!/usr/bin/env python3
"""Regenerate signing.json, the known-answer vectors for signing and verification.

The signatures are computed here with Python's standard library, independently of the
Rust code they test. Python's `json.dumps(value, ensure_ascii=True, separators=(",", ":"))`
writes every character outside printable ASCII as a lowercase `\\uXXXX` escape, with a
surrogate pair above U+FFFF, which is the escaped form the platform signs.

Run: python3 crates/contract/vectors/generate.py > crates/contract/vectors/signing.json
"""

import hashlib
import hmac
import json

SECRET = "7d5e3c1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d"
PREVIOUS = "previous-secret-2026-rotation"
TS = "1796400000"
NOW = 1796400000

WORKED_BODY = (
    '{"version":"1.0","event":"message_received","app":{"id":"app-1","name":"Café bot"},'
    '"thread":{"id":"thread-1","customer_id":null},"message":{"id":"msg-1","seq":3,'
    '"role":"user","content":"Hola, ¿qué tal? ☕ 😀","content_json":{}},"history_tail":[],'
    '"timestamp":"2026-12-04T12:00:00.000000+00:00"}'
)
ASCII_BODY = (
    '{"version":"1.0","event":"message_received","app":{"id":"app-1","name":"Echo"},'
    '"thread":{"id":"thread-1","customer_id":"c-1"},"message":{"id":"msg-1","seq":1,'
    '"role":"user","content":"hello","content_json":{}},"history_tail":[],'
    '"timestamp":"2026-12-04T12:00:00Z"}'
)
ASTRAL_BODY = '{"version":"1.0","event":"message_received","message":{"content":"math 𝔸 and 🎉"}}'
DEL_BODY = '{"version":"1.0","event":"message_received","message":{"content":"a\x7fb"}}'
SLASH_BODY = '{"version":"1.0","event":"message_received","message":{"content":"é/1"}}'


def hmac_hex(key: bytes, timestamp: str, signed: bytes) -> str:
    return hmac.new(key, timestamp.encode() + b"." + signed, hashlib.sha256).hexdigest()


def escaped(body: str) -> bytes:
    """The platform's serialisation: the same JSON, non-ASCII escaped, compact."""
    text = json.dumps(json.loads(body), ensure_ascii=True, separators=(",", ":"))
    assert json.loads(text) == json.loads(body)
    return text.encode()


def raw_sig(body: str, secret: str = SECRET, ts: str = TS) -> str:
    return "sha256=" + hmac_hex(secret.encode(), ts, body.encode())


def escaped_sig(body: str, secret: str = SECRET, ts: str = TS) -> str:
    return "sha256=" + hmac_hex(secret.encode(), ts, escaped(body))


def ok(name, description, body, signature, slot="current", form="raw", **extra):
    vector = {
        "name": name,
        "description": description,
        "secret": SECRET,
        "previous_secret": extra.pop("previous", None),
        "timestamps": extra.pop("timestamps", [TS]),
        "signatures": [signature],
        "body": body,
        "now": NOW,
        "expect": {"ok": {"secret": slot, "form": form}},
    }
    vector.update(extra)
    return vector


def err(name, description, body, variant, code, timestamps=None, signatures=None, now=NOW, **extra):
    vector = {
        "name": name,
        "description": description,
        "secret": SECRET,
        "previous_secret": extra.pop("previous", None),
        "timestamps": [TS] if timestamps is None else timestamps,
        "signatures": [raw_sig(body)] if signatures is None else signatures,
        "body": body,
        "now": now,
        "expect": {"error": {"variant": variant, "code": code, "status": 401}},
    }
    vector.update(extra)
    return vector


def main():
    worked_platform = escaped_sig(WORKED_BODY)
    assert worked_platform == "sha256=58764eddad0c38e90e2f16b508374d9eaf6df642190fbfc157a5f690080d87c1"
    assert raw_sig(WORKED_BODY) == "sha256=b864598cad42de684537b3283b5362c4791bab6a7976336613271a63e4426c22"

    slash_escaped = escaped(SLASH_BODY).replace(b"/", b"\\/")
    upper_escaped = escaped(WORKED_BODY).replace(b"\\u00e9", b"\\u00E9")
    assert upper_escaped != escaped(WORKED_BODY)
    hex_key = bytes.fromhex(SECRET)

    vectors = [
        ok("worked_vector_platform_signature",
           "The platform's real signature for a non-ASCII message: over the escaped form.",
           WORKED_BODY, worked_platform, form="escaped"),
        ok("worked_vector_raw_signature",
           "The same body signed over its raw UTF-8 bytes, as a naive sender would.",
           WORKED_BODY, raw_sig(WORKED_BODY)),
        ok("ascii_body", "An ASCII-only body: raw and escaped forms are identical.",
           ASCII_BODY, raw_sig(ASCII_BODY)),
        ok("empty_body", "An empty body signs as the timestamp and a dot.", "", raw_sig("")),
        ok("astral_characters_escaped",
           "Characters above U+FFFF are signed as UTF-16 surrogate pairs of escapes.",
           ASTRAL_BODY, escaped_sig(ASTRAL_BODY), form="escaped"),
        ok("del_character_escaped",
           "DEL (0x7F) is outside printable ASCII, so the platform escapes it as \\u007f.",
           DEL_BODY, escaped_sig(DEL_BODY), form="escaped"),
        ok("uppercase_hex_signature", "Hex digits of the signature may be uppercase.",
           ASCII_BODY, "sha256=" + hmac_hex(SECRET.encode(), TS, ASCII_BODY.encode()).upper()),
        ok("previous_secret_raw", "A request signed with the previous secret during rotation.",
           ASCII_BODY, raw_sig(ASCII_BODY, PREVIOUS), slot="previous", previous=PREVIOUS),
        ok("previous_secret_escaped",
           "A non-ASCII request signed by the platform with the previous secret.",
           WORKED_BODY, escaped_sig(WORKED_BODY, PREVIOUS), slot="previous", form="escaped",
           previous=PREVIOUS),
        ok("timestamp_at_tolerance_edge", "Exactly 300 s old is still inside the window.",
           ASCII_BODY, raw_sig(ASCII_BODY), now=NOW + 300, needs_clock=True),
        err("missing_timestamp", "X-Signature without X-Timestamp.", ASCII_BODY,
            "MissingHeader(Timestamp)", "missing_signature", timestamps=[]),
        err("missing_signature", "X-Timestamp without X-Signature.", ASCII_BODY,
            "MissingHeader(Signature)", "missing_signature", signatures=[]),
        err("missing_both_headers", "An unsigned request to a receiver with a secret.", ASCII_BODY,
            "MissingHeader(Both)", "missing_signature", timestamps=[], signatures=[]),
        err("timestamp_with_trailing_letters", "Digits followed by letters, signed as sent.",
            ASCII_BODY, "MalformedTimestamp(NotDigits)", "malformed_timestamp",
            timestamps=[TS + "abc"], signatures=[raw_sig(ASCII_BODY, ts=TS + "abc")]),
        err("timestamp_empty", "An empty X-Timestamp.", ASCII_BODY,
            "MalformedTimestamp(Empty)", "malformed_timestamp", timestamps=[""]),
        err("timestamp_with_space", "A space inside X-Timestamp.", ASCII_BODY,
            "MalformedTimestamp(NotVisibleAscii)", "malformed_timestamp", timestamps=["1796 400000"]),
        err("timestamp_repeated", "X-Timestamp sent twice.", ASCII_BODY,
            "MalformedTimestamp(Repeated)", "malformed_timestamp", timestamps=[TS, TS]),
        err("timestamp_out_of_range", "More digits than any unix time in seconds.", ASCII_BODY,
            "MalformedTimestamp(OutOfRange)", "malformed_timestamp",
            timestamps=["99999999999999999999999"]),
        err("signature_other_prefix", "A digest under another algorithm name.", ASCII_BODY,
            "MalformedSignature(WrongPrefix)", "malformed_signature",
            signatures=["sha1=" + hmac_hex(SECRET.encode(), TS, ASCII_BODY.encode())]),
        err("signature_without_prefix", "The bare hex digest.", ASCII_BODY,
            "MalformedSignature(WrongPrefix)", "malformed_signature",
            signatures=[hmac_hex(SECRET.encode(), TS, ASCII_BODY.encode())]),
        err("signature_truncated", "Only the first 40 hex digits.", ASCII_BODY,
            "MalformedSignature(WrongLength(40))", "malformed_signature",
            signatures=[raw_sig(ASCII_BODY)[:47]]),
        err("signature_prefix_only", "sha256= and nothing after it.", ASCII_BODY,
            "MalformedSignature(WrongLength(0))", "malformed_signature", signatures=["sha256="]),
        err("signature_not_hex", "64 characters that are not all hex digits.", ASCII_BODY,
            "MalformedSignature(NotHex)", "malformed_signature", signatures=["sha256=" + "zz" * 32]),
        err("signature_repeated", "X-Signature sent twice, the second one valid.", ASCII_BODY,
            "MalformedSignature(Repeated)", "malformed_signature",
            signatures=["sha256=" + "0" * 64, raw_sig(ASCII_BODY)]),
        err("signature_with_space", "A space after the prefix.", ASCII_BODY,
            "MalformedSignature(NotVisibleAscii)", "malformed_signature",
            signatures=["sha256= " + hmac_hex(SECRET.encode(), TS, ASCII_BODY.encode())]),
        err("timestamp_too_old", "Correctly signed, 301 s old: a replay.", ASCII_BODY,
            "TimestampTooOld { age_secs: 301 }", "timestamp_out_of_tolerance", now=NOW + 301,
            needs_clock=True),
        err("timestamp_too_new", "Correctly signed, 301 s in the future.", ASCII_BODY,
            "TimestampTooNew { ahead_secs: 301 }", "timestamp_out_of_tolerance", now=NOW - 301,
            needs_clock=True),
        err("wrong_secret", "Signed with a secret this receiver does not hold.", ASCII_BODY,
            "Mismatch", "signature_mismatch", signatures=[raw_sig(ASCII_BODY, "another-secret")]),
        err("hex_decoded_secret", "Keyed with the hex-decoded secret instead of its UTF-8 bytes.",
            ASCII_BODY, "Mismatch", "signature_mismatch",
            signatures=["sha256=" + hmac_hex(hex_key, TS, ASCII_BODY.encode())]),
        err("body_changed_after_signing", "The signature covers 'hello', the body says 'hellp'.",
            ASCII_BODY.replace("hello", "hellp"), "Mismatch", "signature_mismatch",
            signatures=[raw_sig(ASCII_BODY)]),
        err("escaped_form_with_escaped_slash",
            "Signed over an escaped form that also writes / as \\/: not the platform's form.",
            SLASH_BODY, "Mismatch", "signature_mismatch",
            signatures=["sha256=" + hmac_hex(SECRET.encode(), TS, slash_escaped)]),
        err("escaped_form_with_uppercase_escapes",
            "Signed over an escaped form with uppercase hex in \\u escapes: not the platform's form.",
            WORKED_BODY, "Mismatch", "signature_mismatch",
            signatures=["sha256=" + hmac_hex(SECRET.encode(), TS, upper_escaped)]),
    ]

    document = {
        "description": (
            "Known-answer vectors for signing and verification, generated by generate.py "
            "with Python's standard library. Each vector gives the receiver's secret (and "
            "previous secret), every X-Timestamp and X-Signature value sent (an empty list "
            "means the header is absent), the body as UTF-8 text, and the receiver's clock "
            "in unix seconds. expect.ok names the secret slot and body form that match; "
            "expect.error names the Rust VerifyError in Debug form, the error code and the "
            "HTTP status. Vectors with needs_clock only pass with the receiver's clock set "
            "to 'now'; the tolerance is 300 s throughout."
        ),
        "tolerance_secs": 300,
        "vectors": vectors,
    }
    print(json.dumps(document, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
