//! Is a delivery authentic? HMAC-SHA256 signatures and URL tokens, compared in constant time.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

/// How far a signed timestamp may be from now, either way.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

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

/// Computes the `sha256=<hex>` signature a sender puts in `X-Leadrelay-Signature`.
pub fn sign(secret: &Secret, timestamp: Option<&str>, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize();
    format!("sha256={}", hex::encode(tag.into_bytes()))
}

fn mac(secret: &Secret, timestamp: Option<&str>, body: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    if let Some(ts) = timestamp {
        m.update(ts.as_bytes());
        m.update(b".");
    }
    m.update(body);
    m
}

/// Verifies `X-Leadrelay-Signature` (and `X-Leadrelay-Timestamp` when sent).
pub fn verify_hmac(
    secret: &Secret,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let signature = signature.ok_or(AuthError::Missing("X-Leadrelay-Signature header"))?;
    let hex_tag = signature
        .trim()
        .strip_prefix("sha256=")
        .ok_or(AuthError::Malformed(
            "X-Leadrelay-Signature header (want sha256=<hex>)",
        ))?;
    let tag = hex::decode(hex_tag)
        .map_err(|_| AuthError::Malformed("X-Leadrelay-Signature header (want sha256=<hex>)"))?;
    // The signature covers the timestamp, so check it first: an attacker cannot probe the
    // clock window with unsigned timestamps.
    mac(secret, timestamp, body)
        .verify_slice(&tag)
        .map_err(|_| AuthError::BadSignature)?;
    if let Some(ts) = timestamp {
        let ts: i64 = ts.trim().parse().map_err(|_| {
            AuthError::Malformed("X-Leadrelay-Timestamp header (want unix seconds)")
        })?;
        if (now.timestamp() - ts).abs() > TIMESTAMP_TOLERANCE_SECS {
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

    #[test]
    fn a_body_signed_with_the_secret_verifies() {
        let s = Secret::new("s3cret");
        let sig = sign(&s, None, b"{}");
        assert!(sig.starts_with("sha256="));
        assert_eq!(verify_hmac(&s, Some(&sig), None, b"{}", now()), Ok(()));
        assert_eq!(
            verify_hmac(&s, Some(&sig), None, b"{ }", now()),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            verify_hmac(&Secret::new("other"), Some(&sig), None, b"{}", now()),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn a_timestamped_signature_covers_the_timestamp_and_expires() {
        let s = Secret::new("s3cret");
        let ts = now().timestamp().to_string();
        let sig = sign(&s, Some(&ts), b"{}");
        assert_eq!(verify_hmac(&s, Some(&sig), Some(&ts), b"{}", now()), Ok(()));
        // The same signature with another timestamp is not valid.
        let other = (now().timestamp() + 1).to_string();
        assert_eq!(
            verify_hmac(&s, Some(&sig), Some(&other), b"{}", now()),
            Err(AuthError::BadSignature)
        );
        let late = now() + chrono::Duration::seconds(301);
        assert_eq!(
            verify_hmac(&s, Some(&sig), Some(&ts), b"{}", late),
            Err(AuthError::StaleTimestamp)
        );
    }

    #[test]
    fn missing_or_malformed_signatures_say_so() {
        let s = Secret::new("s");
        assert!(matches!(
            verify_hmac(&s, None, None, b"", now()),
            Err(AuthError::Missing(_))
        ));
        assert!(matches!(
            verify_hmac(&s, Some("md5=00"), None, b"", now()),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            verify_hmac(&s, Some("sha256=zz"), None, b"", now()),
            Err(AuthError::Malformed(_))
        ));
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
