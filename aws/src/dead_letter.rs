//! The dead-letter queues: what is in them, and moving it back to the queue it came from.
//!
//! A message lands in a queue's dead-letter queue after `maxReceiveCount` failed receives (5,
//! in the template). Listing reads without consuming; replaying moves every message back to
//! its source queue, where the (idempotent) handlers take it again. In AWS a replay starts
//! SQS's message move task; where the API is not there (moto, the local emulator, has no move
//! task) it receives, sends to the source queue and deletes, message by message.

use std::collections::HashMap;

use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::queue::{QueueName, Queues};

/// How long a listing hides each message it has seen, so the next receive returns the others.
/// The listing puts every one back (visibility 0) before it returns; should it die half-way,
/// the messages come back by themselves after this long.
const LIST_HIDE_SECS: i32 = 30;
/// How long a manual replay holds a message between receiving it and deleting it.
const REPLAY_HOLD_SECS: i32 = 60;
/// A listing stops after this many messages (a DLQ keeps 14 days; more is for the console).
const LIST_MAX: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error("SQS {op} on the {queue} queue failed: {message}")]
    Sqs {
        op: &'static str,
        queue: &'static str,
        message: String,
    },
    #[error("the {queue} queue has no dead-letter queue (no RedrivePolicy); set {env_var}")]
    NoRedrivePolicy {
        queue: &'static str,
        env_var: &'static str,
    },
    #[error("environment variable {name}: {message}")]
    Env { name: &'static str, message: String },
}

fn sqs_err<E>(op: &'static str, queue: QueueName) -> impl FnOnce(E) -> DeadLetterError
where
    E: std::error::Error + 'static,
{
    move |e| DeadLetterError::Sqs {
        op,
        queue: queue.as_str(),
        message: DisplayErrorContext(&e).to_string(),
    }
}

/// The URLs of the three dead-letter queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterQueues {
    pub captured: String,
    pub scored: String,
    pub notify: String,
}

impl QueueName {
    /// The environment variable that holds the URL of the queue's dead-letter queue (the
    /// template's `CapturedDlqUrl`, `ScoredDlqUrl`, `NotifyDlqUrl` outputs).
    pub fn dlq_env_var(self) -> &'static str {
        match self {
            QueueName::Captured => "LEADRELAY_CAPTURED_DLQ_URL",
            QueueName::Scored => "LEADRELAY_SCORED_DLQ_URL",
            QueueName::Notify => "LEADRELAY_NOTIFY_DLQ_URL",
        }
    }
}

impl DeadLetterQueues {
    pub fn url(&self, q: QueueName) -> &str {
        match q {
            QueueName::Captured => &self.captured,
            QueueName::Scored => &self.scored,
            QueueName::Notify => &self.notify,
        }
    }

    /// From `LEADRELAY_*_DLQ_URL` where set; each one not set is found through its source
    /// queue's redrive policy (which needs `sqs:GetQueueAttributes` and `sqs:GetQueueUrl`).
    pub async fn from_env_or_discover(queues: &Queues) -> Result<Self, DeadLetterError> {
        let mut urls = Vec::with_capacity(3);
        for q in QueueName::ALL {
            urls.push(match std::env::var(q.dlq_env_var()) {
                Ok(url) if !url.is_empty() => url,
                _ => discover(queues, q).await?,
            });
        }
        let [captured, scored, notify] =
            <[String; 3]>::try_from(urls).map_err(|_| DeadLetterError::Env {
                name: "LEADRELAY_*_DLQ_URL",
                message: "three queues expected".into(),
            })?;
        Ok(Self {
            captured,
            scored,
            notify,
        })
    }
}

/// The dead-letter queue of `q`, from its redrive policy's target ARN.
pub async fn discover(queues: &Queues, q: QueueName) -> Result<String, DeadLetterError> {
    let sqs = queues.client();
    let no_policy = || DeadLetterError::NoRedrivePolicy {
        queue: q.as_str(),
        env_var: q.dlq_env_var(),
    };
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(queues.url(q))
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .map_err(sqs_err("GetQueueAttributes", q))?
        .attributes
        .unwrap_or_default();
    let policy = attrs
        .get(&QueueAttributeName::RedrivePolicy)
        .ok_or_else(no_policy)?;
    let arn = serde_json::from_str::<serde_json::Value>(policy)
        .ok()
        .and_then(|v| v["deadLetterTargetArn"].as_str().map(str::to_owned))
        .ok_or_else(no_policy)?;
    // arn:aws:sqs:<region>:<account>:<name>
    let mut parts = arn.rsplitn(2, ':');
    let name = parts.next().unwrap_or_default();
    let account = parts.next().and_then(|p| p.rsplit(':').next());
    let mut req = sqs.get_queue_url().queue_name(name);
    if let Some(account) = account {
        req = req.queue_owner_aws_account_id(account);
    }
    req.send()
        .await
        .map_err(sqs_err("GetQueueUrl", q))?
        .queue_url
        .ok_or_else(no_policy)
}

