use std::sync::Arc;
use std::time::Duration;

use aws_config::{Region, SdkConfig};
use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use leadrelay_aws::batch::{BatchOutcome, QueueMessage};
use leadrelay_aws::dead_letter::{DeadLetterError, DeadLetterQueues};
use leadrelay_aws::deps::DepsError;
use leadrelay_aws::queue::QueueName;
use leadrelay_aws::Deps;
use leadrelay_domain::clock::SharedClock;
use leadrelay_domain::Config;

use super::journey::Journey;
use super::moto::{MotoError, MotoServer};
use super::provision::{self, ProvisionError};

/// How long a failed message waits before it is delivered again, locally. (In AWS that is the
/// queue's visibility timeout; here shorter, so a retry shows up while you watch.)
const LOCAL_RETRY_DELAY_SECS: i32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Moto(#[from] MotoError),
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    #[error(transparent)]
    Deps(#[from] DepsError),
    #[error(transparent)]
    DeadLetter(#[from] DeadLetterError),
    #[error("SQS {op} failed: {message}")]
    Sqs { op: &'static str, message: String },
}

/// The AWS SDK configuration for the emulator: fixed test credentials, one region.
pub async fn local_sdk_config(endpoint: &str) -> SdkConfig {
    leadrelay_aws::sdk::loader()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "leadrelay-local",
        ))
        .load()
        .await
}

pub struct StackOptions {
    /// An emulator already running (`AWS_ENDPOINT_URL`); else moto's server is started.
    pub endpoint: Option<String>,
    /// Resource names start with it, so several stacks share one emulator.
    pub prefix: String,
    pub config: Config,
    pub clock: SharedClock,
    /// Print each lead's journey as it happens.
    pub print_journey: bool,
}

/// A running local pipeline.
pub struct LocalStack {
    pub deps: Deps,
    pub sdk: SdkConfig,
    pub endpoint: String,
    pub journey: Option<Journey>,
    /// The queues' dead-letter queues, as provisioning made them.
    pub dead_letter: DeadLetterQueues,
    /// Seconds a failed message stays hidden before it comes back.
    retry_delay_secs: i32,
    _moto: Option<MotoServer>,
}

impl LocalStack {
    pub async fn start(opts: StackOptions) -> Result<Self, StackError> {
        let (endpoint, moto) = match opts.endpoint {
            Some(e) => (e, None),
            None => {
                let m = MotoServer::start().await?;
                (m.endpoint().to_owned(), Some(m))
            }
        };
        let sdk = local_sdk_config(&endpoint).await;
        let resources = provision::provision(
            &sdk,
            &opts.prefix,
            &opts.config.email.sender,
            opts.clock.now(),
        )
        .await?;
        let deps = Deps::build(&sdk, opts.config, resources, opts.clock).await?;
        let journey = opts.print_journey.then(Journey::default);
        let mut dlqs = Vec::with_capacity(3);
        for q in QueueName::ALL {
            dlqs.push(leadrelay_aws::dead_letter::discover(&deps.queues, q).await?);
        }
        let mut dlqs = dlqs.into_iter();
        let dead_letter = DeadLetterQueues {
            captured: dlqs.next().unwrap_or_default(),
            scored: dlqs.next().unwrap_or_default(),
            notify: dlqs.next().unwrap_or_default(),
        };
        Ok(Self {
            deps,
            sdk,
            endpoint,
            journey,
            dead_letter,
            retry_delay_secs: LOCAL_RETRY_DELAY_SECS,
            _moto: moto,
        })
    }

    /// A failed message comes back after `secs` instead of 2 s; 0: at the next receive (the
    /// tests drive retries and the dead-letter redrive this way, without waiting).
    pub fn with_retry_delay(mut self, secs: i32) -> Self {
        self.retry_delay_secs = secs;
        self
    }

    /// An HTTP request through the capture handler, exactly as the Lambda serves it.
    pub async fn http(&self, req: ::http::Request<Vec<u8>>) -> ::http::Response<String> {
        let response = leadrelay_capture::handle(&self.deps, req).await;
        if let Some(j) = &self.journey {
            if let Some(id) = serde_json::from_str::<serde_json::Value>(response.body())
                .ok()
                .and_then(|v| v["lead_id"].as_str().map(str::to_owned))
            {
                j.show(&self.deps, &id).await;
            }
        }
        response
    }

    /// Receives one batch from a queue and hands it to its function, as an event source mapping
    /// does: successes deleted, failures left for redelivery. Returns how many messages came.
    pub async fn poll(&self, queue: QueueName, wait_seconds: i32) -> Result<usize, StackError> {
        let sqs = self.deps.queues.client();
        let url = self.deps.queues.url(queue);
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .send()
            .await
            .map_err(|e| StackError::Sqs {
                op: "ReceiveMessage",
                message: aws_sdk_sqs::error::DisplayErrorContext(&e).to_string(),
            })?;
        let received = out.messages.unwrap_or_default();
        if received.is_empty() {
            return Ok(0);
        }
        let messages: Vec<QueueMessage> = received
            .iter()
            .map(|m| QueueMessage {
                message_id: m.message_id.clone().unwrap_or_default(),
                body: m.body.clone().unwrap_or_default(),
            })
            .collect();
        let outcome: BatchOutcome = match queue {
            QueueName::Captured => {
                leadrelay_enrich::handle_batch(&self.deps, messages.clone()).await
            }
            QueueName::Scored => leadrelay_route::handle_batch(&self.deps, messages.clone()).await,
            QueueName::Notify => leadrelay_notify::handle_batch(&self.deps, messages.clone()).await,
        };
        let mut done = Vec::new();
        for m in &received {
            let id = m.message_id.clone().unwrap_or_default();
            let handle = m.receipt_handle.clone().unwrap_or_default();
            if outcome.failed.contains(&id) {
                let _ = sqs
                    .change_message_visibility()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .visibility_timeout(self.retry_delay_secs)
                    .send()
                    .await;
            } else {
                done.push(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(done.len().to_string())
                        .receipt_handle(handle)
                        .build()
                        .expect("id and handle set"),
                );
            }
        }
        if !done.is_empty() {
            sqs.delete_message_batch()
                .queue_url(url)
                .set_entries(Some(done))
                .send()
                .await
                .map_err(|e| StackError::Sqs {
                    op: "DeleteMessageBatch",
                    message: aws_sdk_sqs::error::DisplayErrorContext(&e).to_string(),
                })?;
        }
        if let Some(j) = &self.journey {
            for m in &messages {
                if let Some(id) = serde_json::from_str::<serde_json::Value>(&m.body)
                    .ok()
                    .and_then(|v| v["lead_id"].as_str().map(str::to_owned))
                {
                    j.show(&self.deps, &id).await;
                }
            }
        }
        Ok(received.len())
    }

    /// Runs every queue until all are empty: the whole pipeline for what has been captured.
    pub async fn drain(&self) -> Result<(), StackError> {
        // Bounded, so a message that keeps failing cannot spin forever.
        for _ in 0..200 {
            let mut moved = 0;
            for q in QueueName::ALL {
                moved += self.poll(q, 0).await?;
            }
            if moved == 0 {
                return Ok(());
            }
        }
        Ok(())
    }

    /// One escalation pass at the clock's now.
    pub async fn escalate(
        &self,
    ) -> Result<leadrelay_escalate::PassReport, leadrelay_escalate::EscalateError> {
        let report = leadrelay_escalate::run_pass(&self.deps, self.deps.clock.now()).await?;
        Ok(report)
    }

    /// One backstop pass at the clock's now: every due form and account of every source with
    /// a backstop is asked for the leads its webhooks missed.
    pub async fn backstop(
        &self,
    ) -> Result<leadrelay_backstop::PassReport, leadrelay_backstop::BackstopError> {
        leadrelay_backstop::run_pass(&self.deps, self.deps.clock.now()).await
    }

    /// Pollers for every queue and the escalation schedule, until the process ends.
    pub fn spawn_workers(
        self: &Arc<Self>,
        escalate_every: Duration,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = Vec::new();
        for q in QueueName::ALL {
            let stack = Arc::clone(self);
            handles.push(tokio::spawn(async move {
                loop {
                    if let Err(e) = stack.poll(q, 1).await {
                        tracing::warn!(queue = q.as_str(), error = %e, "poll failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }));
        }
        let stack = Arc::clone(self);
        handles.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(escalate_every);
            loop {
                tick.tick().await;
                if let Err(e) = stack.escalate().await {
                    tracing::warn!(error = %e, "escalation pass failed");
                }
                // The backstop rides the same timer; each form is asked only when its
                // `every` has passed (a source without a backstop costs nothing).
                if let Err(e) = stack.backstop().await {
                    tracing::warn!(error = %e, "backstop pass failed");
                }
                // The escalation emails go through notify like every other email.
                if let Some(j) = &stack.journey {
                    j.show_recent(&stack.deps).await;
                }
            }
        }));
        handles
    }
}
