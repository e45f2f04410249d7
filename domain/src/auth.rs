//! Is a delivery authentic? HMAC-SHA256 signatures and URL tokens, compared in constant time.
//!
//! Our own signature scheme, version 1: `X-Leadrelay-Signature: v1=<hex>`, the hex
//! HMAC-SHA256, keyed with the source's secret, of
//!
//! ```text
//! v1 LF <X-Leadrelay-Timestamp or nothing> LF <Idempotency-Key or nothing> LF <body>
//! ```
//!
//! Every field but the last is a header value, which cannot hold a line feed, so one signed
//! string has exactly one reading: a signature made with a timestamp never verifies without
//! one (the old `<timestamp>.<body>` string also read as the timestamp-less signature of the
//! body `"<timestamp>." + body`), and the `Idempotency-Key` a delivery is deduplicated by is
//! always the one its sender signed.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

/// How far a signed timestamp may be from now, either way.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

/// The version label of the signature scheme, before `=` in `X-Leadrelay-Signature`.
pub const SIGNATURE_VERSION: &str = "v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("signature does not match")]
    BadSignature,
    #[error("token does not match")]
    BadToken,
    #[error("timestamp is more than 5 minutes away from now")]
    StaleTimestamp,
}

/// What a signed delivery carries, as received (header values untrimmed or trimmed alike).
#[derive(Debug, Clone, Copy, Default)]
pub struct Signed<'a> {
    /// `X-Leadrelay-Signature`.
    pub signature: Option<&'a str>,
    /// `X-Leadrelay-Timestamp`, unix seconds.
    pub timestamp: Option<&'a str>,
    /// `Idempotency-Key`.
    pub idempotency_key: Option<&'a str>,
    pub body: &'a [u8],
}

/// Computes the `v1=<hex>` signature a sender puts in `X-Leadrelay-Signature`, over the
/// timestamp and `Idempotency-Key` it sends (if any) and the body.
pub fn sign(
    secret: &Secret,
    timestamp: Option<&str>,
    idempotency_key: Option<&str>,
    body: &[u8],
) -> String {
    let tag = mac(secret, timestamp, idempotency_key, body).finalize();
    format!("{SIGNATURE_VERSION}={}", hex::encode(tag.into_bytes()))
}

/// The string a v1 signature covers; senders build the same bytes (docs/webhook-api.md).
pub fn signed_string(
    timestamp: Option<&str>,
    idempotency_key: Option<&str>,
    body: &[u8],
) -> Vec<u8> {
    let mut s = Vec::with_capacity(body.len() + 64);
    for part in signed_parts(timestamp, idempotency_key, body) {
        s.extend_from_slice(part);
    }
    s
}

fn signed_parts<'a>(
    timestamp: Option<&'a str>,
    idempotency_key: Option<&'a str>,
    body: &'a [u8],
) -> [&'a [u8]; 7] {
    let field = |v: Option<&'a str>| v.map(str::trim).unwrap_or_default().as_bytes();
    [
        SIGNATURE_VERSION.as_bytes(),
        b"\n",
        field(timestamp),
        b"\n",
        field(idempotency_key),
        b"\n",
        body,
    ]
}

fn mac(
    secret: &Secret,
    timestamp: Option<&str>,
    idempotency_key: Option<&str>,
    body: &[u8],
) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    for part in signed_parts(timestamp, idempotency_key, body) {
        m.update(part);
    }
    m
}

const WANT_SIGNATURE: &str = "X-Leadrelay-Signature header (want v1=<hex>)";