/// A message in a dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub message_id: String,
    /// The lead the message is about, when its body names one.
    pub lead_id: Option<String>,
    /// `assigned`, `unassigned`, `escalation` on the notify queue; none on the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Receives so far: those on the source queue that failed, and listings of the DLQ.
    pub receive_count: u32,
    /// When the message was first sent (to the source queue).
    pub sent_at: Option<DateTime<Utc>>,
    /// When it was first received, that is first tried (and failed).
    pub first_received_at: Option<DateTime<Utc>>,
}

fn millis(
    attrs: &HashMap<MessageSystemAttributeName, String>,
    name: MessageSystemAttributeName,
) -> Option<DateTime<Utc>> {
    attrs
        .get(&name)
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(DateTime::from_timestamp_millis)
}

fn dead_letter(m: &aws_sdk_sqs::types::Message) -> DeadLetter {
    let attrs = m.attributes.clone().unwrap_or_default();
    let body: serde_json::Value = m
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or_default();
    DeadLetter {
        message_id: m.message_id.clone().unwrap_or_default(),
        lead_id: body["lead_id"].as_str().map(str::to_owned),
        kind: body["type"].as_str().map(str::to_owned),
        receive_count: attrs
            .get(&MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        sent_at: millis(&attrs, MessageSystemAttributeName::SentTimestamp),
        first_received_at: millis(
            &attrs,
            MessageSystemAttributeName::ApproximateFirstReceiveTimestamp,
        ),
    }
}

/// What is in the dead-letter queue of `q`, oldest first, without consuming it.
///
/// SQS has no "peek": a listing receives. Each message received is hidden for
/// [`LIST_HIDE_SECS`] so the following receives return the others (a receive with a
/// visibility timeout of 0 would keep returning the same few), and once all are seen each is
/// made visible again at once (ChangeMessageVisibility to 0). The receive count of a listed
/// message goes up by one; a dead-letter queue has no redrive policy, so that moves nothing.
pub async fn list(
    sqs: &Client,
    dlqs: &DeadLetterQueues,
    q: QueueName,
) -> Result<Vec<DeadLetter>, DeadLetterError> {
    let url = dlqs.url(q);
    let mut seen = Vec::new();
    let mut handles = Vec::new();
    let mut result = Ok(());
    while seen.len() < LIST_MAX {
        let out = match sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(LIST_HIDE_SECS)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                result = Err(sqs_err("ReceiveMessage", q)(e));
                break;
            }
        };
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in &messages {
            seen.push(dead_letter(m));
            handles.extend(m.receipt_handle.clone());
        }
    }
    // Put back what was seen, also after a failed receive.
    for handle in handles {
        sqs.change_message_visibility()
            .queue_url(url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(sqs_err("ChangeMessageVisibility", q))?;
    }
    result?;
    seen.sort_by_key(|a| a.sent_at);
    Ok(seen)
}

/// How to move messages back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayMethod {
    /// SQS's message move task; where the endpoint does not have it, [`ReplayMethod::Receive`].
    Auto,
    /// Receive, send to the source queue, delete: works everywhere, message by message.
    Receive,
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Replayed {
    /// SQS moves the messages in the background; `dlq list` shows what is left.
    MoveTask {
        task_handle: String,
        /// The messages in the DLQ when the task started (approximate).
        approximate_messages: u64,
    },
    /// Moved here, one by one.
    Moved { messages: usize },
}

/// Moves every message of the dead-letter queue of `q` back to `q`. The handlers are
/// idempotent, so a message handled before it failed (or moved twice) does no harm.
pub async fn replay(
    queues: &Queues,
    dlqs: &DeadLetterQueues,
    q: QueueName,
    method: ReplayMethod,
) -> Result<Replayed, DeadLetterError> {
    let sqs = queues.client();
    if method == ReplayMethod::Auto {
        match start_move_task(sqs, dlqs.url(q), queues.url(q), q).await {
            Ok(done) => return Ok(done),
            Err(MoveTask::Unsupported(why)) => {
                tracing::info!(
                    queue = q.as_str(),
                    why,
                    "no message move task here: moving message by message"
                );
            }
            Err(MoveTask::Failed(e)) => return Err(e),
        }
    }
    move_one_by_one(sqs, dlqs.url(q), queues.url(q), q).await
}

enum MoveTask {
    /// The endpoint has no such API (an emulator): move by hand instead.
    Unsupported(String),
    Failed(DeadLetterError),
}

