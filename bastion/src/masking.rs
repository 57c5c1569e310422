//! The configured PHI masker: the packs, the site's labels, fields and rules, compiled once.
//! Rules and fields may be scoped to targets and roles; each distinct set in effect is
//! compiled once, on first use, and shared.

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::Result;
use mask::{Field, HipaaOptions, MaskError, Masker, Rule, RuleSet, Validator};

use crate::policy::{selects, Access};

/// The maskers of a configuration.
pub struct Maskers {
    config: config::Masking,
    /// Every rule and field that applies everywhere (scoped ones off).
    everywhere: Masker,
    /// Every rule and field on: what `mask-test` and `config check --masking` show.
    all: Masker,
    /// Compiled sets, keyed by the indices of the scoped rules and fields switched on.
    scoped: Mutex<Scoped>,
}

/// The sets compiled for scopes.
#[derive(Default)]
struct Scoped {
    by_scope: HashMap<Scope, Masker>,
    /// Every distinct rule set compiled, `all` and `everywhere` included: scopes that come to
    /// the same rules (a scoped field the list already has, a rule switched off in either)
    /// share one compiled set, whose automata and caches are its memory.
    by_set: Vec<(RuleSet, Masker)>,
}

/// Which scoped rules and fields are on (indices into `[[masking.rules]]` and `fields`).
type Scope = (Vec<usize>, Vec<usize>);

impl Maskers {
    /// Compiles the `[masking]` section; errors name the rule's key path.
    pub fn new(m: &config::Masking) -> Result<Maskers> {
        let everything = ((0..m.rules.len()).collect(), (0..m.fields.len()).collect());
        let all_set = rule_set(m, &everything)?;
        let all = all_set.compile().map_err(|e| Problem::compiling(m, &e))?;
        let everywhere_set = rule_set(m, &(Vec::new(), Vec::new()))?;
        // Without scoped rules and fields both are the same set: compiled once (a compiled
        // set's automata and caches are its memory).
        let everywhere = if everywhere_set == all_set {
            all.clone()
        } else {
            everywhere_set
                .compile()
                .map_err(|e| Problem::compiling(m, &e))?
        };
        let scoped = Scoped {
            by_scope: HashMap::new(),
            by_set: vec![(all_set, all.clone()), (everywhere_set, everywhere.clone())],
        };
        Ok(Maskers {
            config: m.clone(),
            everywhere,
            all,
            scoped: Mutex::new(scoped),
        })
    }

    /// A string a client chose (SSH user name, subsystem, forward destination, signal or
    /// variable name), masked by the rules that apply everywhere before it is logged or stored:
    /// it may hold anything, an identifier included.
    pub fn client_text(&self, text: &str) -> String {
        mask_text(&self.everywhere, text)
    }

    /// Every rule on.
    pub fn all(&self) -> &Masker {
        &self.all
    }

    /// The masker for a channel to `access` (its target, the roles that granted it).
    pub fn for_access(&self, access: &Access) -> Masker {
        self.for_scope(&access.target, &access.roles)
    }

    /// The masker for channels to `target` granted by the roles named `roles`.
    pub fn for_scope(&self, target: &config::Target, roles: &[String]) -> Masker {
        let applies = |targets: &[String], scoped_roles: &[String]| {
            (targets.is_empty() || selects(targets, target))
                && (scoped_roles.is_empty() || scoped_roles.iter().any(|x| roles.contains(x)))
        };
        let rules: Vec<usize> = self
            .config
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| !(r.targets.is_empty() && r.roles.is_empty()))
            .filter(|(_, r)| applies(&r.targets, &r.roles))
            .map(|(i, _)| i)
            .collect();
        let fields: Vec<usize> = self
            .config
            .fields
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match f {
                config::FieldEntry::Scoped(s) if f.is_scoped() => {
                    applies(&s.targets, &s.roles).then_some(i)
                }
                _ => None,
            })
            .collect();
        if rules.is_empty() && fields.is_empty() {
            return self.everywhere.clone();
        }
        let key = (rules, fields);
        let Ok(mut cache) = self.scoped.lock() else {
            // A poisoned lock only means another thread panicked mid-insert: mask everything.
            return self.all.clone();
        };
        if let Some(m) = cache.by_scope.get(&key) {
            return m.clone();
        }
        // The all-rules set compiled at start, so this cannot fail; if it did, mask more, not less.
        let Ok(set) = rule_set(&self.config, &key) else {
            return self.all.clone();
        };
        let m = match cache.by_set.iter().find(|(s, _)| *s == set) {
            Some((_, m)) => m.clone(),
            None => {
                let m = set.compile().unwrap_or_else(|_| self.all.clone());
                cache.by_set.push((set, m.clone()));
                m
            }
        };
        cache.by_scope.insert(key, m.clone());
        m
    }
}

