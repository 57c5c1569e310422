//! Which approval rule applies.

use config::{ApprovalRule, Config};
use regex_automata::meta::Regex;

use crate::policy::{selects, Access};

/// The compiled rules of a configuration, in order (first match wins).
pub struct Rules {
    rules: Vec<(ApprovalRule, Option<Regex>)>,
    max_pending: u32,
    /// `[approval] interpreters`.
    interpreters: globset::GlobSet,
}

impl Rules {
    /// Compiles every rule's command expression (already validated by the config check).
    pub fn new(config: &Config) -> anyhow::Result<Rules> {
        let mut rules = Vec::new();
        for (i, r) in config.approval.rules.iter().enumerate() {
            let re = match &r.command {
                Some(c) => Some(
                    config::command_regex(c)
                        .map_err(|e| anyhow::anyhow!("approval.rules[{i}].command: {e}"))?,
                ),
                None => None,
            };
            rules.push((r.clone(), re));
        }
        let mut interpreters = globset::GlobSetBuilder::new();
        for (i, name) in config.approval.interpreters.iter().enumerate() {
            interpreters.add(
                globset::Glob::new(name)
                    .map_err(|e| anyhow::anyhow!("approval.interpreters[{i}]: {e}"))?,
            );
        }
        Ok(Rules {
            rules,
            max_pending: config.approval.max_pending_per_user,
            interpreters: interpreters
                .build()
                .map_err(|e| anyhow::anyhow!("approval.interpreters: {e}"))?,
        })
    }

    /// Requests one identity may have waiting at once.
    pub fn max_pending(&self) -> u32 {
        self.max_pending
    }

    /// The program `command` runs, if it reads its commands from stdin (see
    /// [`crate::approval::stdin_lines`]).
    pub fn stdin_interpreter(
        &self,
        command: &str,
    ) -> Option<crate::approval::stdin_lines::Interpreter> {
        crate::approval::stdin_lines::interpreter(command, &self.interpreters)
    }

    /// Whether any command rule (not whole-session) could apply on this access: only then do
    /// shells track their command lines.
    pub fn has_line_rules(&self, access: &Access) -> bool {
        self.rules
            .iter()
            .filter(|(r, re)| !r.whole_session && re.is_some())
            .filter(|(r, _)| r.targets.is_empty() || selects(&r.targets, &access.target))
            .any(|(r, _)| r.roles.is_empty() || r.roles.iter().any(|x| access.roles.contains(x)))
    }

    /// The command rule (not whole-session: the shell itself was judged) that a line typed in
    /// a shell needs, if any: the first that matches any of `readings` of it.
    pub fn matching_line(&self, access: &Access, readings: &[String]) -> Option<&ApprovalRule> {
        self.rules
            .iter()
            .filter(|(r, _)| !r.whole_session)
            .filter(|(r, _)| r.targets.is_empty() || selects(&r.targets, &access.target))
            .filter(|(r, _)| r.roles.is_empty() || r.roles.iter().any(|x| access.roles.contains(x)))
            .find(|(_, re)| {
                re.as_ref()
                    .is_some_and(|re| readings.iter().any(|l| re.is_match(l)))
            })
            .map(|(r, _)| r)
    }

    /// The rule a command needs, if any. `command` is `None` for an interactive shell start.
    pub fn matching(&self, access: &Access, command: Option<&str>) -> Option<&ApprovalRule> {
        self.rules
            .iter()
            .filter(|(r, _)| r.targets.is_empty() || selects(&r.targets, &access.target))
            .filter(|(r, _)| r.roles.is_empty() || r.roles.iter().any(|x| access.roles.contains(x)))
            .find(|(r, re)| match command {
                None => r.whole_session,
                // Leading blanks do not change what a shell runs, so a rule anchored at the
                // start sees the command without them, as it sees a typed line.
                Some(cmd) => {
                    // Each line of a command of several runs as one typed at a prompt
                    // would: judged alike.
                    r.whole_session
                        || re.as_ref().is_some_and(|re| {
                            re.is_match(cmd)
                                || std::iter::once(cmd)
                                    .chain(cmd.lines())
                                    .any(|l| re.is_match(l.trim_start()))
                        })
                }
            })
            .map(|(r, _)| r)
    }
}

/// Approvals a rule needs: as configured, else one per approver group.
pub fn required(rule: &ApprovalRule) -> u32 {
    rule.approvals
        .unwrap_or_else(|| u32::try_from(rule.approvers.len().max(1)).unwrap_or(1))
}