async fn queue_attribute(
    sqs: &Client,
    url: &str,
    name: QueueAttributeName,
    q: QueueName,
) -> Result<Option<String>, DeadLetterError> {
    Ok(sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .map_err(sqs_err("GetQueueAttributes", q))?
        .attributes
        .and_then(|mut a| a.remove(&name)))
}

async fn start_move_task(
    sqs: &Client,
    dlq_url: &str,
    source_url: &str,
    q: QueueName,
) -> Result<Replayed, MoveTask> {
    let dlq_arn = queue_attribute(sqs, dlq_url, QueueAttributeName::QueueArn, q)
        .await
        .map_err(MoveTask::Failed)?
        .unwrap_or_default();
    let source_arn = queue_attribute(sqs, source_url, QueueAttributeName::QueueArn, q)
        .await
        .map_err(MoveTask::Failed)?
        .unwrap_or_default();
    let approximate_messages = queue_attribute(
        sqs,
        dlq_url,
        QueueAttributeName::ApproximateNumberOfMessages,
        q,
    )
    .await
    .map_err(MoveTask::Failed)?
    .and_then(|n| n.parse().ok())
    .unwrap_or(0);
    match sqs
        .start_message_move_task()
        .source_arn(dlq_arn)
        .destination_arn(source_arn)
        .send()
        .await
    {
        Ok(out) => Ok(Replayed::MoveTask {
            task_handle: out.task_handle.unwrap_or_default(),
            approximate_messages,
        }),
        Err(e) => {
            let unsupported = e
                .as_service_error()
                .map(|s| {
                    let code = s.code().unwrap_or_default();
                    matches!(
                        code,
                        "InvalidAction"
                            | "UnknownOperationException"
                            | "NotImplemented"
                            | "UnsupportedOperation"
                    ) || e.raw_response().is_some_and(|r| {
                        matches!(r.status().as_u16(), 404 | 405 | 500 | 501) && code.is_empty()
                    })
                })
                .unwrap_or(false);
            let message = DisplayErrorContext(&e).to_string();
            if unsupported {
                Err(MoveTask::Unsupported(message))
            } else {
                Err(MoveTask::Failed(DeadLetterError::Sqs {
                    op: "StartMessageMoveTask",
                    queue: q.as_str(),
                    message,
                }))
            }
        }
    }
}

/// Receive, send to the source queue, delete. A message is deleted from the DLQ only after
/// its copy was sent, so a failure half-way leaves it in the DLQ (and at worst sends it
/// twice, which the idempotent handlers absorb).
async fn move_one_by_one(
    sqs: &Client,
    dlq_url: &str,
    source_url: &str,
    q: QueueName,
) -> Result<Replayed, DeadLetterError> {
    let mut moved = 0usize;
    loop {
        let out = sqs
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(REPLAY_HOLD_SECS)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(sqs_err("ReceiveMessage", q))?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(Replayed::Moved { messages: moved });
        }
        for m in messages {
            let (Some(body), Some(handle)) = (m.body, m.receipt_handle) else {
                continue;
            };
            sqs.send_message()
                .queue_url(source_url)
                .message_body(body)
                .send()
                .await
                .map_err(sqs_err("SendMessage", q))?;
            sqs.delete_message()
                .queue_url(dlq_url)
                .receipt_handle(handle)
                .send()
                .await
                .map_err(sqs_err("DeleteMessage", q))?;
            moved += 1;
            tracing::info!(
                queue = q.as_str(),
                message_id = m.message_id.as_deref().unwrap_or_default(),
                "dead letter moved back"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::types::Message;

    #[test]
    fn a_dead_letter_names_its_lead_its_receives_and_its_first_failure() {
        let m = Message::builder()
            .message_id("m-1")
            .body(r#"{"type":"assigned","lead_id":"01LEAD"}"#)
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "5")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1772445600000")
            .attributes(
                MessageSystemAttributeName::ApproximateFirstReceiveTimestamp,
                "1772445601000",
            )
            .build();
        let d = dead_letter(&m);
        assert_eq!(d.message_id, "m-1");
        assert_eq!(d.lead_id.as_deref(), Some("01LEAD"));
        assert_eq!(d.kind.as_deref(), Some("assigned"));
        assert_eq!(d.receive_count, 5);
        assert_eq!(d.sent_at, "2026-03-02T10:00:00Z".parse().ok());
        assert_eq!(d.first_received_at, "2026-03-02T10:00:01Z".parse().ok());
    }

    #[test]
    fn a_message_that_is_not_ours_is_listed_without_a_lead() {
        let m = Message::builder()
            .message_id("m-2")
            .body("not json")
            .build();
        let d = dead_letter(&m);
        assert_eq!((d.lead_id, d.receive_count, d.sent_at), (None, 0, None));
    }
}
