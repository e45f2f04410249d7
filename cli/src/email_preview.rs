//! `leadrelay email preview <kind> <lead id>`: an email of a stored lead, rendered by notify's
//! own code from the templates in force, and shown instead of sent. Like `score` and
//! `route`, it changes nothing.

use chrono::{DateTime, Utc};
use leadrelay_aws::store::StoreError;
use leadrelay_aws::Deps;
use leadrelay_domain::emails::{Email, EmailKind};
use leadrelay_domain::lead::EscalationAction;
use leadrelay_domain::Config;
use leadrelay_notify::NotifyError;

/// The emails a lead can get, as the command names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PreviewKind {
    Acknowledgement,
    Assignment,
    Reminder,
    Escalation,
    Unassigned,
}

impl PreviewKind {
    /// The email kind; a reminder or escalation as the first ladder step that sends one.
    pub fn email_kind(self, config: &Config) -> EmailKind {
        let first_step = |action| {
            config
                .sla
                .escalation
                .iter()
                .position(|s| s.action == action)
                .unwrap_or(0)
        };
        match self {
            PreviewKind::Acknowledgement => EmailKind::Acknowledgement,
            PreviewKind::Assignment => EmailKind::Assignment,
            PreviewKind::Reminder => EmailKind::Reminder {
                step: first_step(EscalationAction::RemindOwner),
            },
            PreviewKind::Escalation => EmailKind::Escalation {
                step: first_step(EscalationAction::NotifyManager),
            },
            PreviewKind::Unassigned => EmailKind::Unassigned,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("no lead {0}")]
    NoSuchLead(String),
    #[error("lead {0} has no email address, so it gets no acknowledgement")]
    NoRecipient(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
}

/// The email notify would send the lead, rendered as of `now`. Its contacted link is signed
/// and works like the one in a sent email.
pub async fn preview(
    deps: &Deps,
    lead_id: &str,
    kind: PreviewKind,
    now: DateTime<Utc>,
) -> Result<Email, PreviewError> {
    let lead = deps
        .store
        .get_lead(lead_id)
        .await?
        .ok_or_else(|| PreviewError::NoSuchLead(lead_id.to_owned()))?;
    let kind = kind.email_kind(&deps.config);
    leadrelay_notify::compose(deps, &lead, &kind, now)?
        .ok_or_else(|| PreviewError::NoRecipient(lead_id.to_owned()))
}

/// The email as the command prints it: headers, which templates, the text, the HTML.
pub fn report(email: &Email) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "template  {}.txt, {}.html\n",
        email.template, email.template
    ));
    out.push_str(&format!("to        {}\n", email.to));
    if let Some(r) = &email.reply_to {
        out.push_str(&format!("reply-to  {r}\n"));
    }
    out.push_str(&format!("subject   {}\n", email.subject));
    out.push_str("\n--- text ---\n");
    out.push_str(&email.text);
    if !email.text.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("\n--- html ---\n");
    out.push_str(&email.html);
    if !email.html.ends_with('\n') {
        out.push('\n');
    }
    out
}
