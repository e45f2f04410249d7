//! The signed, expiring "I've contacted this lead" link in the owners' emails.
//!
//! A token is bound to the lead, the owner it was sent for and the routing round, so that after
//! a reassignment (or a recycle) an earlier owner's link no longer stops the new owner's clock:
//!
//! token = `2.<round>.<expiry unix seconds>.<base64url(owner id)>.<base64url(tag)>`
//! tag   = HMAC-SHA256(key, "contacted:2:<lead id>:<owner id>:<round>:<expiry>")
//!
//! The owner id travels in the token so that the signature can be checked before the lead is
//! read, and an earlier owner's genuine link told apart from a forged one.

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
    /// A genuine link of the first format (signed with only the lead id and expiry).
    #[error("the link is of an older format that names no owner or round")]
    Outdated,
    /// A genuine link, but for another owner or an earlier routing round of the lead.
    #[error("the link is for an earlier assignment of the lead")]
    Superseded,
}

/// What a genuine token says it was sent for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub owner_id: String,
    pub round: u32,
}

impl Claim {
    /// Whether the link was sent for the lead's assignment as it stands: the same routing
    /// round and the same owner. A lead without an owner (being reassigned) has no current link.
    pub fn check_current(&self, owner_id: Option<&str>, round: u32) -> Result<(), LinkError> {
        if self.round == round && owner_id == Some(self.owner_id.as_str()) {
            Ok(())
        } else {
            Err(LinkError::Superseded)
        }
    }
}

const VERSION: &str = "2";

fn new_mac(key: &Secret) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).expect("HMAC takes a key of any length")
}

fn mac(key: &Secret, lead_id: &str, owner_id: &str, round: u32, expires: i64) -> Hmac<Sha256> {
    let mut m = new_mac(key);
    m.update(format!("contacted:{VERSION}:{lead_id}:{owner_id}:{round}:{expires}").as_bytes());
    m
}

/// The first format's MAC, kept only to tell a genuine old link from a forged one.
fn legacy_mac(key: &Secret, lead_id: &str, expires: i64) -> Hmac<Sha256> {
    let mut m = new_mac(key);
    m.update(format!("contacted:{lead_id}:{expires}").as_bytes());
    m
}

