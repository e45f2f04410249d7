//! Jotform: webhooks posted as `multipart/form-data`, all answers in the body.
//! Jotform does not sign: the source's secret is a URL token (`?token=…`, compared in constant
//! time). Jotform echoes the webhook URL, token included, in the body, so bodies are secret too.
//! The answers are the `rawRequest` part, a JSON string keyed `q<N>_<name>`; `pretty` is display
//! text only and never parsed. The dedupe key is the form and the 19-digit `submissionID`,
//! kept as a string.

use serde_json::{Map, Value};

use super::*;

pub struct Jotform;

/// The parts of a `multipart/form-data` body, by name (files and unnamed parts skipped).
fn multipart(body: &[u8], content_type: &str) -> Result<BTreeMap<String, String>, IntakeError> {
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|b| !b.is_empty())
        .ok_or_else(|| IntakeError::Malformed("multipart body without boundary".into()))?;
    let text = std::str::from_utf8(body)
        .map_err(|_| IntakeError::Malformed("Jotform body is not UTF-8".into()))?;
    let delimiter = format!("--{boundary}");
    let mut parts = BTreeMap::new();
    // Before the first delimiter is the preamble; after the closing `--` the epilogue.
    for chunk in text.split(delimiter.as_str()).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk
            .strip_prefix("\r\n")
            .or_else(|| chunk.strip_prefix('\n'));
        let Some(chunk) = chunk else { continue };
        let (head, value) = match chunk.split_once("\r\n\r\n") {
            Some(split) => split,
            None => match chunk.split_once("\n\n") {
                Some(split) => split,
                None => continue,
            },
        };
        let value = value
            .strip_suffix("\r\n")
            .or_else(|| value.strip_suffix('\n'))
            .unwrap_or(value);
        let Some(name) = part_name(head) else {
            continue;
        };
        parts.entry(name).or_insert_with(|| value.to_owned());
    }
    Ok(parts)
}

/// The `name` of a part's `Content-Disposition: form-data; name="…"`; `None` for file parts.
fn part_name(head: &str) -> Option<String> {
    let disposition = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then_some(v)
    })?;
    let mut name = None;
    for param in disposition.split(';').skip(1) {
        let Some((k, v)) = param.trim().split_once('=') else {
            continue;
        };
        match k.trim() {
            "name" => name = Some(v.trim().trim_matches('"').to_owned()),
            "filename" => return None,
            _ => {}
        }
    }
    name
}

/// `fullName` → `full_name`, so Jotform's camelCase names meet [`guess_field`].
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 && !out.ends_with('_') {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => (!s.trim().is_empty()).then(|| s.clone()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(as_text).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        Value::Object(o) => {
            let parts: Vec<String> = o.values().filter_map(as_text).collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        }
        other => Some(other.to_string()),
    }
}

fn get(o: &Map<String, Value>, key: &str) -> Option<String> {
    o.get(key).and_then(as_text)
}

/// One answer onto the lead. Composite widgets (name, phone, address) are objects.
fn answer(lead: &mut PlatformLead, target: &str, key: &str, value: &Value) {
    if let Value::Object(o) = value {
        match target {
            "full_name" | "name" if o.contains_key("first") || o.contains_key("last") => {
                if let Some(first) = get(o, "first") {
                    assign(lead, "first_name", key, first);
                }
                if let Some(last) = get(o, "last") {
                    assign(lead, "last_name", key, last);
                }
                return;
            }
            "phone" => {
                let number = get(o, "full").or_else(|| {
                    let parts: Vec<String> = ["country", "area", "phone"]
                        .iter()
                        .filter_map(|k| get(o, k))
                        .collect();
                    (!parts.is_empty()).then(|| parts.join(" "))
                });
                if let Some(n) = number {
                    assign(lead, "phone", key, n);
                }
                return;
            }
            _ if o.contains_key("addr_line1") || o.contains_key("postal") => {
                if let Some(country) = get(o, "country") {
                    assign(lead, "country", key, country);
                }
                let address: Vec<String> = ["addr_line1", "addr_line2", "city", "state", "postal"]
                    .iter()
                    .filter_map(|k| get(o, k))
                    .collect();
                if !address.is_empty() {
                    lead.custom.insert(key.to_owned(), address.join(", "));
                }
                return;
            }
            _ => {}
        }
    }
    if let Some(text) = as_text(value) {
        assign(lead, target, key, text);
    }
}

