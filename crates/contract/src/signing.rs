//! Signing: how the platform computes `X-Signature`, and the escaped form it signs.
//!
//! The signature is `sha256=` followed by the lowercase hex HMAC-SHA256 of
//! `"{X-Timestamp}.{body}"`, keyed with the UTF-8 bytes of the secret as written (a
//! secret of 64 hex characters is *not* hex-decoded).
//!
//! The platform has one quirk. It sends the body with non-ASCII characters raw in
//! UTF-8, but it computes the signature over its own serialisation, in which every
//! character outside printable ASCII (0x20–0x7E) is written as a `\uXXXX` escape
//! (lowercase hex, and a UTF-16 surrogate pair for characters above U+FFFF). That
//! escaped form is a pure function of the bytes received, see [`escaped_form`], and it
//! denotes the same JSON value, so a signature over it authenticates the same message.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Prefix of every `X-Signature` value.
pub const SIGNATURE_PREFIX: &str = "sha256=";

/// A webhook secret, kept as an HMAC key that is ready to use.
///
/// `Debug` prints `Secret(<redacted>)`, so a secret inside a configuration struct never
/// reaches a log by accident.
#[derive(Clone)]
pub struct Secret {
    keyed: HmacSha256,
}

impl Secret {
    /// Creates the HMAC key from the UTF-8 bytes of `secret`, exactly as written.
    pub fn new(secret: impl AsRef<str>) -> Self {
        Self::from_bytes(secret.as_ref().as_bytes())
    }

    /// Creates the HMAC key from raw bytes, for secrets that are not text.
    pub fn from_bytes(key: &[u8]) -> Self {
        // HMAC hashes a long key and pads a short one, so every length is valid and
        // `new_from_slice` cannot fail here.
        let keyed = match HmacSha256::new_from_slice(key) {
            Ok(keyed) => keyed,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        Self { keyed }
    }

    /// Returns an HMAC state with the key and `"{timestamp}."` already absorbed.
    pub(crate) fn mac_for_timestamp(&self, timestamp: &[u8]) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(timestamp);
        mac.update(b".");
        mac
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Signs `body` as the platform would if it sent these exact bytes: returns the
/// `X-Signature` value, `sha256=` and 64 lowercase hex digits.
///
/// `timestamp` is the `X-Timestamp` value as sent (unix seconds in decimal).
pub fn sign(secret: &Secret, timestamp: &str, body: &[u8]) -> String {
    let mut mac = secret.mac_for_timestamp(timestamp.as_bytes());
    mac.update(body);
    format_signature(&mac.finalize().into_bytes())
}

/// Signs `body` the way the real platform does: over its escaped form.
///
/// For an ASCII-only body this equals [`sign`]. Returns `None` when `body` is not
/// valid UTF-8, because the escaped form is defined only for text.
pub fn sign_escaped(secret: &Secret, timestamp: &str, body: &[u8]) -> Option<String> {
    let mut mac = secret.mac_for_timestamp(timestamp.as_bytes());
    feed_escaped(body, |chunk| mac.update(chunk)).ok()?;
    Some(format_signature(&mac.finalize().into_bytes()))
}

/// Returns the escaped form of `body`: every character from U+007F up written as
/// `\uXXXX` (lowercase hex, surrogate pairs above U+FFFF), everything else unchanged.
///
/// This builds a copy, which tools and tests want. Verification streams the same bytes
/// into the HMAC instead. Returns `None` when `body` is not valid UTF-8.
pub fn escaped_form(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 2);
    feed_escaped(body, |chunk| out.extend_from_slice(chunk)).ok()?;
    Some(out)
}

/// The body is not valid UTF-8, so it has no escaped form.
#[derive(Debug)]
pub(crate) struct NotUtf8;

/// Passes the escaped form of `body` to `sink` in pieces, without building a copy.
///
/// Runs of bytes below 0x7F are passed through as slices of `body`. Only characters
/// from U+007F up are rewritten, each into a six- or twelve-byte escape, and escapes
/// are gathered in a small stack buffer so that text with many non-ASCII characters
/// reaches `sink` in few calls. Control characters below 0x20 are passed through: a
/// compact body has none outside strings, and JSON allows none raw inside them.
pub(crate) fn feed_escaped(body: &[u8], mut sink: impl FnMut(&[u8])) -> Result<(), NotUtf8> {
    let text = std::str::from_utf8(body).map_err(|_| NotUtf8)?;
    let mut pending = EscapeBuffer::default();
    let mut rest = text;

    while let Some(position) = rest.bytes().position(|byte| byte >= 0x7F) {
        pending.push_or_flush(&rest.as_bytes()[..position], &mut sink);

        // Bytes from 0x80 up only occur inside multi-byte characters, and 0x7F is a
        // character of its own, so `position` is always a character boundary.
        let tail = &rest[position..];
        let Some(character) = tail.chars().next() else {
            break;
        };
        let mut units = [0u16; 2];
        for unit in character.encode_utf16(&mut units) {
            pending.push_or_flush(&unicode_escape(*unit), &mut sink);
        }
        rest = &tail[character.len_utf8()..];
    }

    pending.push_or_flush(rest.as_bytes(), &mut sink);
    pending.flush(&mut sink);
    Ok(())
}

/// Output gathered on the stack before it is passed on.
struct EscapeBuffer {
    bytes: [u8; 256],
    len: usize,
}

impl Default for EscapeBuffer {
    fn default() -> Self {
        Self {
            bytes: [0; 256],
            len: 0,
        }
    }
}

impl EscapeBuffer {
    /// Appends `piece`, or passes it on directly when it does not fit.
    fn push_or_flush(&mut self, piece: &[u8], sink: &mut impl FnMut(&[u8])) {
        if self.len + piece.len() > self.bytes.len() {
            self.flush(sink);
        }
        if piece.len() > self.bytes.len() {
            sink(piece);
            return;
        }
        self.bytes[self.len..self.len + piece.len()].copy_from_slice(piece);
        self.len += piece.len();
    }

