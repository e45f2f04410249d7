//! The SES adapter.

use aws_sdk_ses::types::{Body, Content, Destination, Message};
use aws_sdk_ses::Client;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use leadrelay_domain::emails::Email;
use leadrelay_domain::escape::header_safe;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("SES SendEmail failed: {message}")]
    Send {
        message: String,
        /// Throttled, timed out, a 5xx, or no answer: the same email may go later.
        transient: bool,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl MailError {
    /// Whether sending again may succeed (an unverified sender or a rejected address will not).
    pub fn is_transient(&self) -> bool {
        match self {
            MailError::Send { transient, .. } => *transient,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Mailer {
    client: Client,
    /// The From header: display name and the SES-verified address.
    from: String,
}

impl Mailer {
    pub fn new(client: Client, sender: &str, sender_name: &str) -> Self {
        Self {
            client,
            from: from_header(sender_name, sender),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sends one email; returns SES's message id.
    pub async fn send(&self, email: &Email) -> Result<String, MailError> {
        let content = |s: &str| {
            Content::builder()
                .data(s)
                .charset("UTF-8")
                .build()
                .expect("data set")
        };
        let message = Message::builder()
            .subject(content(&header_safe(&email.subject)))
            .body(
                Body::builder()
                    .text(content(&email.text))
                    .html(content(&email.html))
                    .build(),
            )
            .build();
        let out = self
            .client
            .send_email()
            .source(&self.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .set_reply_to_addresses(email.reply_to.clone().map(|r| vec![r]))
            .message(message)
            .send()
            .await
            .map_err(|e| {
                // SES names the addresses it refused: the message and the error kept as its
                // source carry none (invariant 7 in docs/architecture.md).
                let message = crate::sdk_error::describe(&e);
                MailError::Send {
                    transient: crate::sdk_error::is_transient(&e),
                    source: message.clone().into(),
                    message,
                }
            })?;
        Ok(out.message_id)
    }
}

/// `"Name" <address>`, with RFC 2047 encoding when the name is not plain ASCII.
fn from_header(name: &str, address: &str) -> String {
    let name = header_safe(name);
    if name.is_empty() {
        return address.to_owned();
    }
    if name.is_ascii() {
        let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{quoted}\" <{address}>")
    } else {
        format!(
            "=?UTF-8?B?{}?= <{address}>",
            STANDARD.encode(name.as_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::from_header;

    #[test]
    fn sender_names_are_quoted_or_encoded() {
        assert_eq!(from_header("Acme", "a@x.io"), "\"Acme\" <a@x.io>");
        assert_eq!(from_header("A \"B\"", "a@x.io"), "\"A \\\"B\\\"\" <a@x.io>");
        assert_eq!(
            from_header("Müller", "a@x.io"),
            "=?UTF-8?B?TcO8bGxlcg==?= <a@x.io>"
        );
        assert_eq!(from_header("", "a@x.io"), "a@x.io");
    }
}