/// The token of the link sent to `owner_id` for routing round `round` of the lead.
pub fn sign(
    key: &Secret,
    lead_id: &str,
    owner_id: &str,
    round: u32,
    expires: DateTime<Utc>,
) -> String {
    let e = expires.timestamp();
    let tag = mac(key, lead_id, owner_id, round, e)
        .finalize()
        .into_bytes();
    format!(
        "{VERSION}.{round}.{e}.{}.{}",
        URL_SAFE_NO_PAD.encode(owner_id),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// Checks a token's signature for `lead_id`, then its expiry, and says whom and which round
/// it was sent for; [`Claim::check_current`] then compares that with the stored lead.
pub fn verify(
    key: &Secret,
    lead_id: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Claim, LinkError> {
    let parts: Vec<&str> = token.split('.').collect();
    let (expires, claim) = match parts.as_slice() {
        [VERSION, round, e, owner, tag] => {
            let round: u32 = round.parse().map_err(|_| LinkError::Malformed)?;
            let expires: i64 = e.parse().map_err(|_| LinkError::Malformed)?;
            let owner = URL_SAFE_NO_PAD
                .decode(owner)
                .ok()
                .and_then(|o| String::from_utf8(o).ok())
                .ok_or(LinkError::Malformed)?;
            let tag = URL_SAFE_NO_PAD
                .decode(tag)
                .map_err(|_| LinkError::Malformed)?;
            // The signature before the expiry, so a forged link never learns whether its
            // expiry would have passed.
            mac(key, lead_id, &owner, round, expires)
                .verify_slice(&tag)
                .map_err(|_| LinkError::BadSignature)?;
            (
                expires,
                Claim {
                    owner_id: owner,
                    round,
                },
            )
        }
        // The first format, in emails sent before links were bound to owner and round. Such a
        // link is refused even when genuine and unexpired: it cannot say whose clock it was
        // sent to stop, so accepting it would let an earlier owner's link (or a scanner
        // replaying one) stop the clock of the owner the lead was reassigned to, the very hole
        // the binding closes. They expire within `links.ttl` anyway, and every later email
        // (reminder, escalation) carries a link of the current format.
        [e, tag] => {
            let expires: i64 = e.parse().map_err(|_| LinkError::Malformed)?;
            let tag = URL_SAFE_NO_PAD
                .decode(tag)
                .map_err(|_| LinkError::Malformed)?;
            legacy_mac(key, lead_id, expires)
                .verify_slice(&tag)
                .map_err(|_| LinkError::BadSignature)?;
            return Err(LinkError::Outdated);
        }
        _ => return Err(LinkError::Malformed),
    };
    if now.timestamp() > expires {
        return Err(LinkError::Expired);
    }
    Ok(claim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn ana_round_0() -> Claim {
        Claim {
            owner_id: "ana".into(),
            round: 0,
        }
    }

    #[test]
    fn a_signed_link_verifies_until_it_expires_and_names_its_owner_and_round() {
        let k = Secret::new("k");
        let tok = sign(&k, "01J", "ana", 0, t("2026-03-09T10:00:00Z"));
        assert_eq!(
            verify(&k, "01J", &tok, t("2026-03-09T10:00:00Z")),
            Ok(ana_round_0())
        );
        assert_eq!(
            verify(&k, "01J", &tok, t("2026-03-09T10:00:01Z")),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn tampering_with_lead_expiry_or_key_is_refused() {
        let k = Secret::new("k");
        let now = t("2026-03-02T10:00:00Z");
        let tok = sign(&k, "01J", "ana", 0, t("2026-03-09T10:00:00Z"));
        assert_eq!(verify(&k, "01K", &tok, now), Err(LinkError::BadSignature));
        assert_eq!(
            verify(&Secret::new("other"), "01J", &tok, now),
            Err(LinkError::BadSignature)
        );
        let later_expiry = tok.replace(
            &t("2026-03-09T10:00:00Z").timestamp().to_string(),
            &t("2027-03-09T10:00:00Z").timestamp().to_string(),
        );
        assert_ne!(later_expiry, tok);
        assert_eq!(
            verify(&k, "01J", &later_expiry, now),
            Err(LinkError::BadSignature)
        );
        assert_eq!(verify(&k, "01J", "garbage", now), Err(LinkError::Malformed));
        assert_eq!(verify(&k, "01J", "", now), Err(LinkError::Malformed));
        assert_eq!(
            verify(&k, "01J", "2.x.1.YW5h.AAAA", now),
            Err(LinkError::Malformed)
        );
    }

    #[test]
    fn a_token_cannot_be_moved_to_another_owner_or_round() {
        let k = Secret::new("k");
        let now = t("2026-03-02T10:00:00Z");
        let tok = sign(&k, "01J", "ana", 0, t("2026-03-09T10:00:00Z"));
        let parts: Vec<&str> = tok.split('.').collect();
        let ben = URL_SAFE_NO_PAD.encode("ben");
        let as_ben = [parts[0], parts[1], parts[2], &ben, parts[4]].join(".");
        assert_eq!(
            verify(&k, "01J", &as_ben, now),
            Err(LinkError::BadSignature)
        );
        let as_round_1 = [parts[0], "1", parts[2], parts[3], parts[4]].join(".");
        assert_eq!(
            verify(&k, "01J", &as_round_1, now),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn a_genuine_link_holds_only_for_the_owner_and_round_it_was_sent_for() {
        let claim = ana_round_0();
        assert_eq!(claim.check_current(Some("ana"), 0), Ok(()));
        // Reassigned: another owner in the next round.
        assert_eq!(
            claim.check_current(Some("ben"), 1),
            Err(LinkError::Superseded)
        );
        // Recycled back to the same owner: a new round, a new link.
        assert_eq!(
            claim.check_current(Some("ana"), 1),
            Err(LinkError::Superseded)
        );
        // Being reassigned: nobody's clock runs.
        assert_eq!(claim.check_current(None, 1), Err(LinkError::Superseded));
        assert_eq!(claim.check_current(None, 0), Err(LinkError::Superseded));
    }

    #[test]
    fn a_genuine_link_of_the_first_format_is_refused_as_outdated_and_a_forged_one_as_forged() {
        let k = Secret::new("k");
        let now = t("2026-03-02T10:00:00Z");
        let e = t("2026-03-09T10:00:00Z").timestamp();
        let tag = legacy_mac(&k, "01J", e).finalize().into_bytes();
        let old = format!("{e}.{}", URL_SAFE_NO_PAD.encode(tag));
        assert_eq!(verify(&k, "01J", &old, now), Err(LinkError::Outdated));
        assert_eq!(verify(&k, "01K", &old, now), Err(LinkError::BadSignature));
    }
}