/// What is wrong with `[masking]`, found by compiling it: each problem is a key path (where
/// the line is looked up) and a message, as `config::Config::load_with` wants them.
pub fn problems(c: &config::Config) -> Vec<(String, String)> {
    let everything = (
        (0..c.masking.rules.len()).collect(),
        (0..c.masking.fields.len()).collect(),
    );
    match build(&c.masking, &everything) {
        Ok(_) => Vec::new(),
        Err(p) => vec![(p.key, p.message)],
    }
}

/// A rule set that does not compile, and the key to blame.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
struct Problem {
    key: String,
    message: String,
}

impl Problem {
    fn new(key: impl Into<String>, message: impl std::fmt::Display) -> Problem {
        Problem {
            key: key.into(),
            message: message.to_string(),
        }
    }

    /// Points a compile error at the site rule it names (its pattern, or group), else at the
    /// section: a pack rule is shaped by the section's label lists.
    fn compiling(m: &config::Masking, e: &MaskError) -> Problem {
        let site = e
            .rule()
            .and_then(|name| m.rules.iter().rposition(|r| r.name == name));
        let key = match (site, e) {
            (Some(i), MaskError::NoSuchGroup { .. }) => format!("masking.rules[{i}].group"),
            (Some(i), MaskError::DuplicateName { .. }) => format!("masking.rules[{i}].name"),
            (Some(i), _) => format!("masking.rules[{i}].pattern"),
            (None, MaskError::InvalidField { .. }) => "masking.fields".to_string(),
            (None, _) => "masking".to_string(),
        };
        Problem::new(key, e)
    }
}

/// A site's list with `"..."` standing for the pack's: replaced by it, or the pack's list when
/// the site gives none.
fn with_pack(given: &[String], pack: Vec<String>) -> Vec<String> {
    if given.is_empty() {
        return pack;
    }
    let mut out = Vec::new();
    for item in given {
        if item == config::PACK_LIST {
            out.extend(pack.iter().cloned());
        } else if !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}

/// Builds the packs plus the site's fields and rules (unscoped ones, and the scoped ones whose
/// indices `scope` lists), compiled.
fn build(m: &config::Masking, scope: &Scope) -> Result<Masker, Problem> {
    rule_set(m, scope)?
        .compile()
        .map_err(|e| Problem::compiling(m, &e))
}

/// The rule set [`build`] compiles.
fn rule_set(m: &config::Masking, scope: &Scope) -> Result<RuleSet, Problem> {
    let mut set = RuleSet::new();
    for (i, pack) in m.packs.iter().enumerate() {
        match pack.as_str() {
            "hipaa" => {
                let defaults = HipaaOptions::default();
                let options = HipaaOptions {
                    mrn_labels: with_pack(&m.mrn_labels, defaults.mrn_labels),
                    account_labels: with_pack(&m.account_labels, defaults.account_labels),
                    member_labels: with_pack(&m.member_labels, defaults.member_labels),
                    ipv4: m.ipv4,
                };
                set.merge(&RuleSet::hipaa_with(&options));
            }
            "gdpr" => set.merge(&RuleSet::gdpr()),
            other => {
                return Err(Problem::new(
                    format!("masking.packs[{i}]"),
                    format!("unknown pack {other:?}"),
                ))
            }
        }
    }
    if !m.fields.is_empty() {
        let pack_fields = set.fields().to_vec();
        let mut fields: Vec<Field> = Vec::new();
        for (i, f) in m.fields.iter().enumerate() {
            if f.is_scoped() && !scope.1.contains(&i) {
                continue;
            }
            if f.name() == config::PACK_LIST {
                fields.extend(pack_fields.iter().cloned());
            } else {
                fields.push(Field::custom(f.name()));
            }
        }
        set.set_fields(fields);
    }
    for (i, r) in m.rules.iter().enumerate() {
        // A rule not in effect here changes nothing: in particular a scoped rule named like a
        // pack rule replaces (or switches off) the pack rule only where the scope applies.
        let scoped = !(r.targets.is_empty() && r.roles.is_empty());
        if scoped && !scope.0.contains(&i) {
            continue;
        }
        // A rule with only a name and `enabled = false` switches a pack rule off.
        if r.pattern.is_empty() {
            if !set.set_enabled(&r.name, r.enabled) {
                return Err(Problem::new(
                    format!("masking.rules[{i}].pattern"),
                    format!(
                        "rule {:?} has no pattern, and no pack rule of that name to switch",
                        r.name
                    ),
                ));
            }
            continue;
        }
        let mut rule = Rule::custom(r.name.clone(), r.pattern.clone()).enabled(r.enabled);
        if let Some(g) = r.group {
            rule = rule.with_group(g);
        }
        if let Some(v) = &r.validator {
            let v: Validator = v
                .parse()
                .map_err(|e| Problem::new(format!("masking.rules[{i}].validator"), e))?;
            rule = rule.with_validator(v);
        }
        set.replace(rule);
    }
    Ok(set)
}

/// Whether an exec command is a file transfer (legacy scp, rsync): its bytes are data, not
/// something a person reads, so it is never masked and its content is not recorded.
///
/// Only a plain command line counts: shell syntax after the program (`scp; bash -i # -t`)
/// could run anything, unrecorded and unmasked, so a command with any of it is not a transfer.
/// Single-quoted words (how scp quotes remote paths) and globs are fine: they run nothing.
pub fn is_transfer_command(command: &[u8]) -> bool {
    let Some(words) = std::str::from_utf8(command).ok().and_then(plain_words) else {
        return false;
    };
    let Some(first) = words.first() else {
        return false;
    };
    let prog = first.rsplit('/').next().unwrap_or(first);
    match prog {
        "scp" => words.iter().any(|a| a == "-t" || a == "-f"),
        "rsync" => words.iter().any(|a| a == "--server"),
        _ => false,
    }
}

/// The words of a command line that only names a program and its arguments (quotes removed),
/// or `None` if the shell would do more with it: separators, pipes, redirections,
/// substitutions, expansions of `$`, comments.
fn plain_words(cmd: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => w.push(c),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).push(chars.next()?),
            '#' if word.is_none() => return None,
            ';' | '|' | '&' | '$' | '`' | '(' | ')' | '<' | '>' | '"' | '\n' | '\r' => return None,
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Some(words)
}

