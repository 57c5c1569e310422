//! What a compiled rule set is: the automata and facts every stream of it shares.

use std::sync::OnceLock;

use regex_automata::hybrid;
use regex_automata::hybrid::dfa::DFA;
use regex_automata::meta;
use regex_automata::{Input, Match, MatchKind};
use regex_syntax::hir::Hir;

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
    pub(crate) captures: Option<LazyRegex>,
    /// Longest match of this rule: bounds its anchored searches (the capture engine clears
    /// state in proportion to the span it is given).
    pub(crate) max_len: usize,
    /// A labelled-field rule: its group 1 is the key (named in hits).
    pub(crate) labelled: bool,
    /// Matches count only after text (see `Rule::after_text`).
    pub(crate) after_text: bool,
}

/// How every regex of a rule set is configured.
pub(crate) fn meta_builder() -> meta::Builder {
    let mut builder = meta::Regex::builder();
    builder.configure(
        meta::Config::new()
            .match_kind(MatchKind::LeftmostFirst)
            .utf8_empty(false)
            // The streamer runs its own prefilter and only searches windows that contain a
            // prefilter byte, where a second one would fire on nearly every byte.
            .auto_prefilter(false),
    );
    builder
}

/// One rule's own regex, compiled when first needed: most rule sets see a capture search of
/// few of their rules, if any, and each such regex (forward and reverse automata) costs as much
/// memory and startup time as the rule's share of the combined automaton.
#[derive(Debug)]
pub(crate) struct LazyRegex {
    hir: Hir,
    regex: OnceLock<Option<meta::Regex>>,
}

impl LazyRegex {
    pub(crate) fn new(hir: Hir) -> LazyRegex {
        LazyRegex {
            hir,
            regex: OnceLock::new(),
        }
    }

    /// The regex; `None` only if it does not build, which cannot happen when the combined
    /// automaton holding the same pattern did (callers then mask the whole match).
    pub(crate) fn get(&self) -> Option<&meta::Regex> {
        self.regex
            .get_or_init(|| meta_builder().build_from_hir(&self.hir).ok())
            .as_ref()
    }
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
    /// All enabled patterns, leftmost-first: finds matches. Lazy DFAs that never give up, so
    /// a search cannot fail (see [`Engine::search`]).
    pub(crate) regex: hybrid::regex::Regex,
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
            // Made on first use, like the regexes they serve.
            groups: self.rules.iter().map(|_| None).collect(),
            settled: Default::default(),
        })
    }

    /// The leftmost-first match in `input`, if any.
    pub(crate) fn search(&self, caches: &mut Caches, input: &Input<'_>) -> Option<Match> {
        // Cannot fail: no quit bytes (patterns have no Unicode word boundary, which the
        // liveness DFA would have refused), caches never given up on, a start state for each
        // pattern. Were it to fail, no match is what a search that never ran finds.
        self.regex
            .try_search(&mut caches.cache, input)
            .ok()
            .flatten()
    }

    /// Gives caches taken with [`Engine::take_caches`] back to the pool.
    pub(crate) fn give_back_caches(&self, caches: Box<Caches>) {
        self.caches.give_back(caches);
    }
}
