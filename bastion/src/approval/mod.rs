//! Approval holds: a command that matches a rule waits until other people approve it.
//!
//! # Layout
//! - [`rules`]: which rule, if any, applies to a command on a target for a role.
//! - [`hold`]: the wait itself: request stored in the audit store, decided by reviewers on any
//!   bastion sharing it, timed out at the rule's deadline.
//! - [`decide`]: a reviewer's vote and what it does to the request.
//! - [`notify`]: the optional webhook.
//! - [`shell_syntax`]: whether a shell has read a whole command yet, and its simple commands;
//!   [`stdin_lines`]: commands a program run without a terminal reads from stdin, line by line.
//!
//! Text rules are a guardrail, not a sandbox: `eval $(echo ZHJvcCB0YWJsZQ== | base64 -d)` does
//! not look like `drop table`. See docs/threat-model.md.

pub mod decide;
pub mod hold;
pub mod notify;
pub mod rules;
pub mod shell_syntax;
pub mod stdin_lines;

/// The approval service: the rules, compiled, and the webhook that tells reviewers a request
/// waits (if configured).
pub struct Approvals {
    /// Which rule, if any, holds a command.
    pub rules: rules::Rules,
    /// The webhook.
    pub notifier: Option<notify::Notifier>,
}

impl Approvals {
    /// Compiles the configuration's rules and webhook.
    pub fn new(config: &config::Config) -> anyhow::Result<Approvals> {
        Ok(Approvals {
            rules: rules::Rules::new(config)?,
            notifier: notify::Notifier::new(config.approval.webhook.as_deref())?,
        })
    }
}
