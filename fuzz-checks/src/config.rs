//! The configuration loader: TOML, the typed schema, validation (globs, approval regexes, host
//! keys), and each site masking rule compiled as the bastion compiles it.

use config::{Config, ConfigError};
use mask::{Rule, RuleSet, Validator};

/// Parses `data` as a configuration file.
pub fn check(data: &[u8]) {
    // `Config::load` reads the file as UTF-8 and refuses anything else before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse(text, "fuzz.toml") {
        Ok(config) => {
            for rule in &config.masking.rules {
                compile_alone(rule);
            }
        }
        Err(ConfigError::Invalid { problems, .. }) => {
            // An error points at a line of the file, never past it (an error at the very end
            // of a file that ends in a newline is on the empty line after it).
            let lines = text.matches('\n').count() + 1;
            for p in &problems {
                if let Some(line) = p.line {
                    assert!(
                        (1..=lines).contains(&line),
                        "{} points at line {line} of {lines}",
                        p.render("fuzz.toml")
                    );
                }
            }
        }
        Err(e) => panic!("parsing gave neither a configuration nor problems: {e}"),
    }
}

/// A site rule compiles, or is refused with an error, on its own.
fn compile_alone(r: &config::MaskRule) {
    if r.pattern.is_empty() {
        return;
    }
    let mut rule = Rule::custom(r.name.clone(), r.pattern.clone()).enabled(r.enabled);
    if let Some(g) = r.group {
        rule = rule.with_group(g);
    }
    if let Some(v) = &r.validator {
        let Ok(v) = v.parse::<Validator>() else {
            return;
        };
        rule = rule.with_validator(v);
    }
    let mut set = RuleSet::new();
    if set.push(rule).is_ok() {
        let _ = set.compile().map(|m| m.mask(b"fuzz 123-45-6789"));
    }
}
