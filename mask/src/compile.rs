//! Turning rules into one multi-pattern automaton plus the facts the streamer needs.

use std::collections::HashSet;
use std::sync::Arc;

use regex_automata::hybrid::dfa::DFA;
use regex_automata::hybrid::regex;
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::MatchKind;
use regex_syntax::hir::Hir;

use crate::byteset::{ByteSet, Scanner};
use crate::engine::{CompiledRule, Engine, LazyRegex, RuleSummary};
use crate::error::MaskError;
use crate::fields::{Field, FieldSet};
use crate::labelled;
use crate::masker::Masker;
use crate::required::required_bytes;
use crate::rule::{Rule, RuleSource};
use crate::rule_set::RuleSet;
use crate::structure::{Formats, Grammar};

/// Longest match any rule may have, in bytes. It bounds how much visible text a stream holds
/// back (and so its memory); 1 KiB is far beyond any identifier and keeps the hold small.
pub const MAX_MATCH_LEN: usize = 1024;

fn parse(rule: &Rule) -> Result<Hir, MaskError> {
    regex_syntax::ParserBuilder::new()
        // ASCII classes and byte-oriented matching: identifiers are ASCII, the DFA stays small,
        // and terminal output is not guaranteed to be valid UTF-8.
        .unicode(false)
        .utf8(false)
        .nest_limit(64)
        .build()
        .parse(&rule.pattern)
        .map_err(|e| MaskError::InvalidPattern {
            rule: rule.name.clone(),
            message: e.to_string(),
        })
}

/// Checks one rule and returns its HIR and longest match length.
fn analyse(rule: &Rule) -> Result<(Hir, usize), MaskError> {
    let hir = parse(rule)?;
    let props = hir.properties();
    let max_len = props.maximum_len().ok_or_else(|| MaskError::Unbounded {
        rule: rule.name.clone(),
    })?;
    if props.minimum_len() == Some(0) {
        return Err(MaskError::EmptyMatch {
            rule: rule.name.clone(),
        });
    }
    if max_len > MAX_MATCH_LEN {
        return Err(MaskError::TooLong {
            rule: rule.name.clone(),
            max_len,
            limit: MAX_MATCH_LEN,
        });
    }
    let groups = props.explicit_captures_len();
    if let Some(group) = rule.group {
        if group > groups {
            return Err(MaskError::NoSuchGroup {
                rule: rule.name.clone(),
                group,
                groups,
            });
        }
    }
    Ok((hir, max_len))
}

/// The union of each rule's required bytes. Chosen in two passes so that a rule prefers bytes
/// other rules already need (`-` alone would do for `\d{3}-\d{2}-\d{4}`, but the digits are
/// scanned for anyway).
fn prefilter_set(hirs: &[Hir]) -> ByteSet {
    let first: Vec<Option<ByteSet>> = hirs
        .iter()
        .map(|h| required_bytes(h, &ByteSet::empty()))
        .collect();
    let mut union = ByteSet::empty();
    for (i, hir) in hirs.iter().enumerate() {
        let mut others = ByteSet::empty();
        for set in first
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .filter_map(|(_, s)| s.as_ref())
        {
            others.union(set);
        }
        match required_bytes(hir, &others) {
            Some(set) => union.union(&set),
            None => return ByteSet::full(),
        }
    }
    union
}

impl RuleSet {
    /// Compiles the enabled rules into one automaton.
    ///
    /// # Errors
    ///
    /// A [`MaskError`] naming the first offending rule: invalid or unbounded pattern, pattern
    /// matching empty text, missing group, duplicate name; or [`MaskError::Build`] when the
    /// combined automaton exceeds the engine's size limits.
    pub fn compile(&self) -> Result<Masker, MaskError> {
        compile(self.rules(), self.fields(), self.formats())
    }
}

