//! The SQS adapter: the messages that flow between the stages, and sending them.

use aws_sdk_sqs::Client;
use serde::{Deserialize, Serialize};

/// The three queues between the stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueName {
    /// capture → enrich
    Captured,
    /// enrich → route (and escalate → route, to reassign)
    Scored,
    /// route / escalate → notify
    Notify,
}

impl QueueName {
    pub const ALL: [QueueName; 3] = [QueueName::Captured, QueueName::Scored, QueueName::Notify];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Captured => "captured",
            QueueName::Scored => "scored",
            QueueName::Notify => "notify",
        }
    }

    /// The environment variable that holds the queue's URL.
    pub fn env_var(self) -> &'static str {
        match self {
            QueueName::Captured => "LEADRELAY_CAPTURED_QUEUE_URL",
            QueueName::Scored => "LEADRELAY_SCORED_QUEUE_URL",
            QueueName::Notify => "LEADRELAY_NOTIFY_QUEUE_URL",
        }
    }
}

/// On the captured and scored queues: which lead moved on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadMessage {
    pub lead_id: String,
}

/// On the captured queue: a lead that moved on, or items of a large platform delivery to be
/// admitted (fanned out, so the delivery is answered at once however many leads it carries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CapturedMessage {
    Lead(LeadMessage),
    Admit(AdmitMessage),
}

/// Items of a kept delivery, each to become a lead as if it had come alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmitMessage {
    pub source: String,
    pub delivery_id: String,
    /// When the delivery arrived: the leads' arrival, where their SLA clock starts.
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub items: Vec<leadrelay_domain::platforms::PlatformLead>,
}

/// On the notify queue: which email(s) to send for which lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NotifyMessage {
    /// The lead has an owner: acknowledge the lead, tell the owner.
    Assigned { lead_id: String },
    /// Nobody could take the lead: tell the fallback team's manager.
    Unassigned { lead_id: String },
    /// An escalation step of the SLA ladder was reached, in a routing round: a message of an
    /// earlier round (the lead was reassigned or recycled since) does nothing.
    Escalation {
        lead_id: String,
        step: usize,
        #[serde(default)]
        round: u32,
    },
}

impl NotifyMessage {
    pub fn lead_id(&self) -> &str {
        match self {
            NotifyMessage::Assigned { lead_id }
            | NotifyMessage::Unassigned { lead_id }
            | NotifyMessage::Escalation { lead_id, .. } => lead_id,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("SQS SendMessage to the {queue} queue failed: {message}")]
    Send {
        queue: &'static str,
        message: String,
        /// Throttled, timed out, a 5xx, or no answer: the same send may succeed later.
        transient: bool,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot encode a message for the {queue} queue: {message}")]
    Encode {
        queue: &'static str,
        message: String,
    },
}

#[derive(Debug, Clone)]
pub struct Queues {
    client: Client,
    captured: String,
    scored: String,
    notify: String,
}

/// A send SQS refused or never answered, said without the raw response.
fn send_failed<E>(
    q: QueueName,
    e: &aws_sdk_sqs::error::SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
) -> QueueError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = crate::sdk_error::describe(e);
    QueueError::Send {
        queue: q.as_str(),
        transient: crate::sdk_error::is_transient(e),
        source: message.clone().into(),
        message,
    }
}

impl QueueError {
    /// Whether the same send may succeed later (a message that cannot be encoded never will).
    pub fn is_transient(&self) -> bool {
        match self {
            QueueError::Send { transient, .. } => *transient,
            QueueError::Encode { .. } => false,
        }
    }
}

impl Queues {
    pub fn new(client: Client, captured: String, scored: String, notify: String) -> Self {
        Self {
            client,
            captured,
            scored,
            notify,
        }
    }

    pub fn url(&self, q: QueueName) -> &str {
        match q {
            QueueName::Captured => &self.captured,
            QueueName::Scored => &self.scored,
            QueueName::Notify => &self.notify,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn send<T: Serialize>(&self, q: QueueName, message: &T) -> Result<(), QueueError> {
        let body = serde_json::to_string(message).map_err(|e| QueueError::Encode {
            queue: q.as_str(),
            message: e.to_string(),
        })?;
        self.send_raw(q, &body).await
    }

    /// Sends messages ten to a call (SQS's batch limit). Fails on the first batch with a
    /// message SQS did not take; messages sent before it stay sent (their handlers are
    /// idempotent, so sending the whole lot again is safe).
    pub async fn send_all<T: Serialize>(
        &self,
        q: QueueName,
        messages: &[T],
    ) -> Result<(), QueueError> {
        use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
        for chunk in messages.chunks(10) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, m) in chunk.iter().enumerate() {
                let body = serde_json::to_string(m).map_err(|e| QueueError::Encode {
                    queue: q.as_str(),
                    message: e.to_string(),
                })?;
                entries.push(
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .map_err(|e| QueueError::Encode {
                            queue: q.as_str(),
                            message: e.to_string(),
                        })?,
                );
            }
            let out = self
                .client
                .send_message_batch()
                .queue_url(self.url(q))
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| send_failed(q, &e))?;
            if let Some(failed) = out.failed.first() {
                return Err(QueueError::Send {
                    queue: q.as_str(),
                    message: format!(
                        "SendMessageBatch refused a message: {} {}",
                        failed.code,
                        failed.message.as_deref().unwrap_or_default()
                    ),
                    transient: !failed.sender_fault,
                    source: failed.code.clone().into(),
                });
            }
        }
        Ok(())
    }

    /// Sends a message body as it is (a parked message sent again).
    pub async fn send_raw(&self, q: QueueName, body: &str) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(self.url(q))
            .message_body(body)
            .send()
            .await
            .map_err(|e| send_failed(q, &e))?;
        Ok(())
    }
}