/// Verifies `X-Leadrelay-Signature` over the timestamp and `Idempotency-Key` (when sent) and
/// the body, then the timestamp's distance from `now`. With `require_timestamp`, a delivery
/// without `X-Leadrelay-Timestamp` is refused.
pub fn verify_hmac(
    secret: &Secret,
    signed: &Signed,
    require_timestamp: bool,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let signature = signed
        .signature
        .ok_or(AuthError::Missing("X-Leadrelay-Signature header"))?;
    if require_timestamp && signed.timestamp.is_none() {
        return Err(AuthError::Missing("X-Leadrelay-Timestamp header"));
    }
    let signature = signature.trim();
    if signature.starts_with("sha256=") {
        return Err(AuthError::Malformed(
            "X-Leadrelay-Signature header (sha256= signatures are no longer taken: sign v1)",
        ));
    }
    let hex_tag = signature
        .strip_prefix(SIGNATURE_VERSION)
        .and_then(|s| s.strip_prefix('='))
        .ok_or(AuthError::Malformed(WANT_SIGNATURE))?;
    let tag = hex::decode(hex_tag).map_err(|_| AuthError::Malformed(WANT_SIGNATURE))?;
    // The signature covers the timestamp, so check it first: an attacker cannot probe the
    // clock window with unsigned timestamps.
    mac(
        secret,
        signed.timestamp,
        signed.idempotency_key,
        signed.body,
    )
    .verify_slice(&tag)
    .map_err(|_| AuthError::BadSignature)?;
    if let Some(ts) = signed.timestamp {
        let ts: i64 = ts.trim().parse().map_err(|_| {
            AuthError::Malformed("X-Leadrelay-Timestamp header (want unix seconds)")
        })?;
        if now
            .timestamp()
            .checked_sub(ts)
            .is_none_or(|d| d.unsigned_abs() > TIMESTAMP_TOLERANCE_SECS.unsigned_abs())
        {
            return Err(AuthError::StaleTimestamp);
        }
    }
    Ok(())
}

