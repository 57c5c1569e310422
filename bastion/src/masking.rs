//! The configured PHI masker: the packs, the site's labels and rules, compiled once.

use anyhow::{anyhow, bail, Result};
use recorder::mask::{HipaaOptions, Masker, Rule, RuleSet, Validator};

/// Builds and compiles the `[masking]` section. Errors name the rule's key path.
pub fn build(m: &config::Masking) -> Result<Masker> {
    let mut set = RuleSet::new();
    for pack in &m.packs {
        match pack.as_str() {
            "hipaa" => {
                let defaults = HipaaOptions::default();
                let pick = |given: &Vec<String>, default: Vec<String>| {
                    if given.is_empty() {
                        default
                    } else {
                        given.clone()
                    }
                };
                let options = HipaaOptions {
                    mrn_labels: pick(&m.mrn_labels, defaults.mrn_labels),
                    account_labels: pick(&m.account_labels, defaults.account_labels),
                    member_labels: pick(&m.member_labels, defaults.member_labels),
                    ipv4: m.ipv4,
                };
                for rule in RuleSet::hipaa_with(&options).rules() {
                    set.replace(rule.clone());
                }
            }
            other => bail!("masking.packs: unknown pack {other:?}"),
        }
    }
    for (i, r) in m.rules.iter().enumerate() {
        let at = format!("masking.rules[{i}] ({:?})", r.name);
        // A rule with only a name and `enabled = false` switches a pack rule off.
        if r.pattern.is_empty() {
            if !set.set_enabled(&r.name, r.enabled) {
                bail!("{at}: no pattern, and no pack rule of that name to switch");
            }
            continue;
        }
        let mut rule = Rule::custom(r.name.clone(), r.pattern.clone()).enabled(r.enabled);
        if let Some(g) = r.group {
            rule = rule.with_group(g);
        }
        if let Some(v) = &r.validator {
            let v: Validator = v.parse().map_err(|e| anyhow!("{at}: {e}"))?;
            rule = rule.with_validator(v);
        }
        set.replace(rule);
    }
    set.compile().map_err(|e| anyhow!("masking: {e}"))
}

/// Whether an exec command is a file transfer (legacy scp, rsync): its bytes are data, not
/// something a person reads, so it is never masked and its content is not recorded.
pub fn is_transfer_command(command: &[u8]) -> bool {
    let cmd = String::from_utf8_lossy(command);
    let first = cmd.split_whitespace().next().unwrap_or("");
    let prog = first.rsplit('/').next().unwrap_or(first);
    match prog {
        "scp" => cmd.split_whitespace().any(|a| a == "-t" || a == "-f"),
        "rsync" => cmd.contains("--server"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_are_recognised() {
        assert!(is_transfer_command(b"scp -t /tmp/x"));
        assert!(is_transfer_command(b"/usr/bin/scp -f -- file"));
        assert!(is_transfer_command(
            b"rsync --server -vlogDtpre.iLsfxC . /tmp"
        ));
        assert!(!is_transfer_command(b"scp-like --help"));
        assert!(!is_transfer_command(b"cat /etc/passwd"));
    }

    #[test]
    fn site_rules_add_replace_and_disable() {
        let mut m = config::Masking::default();
        m.rules.push(config::MaskRule {
            name: "site-badge".into(),
            pattern: r"(?i)badge[:# ]*([A-Z]{2}\d{6})".into(),
            group: Some(1),
            validator: None,
            enabled: true,
        });
        let masker = build(&m).unwrap();
        assert_eq!(masker.mask(b"badge: AB123456 ok"), b"badge: ******** ok");
        assert_eq!(masker.mask(b"SSN 123-45-6789"), b"SSN ***-**-****");
        m.rules.push(config::MaskRule {
            name: "nope".into(),
            pattern: r"\d+".into(),
            group: None,
            validator: None,
            enabled: true,
        });
        let err = build(&m).unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
    }
}
