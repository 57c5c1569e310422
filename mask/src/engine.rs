//! What a compiled rule set is: the automata and facts every stream of it shares.

use regex_automata::hybrid::dfa::DFA;
use regex_automata::meta;

use crate::byteset::Scanner;
use crate::caches::{CachePool, Caches};
use crate::rule::RuleSource;
use crate::structure::Grammar;
use crate::validate::Validator;

/// An enabled rule after compilation; its index is its pattern ID in the automaton.
#[derive(Debug)]
pub(crate) struct CompiledRule {
    pub(crate) name: String,
    pub(crate) group: Option<usize>,
    pub(crate) validator: Option<Validator>,
    /// This rule alone, for locating its capture group. A separate small automaton because
    /// the capture engines' cost grows with the size of the automaton they run.
    pub(crate) captures: Option<meta::Regex>,
    /// Longest match of this rule: bounds its anchored searches (the capture engine clears
    /// state in proportion to the span it is given).
    pub(crate) max_len: usize,
    /// A labelled-field rule: its group 1 is the key (named in hits).
    pub(crate) labelled: bool,
    /// Matches count only after text (see `Rule::after_text`).
    pub(crate) after_text: bool,
}

/// What `bastion config check --masking` shows for one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSummary {
    /// Rule name.
    pub name: String,
    /// Pack or custom.
    pub source: RuleSource,
    /// Whether the rule takes part in masking.
    pub enabled: bool,
    /// Longest possible match in bytes; `None` for a disabled rule whose pattern does not
    /// compile.
    pub max_len: Option<usize>,
    /// Masked capture group, if not the whole match.
    pub group: Option<usize>,
    /// Validator run on candidates.
    pub validator: Option<Validator>,
}

/// Everything shared, read-only, by all streams of one rule set.
#[derive(Debug)]
pub(crate) struct Engine {
    /// Enabled rules, indexed by pattern ID.
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) summary: Vec<RuleSummary>,
    /// All enabled patterns, leftmost-first: finds matches (with captures when needed).
    pub(crate) regex: meta::Regex,
    /// The same patterns as a lazy DFA driven byte by byte: decides whether a match that
    /// started at some position could still be completed by bytes not yet seen. It follows
    /// every pattern (`MatchKind::All`), not only the preferred one: when a validator rejects
    /// the preferred match (a 13-digit run failing Luhn), a lower-priority pattern at the same
    /// place (an e-mail address starting with those digits) takes over, and it must have been
    /// waited for.
    pub(crate) dfa: DFA,
    /// Finds bytes that every match must contain (prefilter).
    pub(crate) scanner: Scanner,
    /// Longest match of any enabled rule (0 without rules).
    pub(crate) max_len: usize,
    /// Search caches not in use (see [`Caches`]).
    pub(crate) caches: CachePool,
    /// What the structure tracker reads by: field names, formats.
    pub(crate) grammar: Grammar,
}

impl Engine {
    /// A set of search caches for this engine: an idle one from the pool, or a new one.
    pub(crate) fn take_caches(&self) -> Box<Caches> {
        self.caches.take(|id| Caches {
            id,
            cache: self.regex.create_cache(),
            dfa: self.dfa.create_cache(),
            groups: self
                .rules
                .iter()
                .map(|r| {
                    r.captures
                        .as_ref()
                        .map(|re| (re.create_cache(), re.create_captures()))
                })
                .collect(),
            settled: Default::default(),
        })
    }

    /// Gives caches taken with [`Engine::take_caches`] back to the pool.
    pub(crate) fn give_back_caches(&self, caches: Box<Caches>) {
        self.caches.give_back(caches);
    }
}
