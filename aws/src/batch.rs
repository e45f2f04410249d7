//! SQS batches, the way Lambda's event source mapping delivers them: each message handled on
//! its own, failures reported per message (`batchItemFailures`) so one bad message never holds
//! back the rest.

use std::future::Future;

use futures::stream::{self, StreamExt};

/// One message of a batch, stripped of its AWS envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub message_id: String,
    pub body: String,
}

/// The ids of the messages that failed and must be delivered again.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    pub failed: Vec<String>,
}

/// What a handler's error tells the batch: how loudly to log the failed message.
pub trait MessageError: std::fmt::Display {
    /// A fault that may pass (throttling, a timeout, a lead not scored yet): worth a warning.
    /// Anything else will fail the same way until someone changes something: an error.
    fn is_transient(&self) -> bool;

    /// A wait the design expects, not a fault (another worker is sending the same email right
    /// now): the message simply comes back later, so it is not worth a warning.
    fn is_expected(&self) -> bool {
        false
    }
}

/// How many messages of a batch are worked on at once.
pub const CONCURRENCY: usize = 10;

/// Handles every message of a batch, at most [`CONCURRENCY`] at once. A message whose body
/// does not parse, or whose handler fails, is reported failed (and after the queue's
/// maxReceiveCount lands in its dead-letter queue): never silently dropped.
pub async fn process<M, E, F, Fut>(
    queue: &'static str,
    messages: Vec<QueueMessage>,
    handler: F,
) -> BatchOutcome
where
    M: for<'de> serde::Deserialize<'de>,
    E: MessageError,
    F: Fn(M) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    process_at_most(CONCURRENCY, queue, messages, handler).await
}

/// [`process`] with at most `concurrency` messages at once: 1 for a handler whose messages
/// contend on one item (routing: every lead of a team updates its rotation), where running
/// them together only buys conflicts, each paid with another read and write.
pub async fn process_at_most<M, E, F, Fut>(
    concurrency: usize,
    queue: &'static str,
    messages: Vec<QueueMessage>,
    handler: F,
) -> BatchOutcome
where
    M: for<'de> serde::Deserialize<'de>,
    E: MessageError,
    F: Fn(M) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let handler = &handler;
    let failed = stream::iter(messages)
        .map(|m| async move {
            let parsed: M = match serde_json::from_str(&m.body) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(queue, message_id = %m.message_id, error = %e, "message body is not a valid message");
                    crate::metrics::message_failed(queue);
                    return Some(m.message_id);
                }
            };
            match handler(parsed).await {
                Ok(()) => None,
                Err(e) => {
                    if e.is_expected() {
                        tracing::debug!(queue, message_id = %m.message_id, reason = %e, "message comes back later");
                    } else if e.is_transient() {
                        crate::metrics::message_failed(queue);
                        tracing::warn!(queue, message_id = %m.message_id, error = %e, "message failed; it will be retried");
                    } else {
                        crate::metrics::message_failed(queue);
                        tracing::error!(queue, message_id = %m.message_id, error = %e, "message failed and will fail again until fixed; it goes to the dead-letter queue after its retries");
                    }
                    Some(m.message_id)
                }
            }
        })
        .buffer_unordered(concurrency.max(1))
        .filter_map(|f| async move { f })
        .collect()
        .await;
    BatchOutcome { failed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_bad_messages_of_a_batch_fail() {
        let msgs = vec![
            QueueMessage {
                message_id: "1".into(),
                body: "{\"n\":1}".into(),
            },
            QueueMessage {
                message_id: "2".into(),
                body: "not json".into(),
            },
            QueueMessage {
                message_id: "3".into(),
                body: "{\"n\":3}".into(),
            },
            QueueMessage {
                message_id: "4".into(),
                body: "{\"n\":4}".into(),
            },
        ];
        #[derive(serde::Deserialize)]
        struct M {
            n: u32,
        }
        #[derive(Debug)]
        struct Boom;
        impl std::fmt::Display for Boom {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("boom")
            }
        }
        impl MessageError for Boom {
            fn is_transient(&self) -> bool {
                true
            }
        }
        let mut out = process("test", msgs, |m: M| async move {
            if m.n == 3 {
                Err(Boom)
            } else {
                Ok(())
            }
        })
        .await;
        out.failed.sort();
        assert_eq!(out.failed, vec!["2".to_string(), "3".to_string()]);
    }
}