fn compile(rules: &[Rule], fields: &[Field], formats: Formats) -> Result<Masker, MaskError> {
    let fields = FieldSet::build(fields)?;
    let mut names = HashSet::new();
    for rule in rules {
        if rule.name.is_empty() {
            return Err(MaskError::EmptyName);
        }
        if !names.insert(rule.name.as_str()) {
            return Err(MaskError::DuplicateName {
                rule: rule.name.clone(),
            });
        }
    }

    let mut hirs = Vec::new();
    let mut compiled = Vec::new();
    let mut summary = Vec::new();
    let mut max_len = 0;
    for rule in rules {
        let len = if rule.enabled {
            let (hir, len) = analyse(rule)?;
            max_len = max_len.max(len);
            // Group 0 is the whole match; normalise so the hot path needs no captures.
            let group = rule.group.filter(|&g| g != 0);
            let captures = group.map(|_| LazyRegex::new(hir.clone()));
            hirs.push(hir);
            compiled.push(CompiledRule {
                name: rule.name.clone(),
                group,
                validator: rule.validator,
                captures,
                max_len: len,
                labelled: rule.source == RuleSource::Fields && labelled::is_labelled(&rule.name),
                after_text: rule.after_text,
            });
            Some(len)
        } else {
            analyse(rule).ok().map(|(_, len)| len)
        };
        summary.push(RuleSummary {
            name: rule.name.clone(),
            source: rule.source.clone(),
            enabled: rule.enabled,
            max_len: len,
            group: rule.group,
            validator: rule.validator,
        });
    }

    let required = prefilter_set(&hirs);
    let build = |e: &dyn std::fmt::Display| MaskError::Build {
        message: e.to_string(),
    };
    // One forward automaton serves both lazy DFAs: the search (leftmost-first) and the
    // liveness check (every pattern). The search finds where a match starts with a reverse
    // automaton, as a regex does; unlike a `meta::Regex`, it needs no capture engines (capture
    // groups are located by each rule's own regex), whose caches and copy of the automaton
    // would cost as much memory again.
    let thompson = thompson::Config::new()
        .utf8(false)
        .which_captures(WhichCaptures::None);
    let nfa = thompson::Compiler::new()
        .configure(thompson.clone())
        .build_many_from_hir(&hirs)
        .map_err(|e| build(&e))?;
    let nfarev = thompson::Compiler::new()
        .configure(thompson.reverse(true))
        .build_many_from_hir(&hirs)
        .map_err(|e| build(&e))?;
    // Never give up: neither lazy DFA has a slower fallback, and a rebuilt cache only costs
    // time.
    let forward = DFA::builder()
        .configure(
            DFA::config()
                .match_kind(MatchKind::LeftmostFirst)
                // Anchored searches of one pattern (`Anchored::Pattern`).
                .starts_for_each_pattern(true)
                .minimum_cache_clear_count(None),
        )
        .build_from_nfa(nfa.clone())
        .map_err(|e| build(&e))?;
    let reverse = DFA::builder()
        .configure(
            DFA::config()
                .match_kind(MatchKind::All)
                .minimum_cache_clear_count(None),
        )
        .build_from_nfa(nfarev)
        .map_err(|e| build(&e))?;
    let regex = regex::Builder::new().build_from_dfas(forward, reverse);
    let dfa = DFA::builder()
        .configure(
            DFA::config()
                .match_kind(MatchKind::All)
                .minimum_cache_clear_count(None),
        )
        .build_from_nfa(nfa)
        .map_err(|e| build(&e))?;

    Ok(Masker::new(Arc::new(Engine {
        rules: compiled,
        summary,
        regex,
        dfa,
        scanner: Scanner::new(&required),
        max_len,
        caches: Default::default(),
        grammar: Grammar::new(fields, formats),
    })))
}

#[cfg(test)]
mod memory {
    use crate::RuleSet;

    /// What the compiled default rule set holds, per object (`--ignored --nocapture`).
    #[test]
    #[ignore]
    fn breakdown() {
        let t = std::time::Instant::now();
        let m = RuleSet::hipaa().compile().unwrap();
        let took = t.elapsed();
        let e = m.engine();
        println!("compile: {took:?}");
        println!(
            "regex: forward nfa {} reverse nfa {}",
            e.regex.forward().get_nfa().memory_usage(),
            e.regex.reverse().get_nfa().memory_usage()
        );
        println!(
            "dfa: {} nfa {} states {}",
            e.dfa.memory_usage(),
            e.dfa.get_nfa().memory_usage(),
            e.dfa.get_nfa().states().len()
        );
        for r in RuleSet::hipaa().rules() {
            let hir = super::parse(r).unwrap();
            for rev in [false, true] {
                let nfa = regex_automata::nfa::thompson::Compiler::new()
                    .configure(
                        regex_automata::nfa::thompson::Config::new()
                            .utf8(false)
                            .reverse(rev)
                            .which_captures(regex_automata::nfa::thompson::WhichCaptures::None),
                    )
                    .build_from_hir(&hir)
                    .unwrap();
                println!(
                    "nfa {} rev={rev}: {} states, {} bytes",
                    r.name,
                    nfa.states().len(),
                    nfa.memory_usage()
                );
            }
        }
        let mut total = 0;
        for r in &e.rules {
            if let Some(re) = r.captures.as_ref().and_then(|c| c.get()) {
                println!("captures {}: {}", r.name, re.memory_usage());
                total += re.memory_usage();
            }
        }
        println!("captures total: {total}");
        let c = e.take_caches();
        println!("cache regex: {}", c.cache.memory_usage());
        println!("cache dfa: {}", c.dfa.memory_usage());
        let g: usize = c
            .groups
            .iter()
            .flatten()
            .map(|(c, _)| c.memory_usage())
            .sum();
        println!("cache groups: {g}");
    }
}
