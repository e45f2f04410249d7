//! Calendly: `invitee.created` webhooks, the invitee's details and answers in the body.
//! Signed with `Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex(HMAC-SHA256(signing key,
//! "<t>.<raw body>"))>`; `t` must be within 3 minutes of now (Calendly's own example tolerance).
//! Other events (cancellations, no-shows, routing forms) are acknowledged and not stored.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use super::*;

pub struct Calendly;

/// Calendly's example tolerance for `t`.
const TOLERANCE_SECS: i64 = 3 * 60;

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    event: String,
    #[serde(default)]
    payload: Option<Invitee>,
}

#[derive(Deserialize)]
struct Invitee {
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    text_reminder_number: Option<String>,
    /// The invitee's IANA time zone (`Europe/Paris`).
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    questions_and_answers: Vec<QuestionAnswer>,
    #[serde(default)]
    tracking: BTreeMap<String, Value>,
    #[serde(default)]
    scheduled_event: Option<ScheduledEvent>,
    #[serde(default)]
    old_invitee: Option<String>,
}

#[derive(Deserialize)]
struct QuestionAnswer {
    #[serde(default)]
    question: String,
    #[serde(default)]
    answer: Value,
}

#[derive(Deserialize)]
struct ScheduledEvent {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    event_type: Option<String>,
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => (!s.trim().is_empty()).then(|| s.clone()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(as_text).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        other => Some(other.to_string()),
    }
}

/// `t=…,v1=…[,v1=…]` → the timestamp and every `v1` signature.
fn signature_parts(header: &str) -> (Option<&str>, Vec<&str>) {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.trim()),
            Some(("v1", v)) => v1.push(v.trim()),
            _ => {}
        }
    }
    (t, v1)
}