/// Masks a short text (a command line, a name a client chose) in one go.
pub fn mask_text(masker: &Masker, text: &str) -> String {
    String::from_utf8_lossy(&masker.mask(text.as_bytes())).into_owned()
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
        // How scp quotes remote paths, and globs: still transfers.
        assert!(is_transfer_command(b"scp -t -- '/tmp/a b; c'"));
        assert!(is_transfer_command(b"scp -f -- /data/*.csv"));
        assert!(is_transfer_command(b"scp -f -- it\\'s"));
        // Anything the shell would run besides the transfer: not one.
        for cmd in [
            &b"scp; exec bash -il # -t"[..],
            b"scp -t x && cat /data/pt.csv",
            b"rsync x --server || cat /data/pt.csv",
            b"scp -f $(cat /data/pt.csv)",
            b"scp -f `id`",
            b"scp -t x > /dev/null; cat y",
            b"scp -t x\ncat y",
            b"scp -f \"$HOME\"",
            b"scp -t 'unterminated",
            b"# scp -t",
        ] {
            assert!(
                !is_transfer_command(cmd),
                "{}",
                String::from_utf8_lossy(cmd)
            );
        }
    }

    fn rule(name: &str, pattern: &str) -> config::MaskRule {
        config::MaskRule {
            name: name.into(),
            pattern: pattern.into(),
            group: None,
            validator: None,
            enabled: true,
            targets: vec![],
            roles: vec![],
        }
    }

    #[test]
    fn site_rules_add_and_bad_rules_are_named() {
        let mut m = config::Masking::default();
        let mut badge = rule("site-badge", r"(?i)badge[:# ]{0,3}([A-Z]{2}\d{6})");
        badge.group = Some(1);
        m.rules.push(badge);
        let maskers = Maskers::new(&m).unwrap();
        assert_eq!(
            maskers.all().mask(b"badge: AB123456 ok"),
            b"badge: ******** ok"
        );
        assert_eq!(maskers.all().mask(b"SSN 123-45-6789"), b"SSN ***-**-****");
        m.rules.push(rule("nope", r"\d+"));
        let err = Maskers::new(&m).err().unwrap().to_string();
        assert!(
            err.starts_with("masking.rules[1].pattern: masking rule `nope`"),
            "{err}"
        );
        m.rules[1] = rule("ssn", r"SSN (\d{9})");
        m.rules[1].group = Some(2);
        let err = Maskers::new(&m).err().unwrap().to_string();
        assert!(err.starts_with("masking.rules[1].group: "), "{err}");
        m.rules[1] = rule("npi", "");
        m.rules[1].enabled = true;
        m.rules[1].name = "no-such-pack-rule".into();
        let err = Maskers::new(&m).err().unwrap().to_string();
        assert!(err.starts_with("masking.rules[1].pattern: "), "{err}");
    }

    #[test]
    fn scoped_rules_apply_only_where_configured() {
        let config = config::Config::parse(
            r#"
[server]
listen = "127.0.0.1:0"
host_key = "k"
[ca]
user_ca = "u"
target_ca = "t"
[[targets]]
name = "lab1"
host = "h"
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli"
default_login = "root"
labels = { kind = "lab" }
[[targets]]
name = "web1"
host = "h"
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli"
default_login = "root"
[[roles]]
name = "ops"
principals = ["ops"]
targets = ["*"]
[[masking.rules]]
name = "specimen"
pattern = 'SPC-\d{6}'
targets = ["kind=lab"]
[[masking.rules]]
name = "ssn"
pattern = 'SSN#\d{9}'
targets = ["kind=lab"]
"#,
            "t",
        )
        .unwrap();
        let maskers = Maskers::new(&config.masking).unwrap();
        let ops = vec!["ops".to_string()];
        let lab = crate::policy::resolve(&config, &ops, "lab1", None).unwrap();
        let web = crate::policy::resolve(&config, &ops, "web1", None).unwrap();
        assert_eq!(maskers.for_access(&lab).mask(b"SPC-123456"), b"***-******");
        assert_eq!(maskers.for_access(&web).mask(b"SPC-123456"), b"SPC-123456");
        assert_eq!(
            maskers.for_access(&web).mask(b"SSN 123-45-6789"),
            b"SSN ***-**-****"
        );
        // A scoped rule named like a pack rule replaces it only where the scope applies.
        assert_eq!(
            maskers.for_access(&lab).mask(b"SSN#123456789"),
            b"SSN#*********"
        );
        assert_eq!(
            maskers.for_access(&web).mask(b"id 123-45-6789"),
            b"id ***-**-****"
        );
        assert_eq!(
            maskers.for_access(&lab).mask(b"id 123-45-6789"),
            b"id 123-45-6789"
        );
    }

    #[test]
    fn fields_extend_or_replace_the_packs_and_may_be_scoped() {
        let config = config::Config::parse(
            r#"
[server]
listen = "127.0.0.1:0"
host_key = "k"
[ca]
user_ca = "u"
target_ca = "t"
[[targets]]
name = "db1"
host = "h"
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli"
default_login = "root"
labels = { kind = "db" }
[[targets]]
name = "web1"
host = "h"
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli"
default_login = "root"
[[roles]]
name = "ops"
principals = ["ops"]
targets = ["*"]
[masking]
packs = ["hipaa", "gdpr"]
mrn_labels = ["...", "PT-"]
fields = ["...", "emergency_contact*", { name = "notes", targets = ["kind=db"] }]
"#,
            "t",
        )
        .unwrap();
        let maskers = Maskers::new(&config.masking).unwrap();
        let ops = vec!["ops".to_string()];
        let db = crate::policy::resolve(&config, &ops, "db1", None).unwrap();
        let web = crate::policy::resolve(&config, &ops, "web1", None).unwrap();
        let table = b"id,name,notes,emergency_contact_phone\n1,Jane,calm,5550101\n";
        assert_eq!(
            maskers.for_access(&db).mask(table),
            b"id,name,notes,emergency_contact_phone\n1,****,****,*******\n"
        );
        assert_eq!(
            maskers.for_access(&web).mask(table),
            b"id,name,notes,emergency_contact_phone\n1,****,calm,*******\n"
        );
        // The gdpr pack and the extended MRN labels.
        assert_eq!(
            maskers
                .for_access(&web)
                .mask(b"iban GB82 WEST 1234 5698 7654 32, chart PT-884213"),
            b"iban **** **** **** **** **** **, chart PT-******"
        );
        // Replacing the list: only the site's fields.
        let m = config::Masking {
            fields: vec![config::FieldEntry::Name("diagnosis".into())],
            ..Default::default()
        };
        let maskers = Maskers::new(&m).unwrap();
        assert_eq!(
            maskers.all().mask(b"name,diagnosis\nJane,flu\n"),
            b"name,diagnosis\nJane,***\n"
        );
    }
}