impl Platform for Jotform {
    fn name(&self) -> &'static str {
        "jotform"
    }

    fn authenticate(&self, req: &Incoming, creds: &Credentials) -> Result<(), AuthError> {
        let secret = creds.secret.ok_or(AuthError::BadToken)?;
        let token = req
            .query_param("token")
            .ok_or(AuthError::Missing("token query parameter"))?;
        if secret.matches(&token) {
            Ok(())
        } else {
            Err(AuthError::BadToken)
        }
    }

    fn parse(&self, req: &Incoming, mapping: &FieldMapping) -> Result<Intake, IntakeError> {
        let content_type = req.header("content-type").unwrap_or_default();
        let parts = if content_type
            .to_ascii_lowercase()
            .starts_with("multipart/form-data")
        {
            multipart(req.body, content_type)?
        } else {
            form_urlencoded::parse(req.body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        };
        let raw = parts
            .get("rawRequest")
            .ok_or_else(|| IntakeError::Malformed("Jotform delivery without rawRequest".into()))?;
        let answers: Map<String, Value> = serde_json::from_str(raw)
            .map_err(|e| IntakeError::Malformed(format!("rawRequest is not a JSON object: {e}")))?;
        let submission = parts
            .get("submissionID")
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| IntakeError::NotALead("Jotform delivery without submissionID".into()))?;
        let form = parts
            .get("formID")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let mut lead = PlatformLead {
            dedupe_key: format!("jotform:{form}:{submission}"),
            external_id: Some(submission),
            ..Default::default()
        };
        if !form.is_empty() {
            lead.campaign.insert("form_id".into(), form);
        }
        for (key, value) in &answers {
            // Answers are `q<N>_<name>`; everything else (slug, path, timeToSubmit, …) is
            // Jotform's bookkeeping.
            let Some((q, name)) = key.split_once('_') else {
                continue;
            };
            let is_answer = q.len() > 1
                && q.starts_with('q')
                && q.get(1..)
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
            if !is_answer || name.is_empty() {
                continue;
            }
            let target = field_for(mapping, &[key, name])
                .or_else(|| guess_field(name))
                .or_else(|| guess_field(&snake(name)))
                .unwrap_or("custom");
            answer(&mut lead, target, name, value);
        }
        Ok(Intake::Leads(vec![lead]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::fixtures::{check, check_url_token_refusals};
    use proptest::prelude::*;

    fn creds(secret: &Secret) -> Credentials<'_> {
        Credentials {
            secret: Some(secret),
            verify_token: None,
        }
    }

    #[test]
    fn the_sample_passes() {
        check(&Jotform, "jotform-basic", &FieldMapping::new());
    }

    #[test]
    fn a_wrong_or_missing_token_is_refused() {
        check_url_token_refusals(&Jotform, "jotform-basic", "/webhooks/jotform");
    }

    #[test]
    fn mapped_names_and_widgets_read() {
        let boundary = "XyZ";
        let raw = r#"{"q3_fullName":{"first":"Ana","last":"Costa"},"q9_yourRole":"CTO","q5_phoneNumber":{"area":"912","phone":"345678"},"q11_address":{"addr_line1":"Rua 1","city":"Lisboa","country":"Portugal"},"q12_fleet":["1-10"],"slug":"submit\/1"}"#;
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"formID\"\r\n\r\n1\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"submissionID\"\r\n\r\n99\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"rawRequest\"\r\n\r\n{raw}\r\n--{boundary}--\r\n"
        );
        let headers = vec![(
            "content-type".to_owned(),
            format!("multipart/form-data; boundary={boundary}"),
        )];
        let req = Incoming {
            method: "POST",
            url: "https://hooks.example.test/webhooks/jotform?token=t",
            headers: &headers,
            body: body.as_bytes(),
            now: Utc::now(),
        };
        let mapping: FieldMapping = [("yourRole".to_owned(), "job_title".to_owned())].into();
        let Ok(Intake::Leads(leads)) = Jotform.parse(&req, &mapping) else {
            panic!("expected leads")
        };
        let l = &leads[0];
        assert_eq!(l.dedupe_key, "jotform:1:99");
        assert_eq!(l.fields.first_name.as_deref(), Some("Ana"));
        assert_eq!(l.fields.job_title.as_deref(), Some("CTO"));
        assert_eq!(l.fields.phone.as_deref(), Some("912 345678"));
        assert_eq!(l.fields.country.as_deref(), Some("Portugal"));
        assert_eq!(l.custom.get("fleet").map(String::as_str), Some("1-10"));
        assert!(!l.custom.contains_key("slug"));
        // No rawRequest: malformed.
        let req = Incoming {
            body: b"--XyZ--",
            ..req
        };
        assert!(matches!(
            Jotform.parse(&req, &FieldMapping::new()),
            Err(IntakeError::Malformed(_))
        ));
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..512), ct in ".{0,60}") {
            for content_type in [ct, "multipart/form-data; boundary=--a".to_owned()] {
                let headers = vec![("content-type".to_owned(), content_type)];
                let req = Incoming {
                    method: "POST",
                    url: "https://hooks.example.test/webhooks/jotform?token=t",
                    headers: &headers,
                    body: &body,
                    now: Utc::now(),
                };
                let _ = Jotform.authenticate(&req, &creds(&Secret::new("t")));
                let _ = Jotform.parse(&req, &FieldMapping::new());
            }
        }
    }
}