impl Platform for Calendly {
    fn name(&self) -> &'static str {
        "calendly"
    }

    fn authenticate(&self, req: &Incoming, creds: &Credentials) -> Result<(), AuthError> {
        const WANT: &str = "Calendly-Webhook-Signature header (want t=<unix>,v1=<hex>)";
        let secret = creds.secret.ok_or(AuthError::BadSignature)?;
        let header = req
            .header("calendly-webhook-signature")
            .ok_or(AuthError::Missing("Calendly-Webhook-Signature header"))?;
        let (t, v1) = signature_parts(header);
        let t = t.ok_or(AuthError::Malformed(WANT))?;
        if v1.is_empty() {
            return Err(AuthError::Malformed(WANT));
        }
        let mut m = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
            .map_err(|_| AuthError::BadSignature)?;
        m.update(t.as_bytes());
        m.update(b".");
        m.update(req.body);
        // The signature covers `t`: check it before the clock.
        let valid = v1
            .iter()
            .any(|sig| hex::decode(sig).is_ok_and(|tag| m.clone().verify_slice(&tag).is_ok()));
        if !valid {
            return Err(AuthError::BadSignature);
        }
        let t: i64 = t.parse().map_err(|_| AuthError::Malformed(WANT))?;
        if req.now.timestamp().saturating_sub(t).saturating_abs() > TOLERANCE_SECS {
            return Err(AuthError::StaleTimestamp);
        }
        Ok(())
    }

    fn parse(&self, req: &Incoming, mapping: &FieldMapping) -> Result<Intake, IntakeError> {
        let event: Event = serde_json::from_slice(req.body)
            .map_err(|e| IntakeError::Malformed(format!("not a Calendly event: {e}")))?;
        if event.event != "invitee.created" {
            return Ok(Intake::Leads(vec![]));
        }
        let p = event
            .payload
            .ok_or_else(|| IntakeError::NotALead("Calendly event without payload".into()))?;
        let uri = p
            .uri
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| IntakeError::NotALead("Calendly invitee without uri".into()))?;
        let mut lead = PlatformLead {
            dedupe_key: format!("calendly:{}:{uri}", event.event),
            external_id: Some(uri),
            submitted_at: p.created_at.as_deref().and_then(timestamp),
            ..Default::default()
        };
        for (field, value) in [
            ("email", &p.email),
            ("full_name", &p.name),
            ("first_name", &p.first_name),
            ("last_name", &p.last_name),
        ] {
            if let Some(v) = value {
                assign(&mut lead, field, field, v.clone());
            }
        }
        // Custom questions, by their text (Calendly gives them no other key).
        for qa in &p.questions_and_answers {
            let Some(answer) = as_text(&qa.answer) else {
                continue;
            };
            let target = field_for(mapping, &[&qa.question])
                .or_else(|| guess_field(&qa.question))
                .unwrap_or("custom");
            assign(&mut lead, target, &qa.question, answer);
        }
        // The SMS reminder number, when no question gave a phone.
        if let Some(n) = p.text_reminder_number {
            assign(&mut lead, "phone", "text_reminder_number", n);
        }
        // A phone answered in a national format belongs to the country the invitee named, else
        // to the one their time zone is in (docs/platforms.md, "Phone numbers").
        lead.phone_country_hint = lead
            .fields
            .country
            .as_deref()
            .and_then(crate::normalize::region)
            .or_else(|| {
                p.timezone
                    .as_deref()
                    .and_then(crate::normalize::timezone_region)
            })
            .map(crate::normalize::region_code);
        for (key, value) in &p.tracking {
            let Some(value) = as_text(value) else {
                continue;
            };
            if key.starts_with("utm_") {
                assign(&mut lead, key, key, value);
            } else {
                lead.custom.insert(key.clone(), value);
            }
        }
        if let Some(ev) = p.scheduled_event {
            if let Some(start) = ev.start_time.as_deref().and_then(timestamp) {
                lead.custom.insert(
                    "meeting_start".into(),
                    start.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                );
            }
            if let Some(name) = ev.name.as_deref().and_then(line) {
                lead.custom.insert("meeting_name".into(), name);
            }
            if let Some(et) = ev.event_type.filter(|e| !e.is_empty()) {
                lead.campaign.insert("form_id".into(), et);
            }
        }
        // A reschedule: the new booking links the old invitee.
        if let Some(old) = p.old_invitee.filter(|o| !o.is_empty()) {
            lead.custom.insert("rescheduled_from".into(), old);
        }
        Ok(Intake::Leads(vec![lead]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::fixtures::{check, Fixture};
    use proptest::prelude::*;

    fn creds(secret: &Secret) -> Credentials<'_> {
        Credentials {
            secret: Some(secret),
            verify_token: None,
        }
    }

    fn header(secret: &str, t: i64, body: &[u8]) -> Vec<(String, String)> {
        let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        m.update(format!("{t}.").as_bytes());
        m.update(body);
        let sig = hex::encode(m.finalize().into_bytes());
        vec![(
            "calendly-webhook-signature".to_owned(),
            format!("t={t},v1={sig}"),
        )]
    }

    /// The sample's `+33 6 39 98 45 21` is in the 0639 block France assigns to Mayotte
    /// (+262): enrichment keeps it in E.164 and flags it, as the sample expects.
    #[test]
    fn the_sample_passes() {
        let Some(Intake::Leads(mut leads)) =
            check(&Calendly, "calendly-invitee-created", &FieldMapping::new())
        else {
            panic!("expected leads")
        };
        let l = leads.remove(0);
        assert_eq!(l.fields.phone.as_deref(), Some("+33 6 39 98 45 21"));
        assert_eq!(
            l.custom.get("meeting_start").map(String::as_str),
            Some("2026-03-24T10:00:00Z")
        );
    }

    #[test]
    fn a_changed_body_a_late_delivery_and_a_missing_header_are_refused() {
        let f = Fixture::load("calendly-invitee-created");
        let (body, headers, url, secret) = (f.body(), f.headers(), f.url(), f.secret());
        let req = Incoming {
            method: "POST",
            url: &url,
            headers: &headers,
            body: &body,
            now: f.now(),
        };
        assert_eq!(Calendly.authenticate(&req, &creds(&secret)), Ok(()));
        let late = f.now() + chrono::Duration::seconds(TOLERANCE_SECS + 5);
        assert_eq!(
            Calendly.authenticate(
                &Incoming {
                    now: late,
                    ..req.clone()
                },
                &creds(&secret)
            ),
            Err(AuthError::StaleTimestamp)
        );
        let none: Vec<(String, String)> = vec![];
        assert!(matches!(
            Calendly.authenticate(
                &Incoming {
                    headers: &none,
                    ..req.clone()
                },
                &creds(&secret)
            ),
            Err(AuthError::Missing(_))
        ));
        let mut tampered = body.clone();
        tampered[40] ^= 1;
        assert_eq!(
            Calendly.authenticate(
                &Incoming {
                    body: &tampered,
                    ..req
                },
                &creds(&secret)
            ),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn a_national_phone_answer_takes_the_invitees_country_else_their_time_zone() {
        let now: DateTime<Utc> = "2026-03-20T15:00:00Z".parse().unwrap();
        let parse = |payload: serde_json::Value| {
            let body =
                serde_json::json!({"event": "invitee.created", "payload": payload}).to_string();
            let req = Incoming {
                method: "POST",
                url: "https://hooks.example.test/webhooks/calendly",
                headers: &[],
                body: body.as_bytes(),
                now,
            };
            let Ok(Intake::Leads(mut leads)) = Calendly.parse(&req, &FieldMapping::new()) else {
                panic!("a lead")
            };
            leads.remove(0)
        };
        let phone = serde_json::json!({"question": "Phone number", "answer": "0664 1234567"});
        let by_zone = parse(serde_json::json!({
            "uri": "https://api.calendly.com/i/1", "email": "a@b.io", "timezone": "Europe/Vienna",
            "questions_and_answers": [phone],
        }));
        assert_eq!(by_zone.fields.phone.as_deref(), Some("0664 1234567"));
        assert_eq!(by_zone.phone_country_hint.as_deref(), Some("AT"));
        let by_answer = parse(serde_json::json!({
            "uri": "https://api.calendly.com/i/2", "email": "a@b.io", "timezone": "Europe/Vienna",
            "questions_and_answers": [phone, {"question": "Country", "answer": "Germany"}],
        }));
        assert_eq!(
            by_answer.phone_country_hint.as_deref(),
            Some("DE"),
            "the answer wins"
        );
        let unknown = parse(serde_json::json!({
            "uri": "https://api.calendly.com/i/3", "email": "a@b.io", "timezone": "Mars/Olympus",
        }));
        assert_eq!(unknown.phone_country_hint, None);
    }

    #[test]
    fn cancellations_give_no_leads() {
        let now: DateTime<Utc> = "2026-03-20T15:00:00Z".parse().unwrap();
        let body = br#"{"event":"invitee.canceled","payload":{"uri":"https://api.calendly.com/x","rescheduled":true}}"#;
        let headers = header("k", now.timestamp(), body);
        let req = Incoming {
            method: "POST",
            url: "https://hooks.example.test/webhooks/calendly",
            headers: &headers,
            body,
            now,
        };
        assert_eq!(
            Calendly.authenticate(&req, &creds(&Secret::new("k"))),
            Ok(())
        );
        assert_eq!(
            Calendly.parse(&req, &FieldMapping::new()),
            Ok(Intake::Leads(vec![]))
        );
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..512), sig in ".{0,80}") {
            let headers = vec![("calendly-webhook-signature".to_owned(), sig)];
            let req = Incoming {
                method: "POST",
                url: "https://hooks.example.test/webhooks/calendly",
                headers: &headers,
                body: &body,
                now: Utc::now(),
            };
            let secret = Secret::new("s");
            let _ = Calendly.authenticate(&req, &creds(&secret));
            let _ = Calendly.parse(&req, &FieldMapping::new());
        }
    }
}
