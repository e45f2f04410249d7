//! The signed, expiring "I've contacted this lead" link in assignment emails.
//!
//! token = `<expiry unix seconds>.<base64url(HMAC-SHA256(key, "contacted:<lead id>:<expiry>"))>`

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is malformed")]
    Malformed,
    #[error("the link has expired")]
    Expired,
    #[error("the link's signature does not match")]
    BadSignature,
}

fn mac(key: &Secret, lead_id: &str, expires: i64) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    m.update(format!("contacted:{lead_id}:{expires}").as_bytes());
    m
}

pub fn sign(key: &Secret, lead_id: &str, expires: DateTime<Utc>) -> String {
    let e = expires.timestamp();
    let tag = mac(key, lead_id, e).finalize().into_bytes();
    format!("{e}.{}", URL_SAFE_NO_PAD.encode(tag))
}

pub fn verify(
    key: &Secret,
    lead_id: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), LinkError> {
    let (e, tag) = token.split_once('.').ok_or(LinkError::Malformed)?;
    let expires: i64 = e.parse().map_err(|_| LinkError::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| LinkError::Malformed)?;
    // Check the signature before the expiry, so a forged link never learns whether its
    // expiry would have passed.
    mac(key, lead_id, expires)
        .verify_slice(&tag)
        .map_err(|_| LinkError::BadSignature)?;
    if now.timestamp() > expires {
        return Err(LinkError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let k = Secret::new("k");
        let tok = sign(&k, "01J", t("2026-03-09T10:00:00Z"));
        assert_eq!(verify(&k, "01J", &tok, t("2026-03-09T10:00:00Z")), Ok(()));
        assert_eq!(
            verify(&k, "01J", &tok, t("2026-03-09T10:00:01Z")),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn tampering_with_lead_expiry_or_key_is_refused() {
        let k = Secret::new("k");
        let now = t("2026-03-02T10:00:00Z");
        let tok = sign(&k, "01J", t("2026-03-09T10:00:00Z"));
        assert_eq!(verify(&k, "01K", &tok, now), Err(LinkError::BadSignature));
        assert_eq!(
            verify(&Secret::new("other"), "01J", &tok, now),
            Err(LinkError::BadSignature)
        );
        let (_, tag) = tok.split_once('.').unwrap();
        let later = format!("{}.{tag}", t("2027-03-09T10:00:00Z").timestamp());
        assert_eq!(verify(&k, "01J", &later, now), Err(LinkError::BadSignature));
        assert_eq!(verify(&k, "01J", "garbage", now), Err(LinkError::Malformed));
        assert_eq!(verify(&k, "01J", "", now), Err(LinkError::Malformed));
    }
}