/// Verifies the `token` query parameter of a source that cannot sign.
pub fn verify_token(secret: &Secret, token: Option<&str>) -> Result<(), AuthError> {
    let token = token.ok_or(AuthError::Missing("token query parameter"))?;
    if secret.matches(token) {
        Ok(())
    } else {
        Err(AuthError::BadToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-03-02T10:00:00Z".parse().unwrap()
    }

    fn body(body: &[u8]) -> Signed<'_> {
        Signed {
            body,
            ..Signed::default()
        }
    }

    fn signed<'a>(
        signature: &'a str,
        timestamp: Option<&'a str>,
        idempotency_key: Option<&'a str>,
        body: &'a [u8],
    ) -> Signed<'a> {
        Signed {
            signature: Some(signature),
            timestamp,
            idempotency_key,
            body,
        }
    }

    #[test]
    fn a_body_signed_with_the_secret_verifies() {
        let s = Secret::new("s3cret");
        let sig = sign(&s, None, None, b"{}");
        assert!(sig.starts_with("v1="));
        let ok = |sig: &str, b: &[u8], secret: &Secret| {
            verify_hmac(secret, &signed(sig, None, None, b), false, now())
        };
        assert_eq!(ok(&sig, b"{}", &s), Ok(()));
        assert_eq!(ok(&sig, b"{ }", &s), Err(AuthError::BadSignature));
        assert_eq!(
            ok(&sig, b"{}", &Secret::new("other")),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn the_signed_string_is_the_documented_one() {
        // docs/webhook-api.md works this example through with openssl.
        assert_eq!(
            signed_string(Some("1772445600"), Some("order-42"), b"{}"),
            b"v1\n1772445600\norder-42\n{}"
        );
        assert_eq!(signed_string(None, None, b"{}"), b"v1\n\n\n{}");
        let s = Secret::new("s3cret");
        assert_eq!(
            sign(
                &s,
                Some("1772445600"),
                Some("order-42"),
                br#"{"email":"ana@example.com"}"#
            ),
            "v1=011c3dbfe23834da0e585687e0361a741f98ae21ce30a728ddb894e33143a70a"
        );
    }

    #[test]
    fn a_timestamped_signature_covers_the_timestamp_and_expires() {
        let s = Secret::new("s3cret");
        let ts = now().timestamp().to_string();
        let sig = sign(&s, Some(&ts), None, b"{}");
        let check = |ts: &str, at| verify_hmac(&s, &signed(&sig, Some(ts), None, b"{}"), true, at);
        assert_eq!(check(&ts, now()), Ok(()));
        // The same signature with another timestamp is not valid.
        let other = (now().timestamp() + 1).to_string();
        assert_eq!(check(&other, now()), Err(AuthError::BadSignature));
        let late = now() + chrono::Duration::seconds(301);
        assert_eq!(check(&ts, late), Err(AuthError::StaleTimestamp));
        let early = now() - chrono::Duration::seconds(301);
        assert_eq!(check(&ts, early), Err(AuthError::StaleTimestamp));
    }

    #[test]
    fn a_timestamped_signature_does_not_verify_as_the_signature_of_a_prefixed_body() {
        let s = Secret::new("s3cret");
        let ts = now().timestamp().to_string();
        let sig = sign(&s, Some(&ts), None, b"email=ana%40example.com");
        // The old scheme's `<ts>.<body>` read two ways; no rearrangement reads as another now.
        for forged in [
            format!("{ts}.email=ana%40example.com"),
            format!("{ts}\nemail=ana%40example.com"),
            format!("{ts}\n\nemail=ana%40example.com"),
        ] {
            assert_eq!(
                verify_hmac(
                    &s,
                    &signed(&sig, None, None, forged.as_bytes()),
                    false,
                    now()
                ),
                Err(AuthError::BadSignature),
                "{forged:?}"
            );
        }
        // Nor does the timestamp pass for the idempotency key.
        assert_eq!(
            verify_hmac(
                &s,
                &signed(&sig, None, Some(&ts), b"email=ana%40example.com"),
                false,
                now()
            ),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn the_signature_covers_the_idempotency_key() {
        let s = Secret::new("s3cret");
        let sig = sign(&s, None, Some("order-42"), b"{}");
        let check = |key| verify_hmac(&s, &signed(&sig, None, key, b"{}"), false, now());
        assert_eq!(check(Some("order-42")), Ok(()));
        assert_eq!(check(Some(" order-42 ")), Ok(()));
        assert_eq!(check(Some("order-43")), Err(AuthError::BadSignature));
        assert_eq!(check(None), Err(AuthError::BadSignature));
        // A signature without a key does not cover one added later.
        let bare = sign(&s, None, None, b"{}");
        assert_eq!(
            verify_hmac(&s, &signed(&bare, None, Some("fresh"), b"{}"), false, now()),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn a_source_that_requires_the_timestamp_refuses_a_delivery_without_one() {
        let s = Secret::new("s3cret");
        let sig = sign(&s, None, None, b"{}");
        assert_eq!(
            verify_hmac(&s, &signed(&sig, None, None, b"{}"), true, now()),
            Err(AuthError::Missing("X-Leadrelay-Timestamp header"))
        );
        assert_eq!(
            verify_hmac(&s, &signed(&sig, None, None, b"{}"), false, now()),
            Ok(())
        );
    }

    #[test]
    fn an_absurd_timestamp_is_stale_not_a_panic() {
        let s = Secret::new("s3cret");
        for ts in [i64::MIN.to_string(), i64::MAX.to_string()] {
            let sig = sign(&s, Some(&ts), None, b"{}");
            assert_eq!(
                verify_hmac(&s, &signed(&sig, Some(&ts), None, b"{}"), false, now()),
                Err(AuthError::StaleTimestamp)
            );
        }
    }

    #[test]
    fn missing_malformed_or_old_scheme_signatures_say_so() {
        let s = Secret::new("s");
        assert!(matches!(
            verify_hmac(&s, &body(b""), false, now()),
            Err(AuthError::Missing(_))
        ));
        for bad in ["md5=00", "v1=zz", "v2=00", "v100"] {
            assert_eq!(
                verify_hmac(&s, &signed(bad, None, None, b""), false, now()),
                Err(AuthError::Malformed(WANT_SIGNATURE)),
                "{bad}"
            );
        }
        let old = verify_hmac(&s, &signed("sha256=00", None, None, b""), false, now());
        assert!(
            matches!(old, Err(AuthError::Malformed(m)) if m.contains("no longer taken")),
            "{old:?}"
        );
    }

    #[test]
    fn tokens_compare_exactly() {
        let s = Secret::new("tok");
        assert_eq!(verify_token(&s, Some("tok")), Ok(()));
        assert_eq!(verify_token(&s, Some("tok ")), Err(AuthError::BadToken));
        assert_eq!(
            verify_token(&s, None),
            Err(AuthError::Missing("token query parameter"))
        );
    }
}