    fn flush(&mut self, sink: &mut impl FnMut(&[u8])) {
        if self.len > 0 {
            sink(&self.bytes[..self.len]);
            self.len = 0;
        }
    }
}

/// Writes one UTF-16 code unit as `\uXXXX` with lowercase hex digits.
fn unicode_escape(unit: u16) -> [u8; 6] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let nibble = |shift: u16| HEX[usize::from((unit >> shift) & 0xF)];
    [b'\\', b'u', nibble(12), nibble(8), nibble(4), nibble(0)]
}

fn format_signature(digest: &[u8]) -> String {
    let mut value = String::with_capacity(SIGNATURE_PREFIX.len() + 64);
    value.push_str(SIGNATURE_PREFIX);
    value.push_str(&hex::encode(digest));
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_form_matches_contract_example() {
        let body = "Café ¿qué ☕ 😀".as_bytes();
        let escaped = escaped_form(body).unwrap();
        assert_eq!(
            String::from_utf8(escaped).unwrap(),
            r"Caf\u00e9 \u00bfqu\u00e9 \u2615 \ud83d\ude00"
        );
    }

    #[test]
    fn escaped_form_escapes_del() {
        assert_eq!(escaped_form(b"a\x7fb").unwrap(), br"a\u007fb".to_vec());
    }

    #[test]
    fn escaped_form_rejects_invalid_utf8() {
        assert!(escaped_form(b"\xff\xfe").is_none());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let secret = Secret::new("super-secret-value");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn sign_escaped_equals_sign_for_ascii() {
        let secret = Secret::new("k");
        let body = br#"{"a":"b"}"#;
        assert_eq!(
            sign_escaped(&secret, "1", body).unwrap(),
            sign(&secret, "1", body)
        );
    }
}
