//! The streaming engine shared by the recording and live maskers.
//!
//! # How a stream is processed
//!
//! Raw bytes are appended to `raw`; the escape parser copies the visible ones to `vis` and
//! records where they came from in `map`. Where a sequence moves the cursor, `vis` gets a line
//! break that stands for no raw byte (a separator), so text drawn apart is matched apart.
//! Matching happens on `vis` only; output is always the raw bytes with masks applied.
//!
//! The *hold point* `H` is the earliest visible position where a match could start that might
//! still depend on bytes not yet received: the lazy DFA, anchored at `H`, is not dead after
//! consuming everything up to the end. Any match starting before `H` is fully decided by what
//! has been seen, so the search commits matches starting before `H`, then every raw byte before
//! `H` is released. Because a match is at most `max_len` bytes long, `H >= end - max_len`: at
//! most `max_len` visible bytes are ever held.
//!
//! The search itself is skipped over clean text: every match contains a byte of the prefilter
//! set, so only windows within `max_len` of such bytes are searched. Matches are taken
//! leftmost-first, non-overlapping, exactly as a one-shot search over the whole stream would
//! take them; since every decision waits until it cannot change, the output is the same for
//! every chunking of the input.

use std::sync::Arc;

use escape::{EscapeParser, Piece};
use regex_automata::hybrid::dfa::Cache as DfaCache;
use regex_automata::hybrid::LazyStateID;
use regex_automata::{Anchored, Input, PatternID, Span};

use crate::caches::{Caches, Settled};
use crate::engine::{CompiledRule, Engine};
use crate::hit::Hit;
use crate::posmap::PosMap;
use crate::structure::{Span as StructSpan, Structure};

mod ops;
mod payload;

use self::ops::{push_mask, MaskOp};
use self::payload::OpenString;
pub use self::payload::MAX_STRING_SCANNED;

/// What a separator (a sequence that moves the cursor, see the `escape` crate) is in the visible
/// text: a line break, which is what such sequences stand for on a screen; rules that allow
/// whitespace between a label and its value (`MRN:`, then the number placed after a cursor
/// move) still see them together. It maps to no raw byte, so it is never masked nor released.
const SEPARATOR: u8 = b'\n';

/// What may come before a match of a rule that counts only after text: a space, a line break,
/// punctuation that ends a word.
const AFTER_TEXT: &[u8] = b" \t\n\r<(:,;\"'[=/|>&?.{";

/// Visible text dropped at once when it is no longer needed (see `trim`).
const TRIM_AT: usize = 4096;

/// Raw bytes a stream may hold back. Visible text held is bounded by the longest match, but
/// escape sequences interleaved in it are not; past this, held text is masked wholesale and
/// released (fail closed) rather than growing without bound.
pub const MAX_HELD_BYTES: usize = 64 * 1024;

/// Where the hold point is, and the DFA state reached from it (so that each new byte costs one
/// DFA step instead of a rescan from the hold point).
#[derive(Debug, Clone, Copy)]
struct Hold {
    /// Visible offset of the hold point.
    at: u64,
    /// Invariant when `tracking`: `state` is the anchored DFA state after consuming
    /// `vis[at..consumed]` in the caches with the stamp `stamp` (see [`Core::cache_stamp`]),
    /// and it is not dead.
    tracking: bool,
    state: LazyStateID,
    consumed: u64,
    stamp: (u64, usize),
}

impl Hold {
    fn start() -> Hold {
        Hold {
            at: 0,
            tracking: false,
            state: LazyStateID::default(),
            consumed: 0,
            stamp: (u64::MAX, 0),
        }
    }
}

/// Streaming state for one byte stream.
#[derive(Debug)]
pub(crate) struct Core {
    engine: Arc<Engine>,
    /// Taken from the engine's pool while a chunk is processed; `None` in between. Boxed: a
    /// stream that holds none should not carry their size.
    caches: Option<Box<Caches>>,
    esc: EscapeParser,
    /// Raw bytes not yet released. Invariant: `raw[0]` is raw offset `raw_base`.
    raw: Vec<u8>,
    raw_base: u64,
    /// Visible text. Invariant: `vis[0]` is visible offset `vis_base`, and `vis` covers at
    /// least `[pos - 1, end)` so the byte before the search position is there for `\b`.
    vis: Vec<u8>,
    vis_base: u64,
    map: PosMap,
    /// Next visible offset to search from. Invariant: no match starts in `[.., pos)` that has
    /// not been committed.
    pos: u64,
    hold: Hold,
    /// Pending replacements, sorted by raw offset.
    masks: Vec<MaskOp>,
    /// Visible text before this offset has been released (only the live masker's deadline or
    /// the held-bytes cap release text past the hold point); masks there can no longer apply.
    released_vis: u64,
    /// Hits, recorded only for `mask_test`.
    hits: Option<Vec<Hit>>,
    /// A raw offset whose place in the output is wanted, and that place once released (index
    /// into the `out` of the call that released it).
    mark: Option<(u64, Option<usize>)>,
    /// The string payload being received; its bytes are held until it ends.
    string: Option<OpenString>,
    /// Payloads that ended in the chunk being ingested (reused buffer).
    ended: Vec<OpenString>,
    /// Matches each payload as a stream of its own (payloads hold no ESC, so no strings).
    payloads: Option<Box<Core>>,
    payload_out: Vec<u8>,
    /// Where PHI sits by structure (table columns, keys, HL7 fields): read from `vis` as it
    /// grows; its spans are masked like matches. Visible text it may still read, and raw
    /// bytes it may still mask, are kept (see `trim` and `push`).
    structure: Structure,
    /// The tracker's spans of one call (reused buffer).
    spans: Vec<StructSpan>,
}

/// Outcome of trying one rule at one place.
enum Tried {
    /// Masked; the search goes on from here.
    Masked(u64),
    NoMatch,
    /// The match must wait for the rest of its last character.
    Wait,
}

/// Outcome of running the anchored DFA over some bytes.
enum Run {
    Live(LazyStateID),
    Dead,
    /// The lazy DFA could not answer, or its cache was cleared while the final state was
    /// examined (the state ID is then stale); treated as live, which only holds bytes longer,
    /// and found again next time.
    Unknown,
}

impl Core {
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        let structure = Structure::new(&engine.grammar);
        Core {
            engine,
            caches: None,
            esc: EscapeParser::default(),
            raw: Vec::new(),
            raw_base: 0,
            vis: Vec::new(),
            vis_base: 0,
            map: PosMap::default(),
            pos: 0,
            hold: Hold::start(),
            masks: Vec::new(),
            released_vis: 0,
            hits: None,
            mark: None,
            string: None,
            ended: Vec::new(),
            payloads: None,
            payload_out: Vec::new(),
            structure,
            spans: Vec::new(),
        }
    }

    /// This stream's caches, taken from the pool on first use in a call.
    fn caches(&mut self) -> &mut Caches {
        caches_in(&mut self.caches, &self.engine)
    }

    /// Which caches this stream holds and how often their lazy DFA has been cleared: a state
    /// ID means nothing in other caches, nor in the same ones once cleared (another stream may
    /// have filled them meanwhile).
    fn cache_stamp(&mut self) -> (u64, usize) {
        let c = self.caches();
        (c.id, c.dfa.clear_count())
    }

    /// Gives the caches back at the end of a call.
    fn put_caches(&mut self) {
        if let Some(c) = self.caches.take() {
            self.engine.give_back_caches(c);
        }
    }

    /// Asks where raw offset `raw` lands in the output of the next calls (see
    /// [`Core::marked`]).
    pub(crate) fn set_mark(&mut self, raw: u64) {
        self.mark = Some((raw, None));
    }

    /// The index in `out` where the marked raw offset begins, once it has been released;
    /// clears the mark.
    pub(crate) fn marked(&mut self) -> Option<usize> {
        self.mark.take().and_then(|(_, at)| at)
    }

    /// Held raw bytes from raw offset `from` on, as they are.
    pub(crate) fn held_from(&self, from: u64) -> &[u8] {
        let i = from.saturating_sub(self.raw_base) as usize;
        self.raw.get(i..).unwrap_or_default()
    }

    /// Records hits from now on (for `mask_test`).
    pub(crate) fn record_hits(&mut self) {
        self.hits = Some(Vec::new());
        self.structure.record_reasons();
    }

    pub(crate) fn take_hits(&mut self) -> Vec<Hit> {
        self.hits.take().unwrap_or_default()
    }

    /// Bytes received but not yet released.
    pub(crate) fn held(&self) -> usize {
        self.raw.len()
    }

    /// Raw offset one past the last byte received.
    pub(crate) fn raw_end(&self) -> u64 {
        self.raw_base + self.raw.len() as u64
    }

    /// Raw offset of the first byte not yet released.
    pub(crate) fn raw_released(&self) -> u64 {
        self.raw_base
    }

    fn vis_end(&self) -> u64 {
        self.vis_base + self.vis.len() as u64
    }

    /// Index into `vis` of visible offset `abs`.
    fn vi(&self, abs: u64) -> usize {
        // `abs - vis_base` is at most `vis.len()`, which fits in usize.
        (abs - self.vis_base) as usize
    }

    /// Takes a chunk, appends every byte that is now decided to `out` (masked).
    pub(crate) fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if chunk.is_empty() {
            return;
        }
        self.ingest(chunk);
        self.read_structure(false);
        self.scan(false);
        // Never the first bytes of a character alone: a match may still start inside it (a
        // rule beginning with `.`), and its mask covers the whole character. Nor what the
        // structure tracker has yet to decide about.
        let upto = self.vis_base + self.uncut(self.vi(self.pos)) as u64;
        let upto = upto.min(self.structure.pending().max(self.vis_base));
        self.release(upto, out);
        if self.raw.len() > MAX_HELD_BYTES {
            self.force_release(true, out);
        }
        self.trim();
        self.put_caches();
    }

    /// Ends the stream: decides and releases everything.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        // A string cut off by the end of the stream is matched as it is.
        if let Some(open) = self.string.take() {
            self.mask_payload(open);
        }
        self.read_structure(true);
        self.scan(true);
        let end = self.vis_end();
        self.release(end, out);
        self.force_release(false, out);
        self.reset();
        self.put_caches();
    }

    /// Appends to `out` what [`finish`](Core::finish) would release from raw offset `from` on
    /// if the stream ended now; the stream itself goes on untouched. This is what a screen may
    /// show of held bytes when output pauses: a complete identifier there is masked, a prefix
    /// that is no match yet is not. Works on a copy of the state, which is bounded by
    /// [`MAX_HELD_BYTES`]; callers do this once per hold period at most, not per chunk.
    pub(crate) fn settled_from(&self, from: u64, out: &mut Vec<u8>) {
        if from >= self.raw_end() {
            return;
        }
        let mut copy = self.snapshot();
        copy.set_mark(from);
        let mut all = Vec::new();
        copy.finish(&mut all);
        // The mark is always released by `finish`; were it not, showing nothing is the safe
        // way to be wrong.
        if let Some(at) = copy.marked() {
            out.extend_from_slice(all.get(at..).unwrap_or_default());
        }
    }

    /// A copy of the stream's state, without caches (taken from the pool when it runs) and
    /// without what only lives within a call (mark, hits, the payload matcher, which is reset
    /// after each payload).
    fn snapshot(&self) -> Core {
        Core {
            engine: Arc::clone(&self.engine),
            caches: None,
            esc: self.esc.clone(),
            raw: self.raw.clone(),
            raw_base: self.raw_base,
            vis: self.vis.clone(),
            vis_base: self.vis_base,
            map: self.map.clone(),
            pos: self.pos,
            // Its DFA state is tied to caches by a stamp, so it stays sound in any caches;
            // `finish` does not use it anyway.
            hold: self.hold,
            masks: self.masks.clone(),
            released_vis: self.released_vis,
            hits: None,
            mark: None,
            string: self.string,
            ended: Vec::new(),
            payloads: None,
            payload_out: Vec::new(),
            structure: self.structure.clone(),
            spans: Vec::new(),
        }
    }

    /// Starts a new stream, keeping the warmed caches and buffer capacity.
    fn reset(&mut self) {
        self.esc = EscapeParser::default();
        self.raw.clear();
        self.raw_base = 0;
        self.vis.clear();
        self.vis_base = 0;
        self.map = PosMap::default();
        self.pos = 0;
        self.hold = Hold::start();
        self.masks.clear();
        self.released_vis = 0;
        self.string = None;
        self.structure.reset();
    }

    /// Releases every held byte now, whether decided or not. With `mask_held`, every letter
    /// and digit still held is masked first (fail closed); without, it goes out as is (the
    /// live masker's documented trade-off). Matching continues: a match found later that
    /// covers released text masks only its unreleased part.
    pub(crate) fn force_release(&mut self, mask_held: bool, out: &mut Vec<u8>) {
        let end = self.vis_end();
        if mask_held {
            // Held text the tracker has not decided about is masked too.
            let from = self
                .released_vis
                .max(self.pos.min(self.structure.pending()));
            let (s, e) = (self.vi(from), self.vi(end));
            self.mask_span(s, e);
            if let Some(open) = self.string.as_mut() {
                open.wholesale = true;
            }
            self.mask_open_string_wholesale();
        }
        self.release(end, out);
        // Escape bytes after the last visible byte are held too; release them.
        self.release_raw(self.raw_end(), out);
    }

    fn ingest(&mut self, chunk: &[u8]) {
        let raw_start = self.raw_end();
        self.raw.extend_from_slice(chunk);
        let (vis, map) = (&mut self.vis, &mut self.map);
        let (string, ended) = (&mut self.string, &mut self.ended);
        let vis_base = self.vis_base;
        self.esc.feed(chunk, |piece| match piece {
            Piece::Visible(r) => {
                let v = vis_base + vis.len() as u64;
                map.note(v, raw_start + r.start as u64);
                vis.extend_from_slice(&chunk[r]);
            }
            Piece::Separator(at) => separate(vis, vis_base, map, raw_start + at as u64),
            Piece::Payload(r) => {
                let (start, end) = (raw_start + r.start as u64, raw_start + r.end as u64);
                string
                    .get_or_insert(OpenString {
                        start,
                        end,
                        wholesale: false,
                        masked_to: start,
                    })
                    .end = end;
            }
            Piece::StringEnd => ended.extend(string.take()),
            // Not reported by `feed`: only whether a sequence moves the cursor (`Separator`)
            // matters here.
            Piece::CsiStart | Piece::CsiParams(_) | Piece::CsiEnd(_) => {}
        });
        let mut ended = std::mem::take(&mut self.ended);
        for s in ended.drain(..) {
            self.mask_payload(s);
        }
        self.ended = ended;
        if let Some(open) = self.string.as_mut() {
            if open.end - open.start > MAX_STRING_SCANNED as u64 {
                open.wholesale = true;
            }
        }
        self.mask_open_string_wholesale();
    }

    /// Lets the structure tracker read the visible text received, and masks what it finds.
    /// At the end of the stream it decides what it was waiting for.
    fn read_structure(&mut self, eof: bool) {
        if !self.structure.on() {
            return;
        }
        let grammar = &self.engine.grammar;
        if eof {
            self.structure
                .finish(grammar, &self.vis, self.vis_base, &mut self.spans);
        } else {
            self.structure
                .feed(grammar, &self.vis, self.vis_base, &mut self.spans);
        }
        if self.spans.is_empty() {
            return;
        }
        let mut spans = std::mem::take(&mut self.spans);
        for span in spans.drain(..) {
            let s = span.start.max(self.vis_base);
            let e = span.end.min(self.vis_end());
            if s >= e {
                continue;
            }
            let (si, ei) = (self.vi(s), self.vi(e));
            if self.hits.is_some() {
                self.note_hit("structure", si, ei, span.why.as_deref());
            }
            self.mask_span(si, ei);
        }
        self.spans = spans;
    }

    /// Records a hit for `vis[s..e]`, narrowed to what is masked in it (letters, digits,
    /// non-ASCII characters); joined to the last hit when it continues it.
    fn note_hit(&mut self, rule: &str, s: usize, e: usize, reason: Option<&str>) {
        let masked = |b: &u8| b.is_ascii_alphanumeric() || !b.is_ascii();
        let Some(first) = self.vis[s..e].iter().position(masked) else {
            return;
        };
        let last = self.vis[s..e].iter().rposition(masked).unwrap_or(first);
        let (a, b) = (
            self.vis_base + (s + first) as u64,
            self.vis_base + (s + last) as u64,
        );
        let range = self.map.raw(a) as usize..self.map.raw(b) as usize + 1;
        let Some(hits) = self.hits.as_mut() else {
            return;
        };
        if let Some(h) = hits.last_mut() {
            if h.rule == rule && h.reason.as_deref() == reason && h.range.end == range.start {
                h.range.end = range.end;
                return;
            }
        }
        hits.push(Hit {
            rule: rule.to_owned(),
            range,
            reason: reason.map(str::to_owned),
        });
    }

    /// Commits every match that starts before the hold point and moves `pos` to it. At end of
    /// stream the hold point is the end.
    fn scan(&mut self, eof: bool) {
        let max_len = self.engine.max_len as u64;
        let end = self.vis_end();
        loop {
            let h = if eof { end } else { self.update_hold(end) };
            if self.pos >= h {
                break;
            }
            let from = self.vi(self.pos);
            let Some(r) = self.find_required(from, self.vis.len()) else {
                self.pos = h;
                break;
            };
            let r = self.vis_base + r as u64;
            let win_start = self.pos.max((r + 1).saturating_sub(max_len));
            if win_start >= h {
                self.pos = h;
                break;
            }
            // Grow the window over a cluster of prefilter bytes less than max_len apart, so
            // dense text is searched once rather than once per byte. Jumping to the furthest
            // prefilter byte within reach takes one step per max_len bytes in dense text.
            let mut last = r;
            while last < h {
                let lim = end.min(last + max_len);
                let (from, to) = (self.vi(last + 1), self.vi(lim));
                match self.engine.scanner.rfind(&self.vis[from.min(to)..to]) {
                    Some(i) => last = self.vis_base + (from + i) as u64,
                    None => break,
                }
            }
            // Matches starting after `last` contain a later prefilter byte and are found from
            // it; matches from `h` on are not decided yet.
            let accept = (last + 1).min(h);
            let span_end = end.min(last + max_len);
            let mut p = win_start;
            while p < accept {
                match self.search(p, span_end) {
                    Some((pid, s, e)) if s < accept => {
                        match self.candidate(pid, s, e, span_end, eof) {
                            Some(next) => p = next,
                            None => {
                                // Decided, but its last character is not all here: next time.
                                self.pos = p;
                                return;
                            }
                        }
                    }
                    _ => break,
                }
            }
            self.pos = p.max(accept);
        }
    }

    /// Index of the first prefilter byte in `vis[from..to]`, as an index into `vis`.
    fn find_required(&self, from: usize, to: usize) -> Option<usize> {
        if from >= to {
            return None;
        }
        self.engine
            .scanner
            .find(&self.vis[from..to])
            .map(|i| from + i)
    }

    /// Leftmost-first match starting at or after `from` within `[from, to)`, in absolute
    /// visible offsets. Bytes after `to` still serve as look-ahead for `\b`.
    fn search(&mut self, from: u64, to: u64) -> Option<(PatternID, u64, u64)> {
        let (s, e) = (self.vi(from), self.vi(to));
        let engine = &self.engine;
        let caches = caches_in(&mut self.caches, engine);
        let input = Input::new(&self.vis).span(s..e);
        let m = engine.search(caches, &input)?;
        Some((
            m.pattern(),
            self.vis_base + m.start() as u64,
            self.vis_base + m.end() as u64,
        ))
    }

    /// Handles the leftmost match `[s, e)` of pattern `pid`: commits it if it validates, or
    /// else the first lower-priority pattern matching at `s` that validates. Returns where the
    /// search continues, or `None` if the match to commit must wait for the rest of a
    /// character.
    fn candidate(
        &mut self,
        pid: PatternID,
        s: u64,
        e: u64,
        span_end: u64,
        eof: bool,
    ) -> Option<u64> {
        let lower = (pid.as_usize() + 1..self.engine.rules.len())
            .map_while(|q| PatternID::new(q).ok())
            .map(|q| (q, None));
        for (q, known_end) in std::iter::once((pid, Some(e))).chain(lower) {
            match self.try_pattern(q, s, known_end, span_end, eof) {
                Tried::Masked(end) => return Some(end),
                Tried::Wait => return None,
                Tried::NoMatch => {}
            }
        }
        Some(s + 1)
    }

    /// Tries pattern `pid` anchored at `s`; on success masks it and returns where the search
    /// goes on. `known_end` is the match end when the caller already has it, which spares the
    /// capture search for rules without group or validator.
    fn try_pattern(
        &mut self,
        pid: PatternID,
        s: u64,
        known_end: Option<u64>,
        span_end: u64,
        eof: bool,
    ) -> Tried {
        let engine = Arc::clone(&self.engine);
        let Some(rule) = engine.rules.get(pid.as_usize()) else {
            return Tried::NoMatch;
        };
        // No match of this rule is longer than its max_len (and the match end is known when
        // given), so the anchored search needs no more: a short span keeps the capture
        // engine's work small.
        let mut limit = known_end.unwrap_or(span_end.min(s + rule.max_len as u64));
        let mut known_end = known_end;
        let si = self.vi(s);
        // The byte before a match is kept (for `\b`); at the start of the stream there is none.
        if rule.after_text && si > 0 && !AFTER_TEXT.contains(&self.vis[si - 1]) {
            return Tried::NoMatch;
        }
        // The longest match at `s` first; if the validator refuses it, ever shorter ones of the
        // same rule at the same place: a card number followed by more digits ("4111 1111 1111
        // 1111 12/27", or its CVV) is the card number.
        let (m, masked) = loop {
            let ei = self.vi(limit);
            let Some((m, masked)) = self.match_at(pid, si, ei, known_end) else {
                return Tried::NoMatch;
            };
            let valid = rule
                .validator
                .is_none_or(|v| v.check(&self.vis[masked.range()]));
            if valid {
                break (m, masked);
            }
            if m.end <= si + 1 {
                return Tried::NoMatch;
            }
            limit = self.vis_base + (m.end - 1) as u64;
            known_end = None;
        };
        // A byte-level rule (`.`) can end inside a character; its mask covers the whole
        // character, so the rest of it must be here (the same decision in every chunking).
        if !eof && masked.start < masked.end && self.char_continues_unseen(masked.end) {
            return Tried::Wait;
        }
        let end = self.vis_base + m.end as u64;
        // Likewise a match starting inside a character masks all of it (its first bytes were
        // held back for this, see `push`).
        // (A group that took no part masks nothing, not even a character around it.)
        let first = if masked.start < masked.end {
            self.char_start(masked.start)
        } else {
            masked.start
        };
        if self.hits.is_some() && rule.labelled {
            // A labelled field's value: named by its key; quotes around it are no part of it.
            let reason = self.labelled_reason(rule, si, m.end);
            self.note_hit(&rule.name, first, masked.end, reason.as_deref());
        } else if self.hits.is_some() {
            // What the user is shown is the identifier's raw bytes: a separator at either end
            // (a rule ending in `\s?`) has none, and the sequence behind it is no part of it.
            let (mut s, mut e) = (
                self.vis_base + first as u64,
                self.vis_base + masked.end as u64,
            );
            while s < e && self.is_separator(s) {
                s += 1;
            }
            while s < e && self.is_separator(e - 1) {
                e -= 1;
            }
            if s < e {
                let range = self.map.raw(s) as usize..self.map.raw(e - 1) as usize + 1;
                if let Some(hits) = self.hits.as_mut() {
                    hits.push(Hit {
                        rule: rule.name.clone(),
                        range,
                        reason: None,
                    });
                }
            }
        }
        let reached = self.mask_span(first, masked.end);
        Tried::Masked(end.max(self.vis_base + reached as u64))
    }

    /// Why a labelled-field rule matched `vis[s..e]`: the key (its group 1) and the field it
    /// names. Only for `mask-test`, so a capture search of its own is fine.
    fn labelled_reason(&self, rule: &CompiledRule, s: usize, e: usize) -> Option<String> {
        let re = rule.captures.as_ref()?.get()?;
        let mut caps = re.create_captures();
        re.search_captures(
            &Input::new(&self.vis).span(s..e).anchored(Anchored::Yes),
            &mut caps,
        );
        let key = &self.vis[caps.get_group(1)?.range()];
        let fields = &self.engine.grammar.fields;
        let field = fields.lookup(key)?;
        Some(fields.reason("key", key, field))
    }

    /// Whether visible offset `abs` (still in `vis`) is a separator: a line break that maps to
    /// no line break in the raw stream but to the last byte of an escape sequence.
    fn is_separator(&self, abs: u64) -> bool {
        let raw = self.map.raw(abs);
        let raw_byte = raw
            .checked_sub(self.raw_base)
            .and_then(|i| self.raw.get(usize::try_from(i).ok()?));
        self.vis.get(self.vi(abs)) == Some(&SEPARATOR) && raw_byte != Some(&SEPARATOR)
    }

    /// Index of the first byte of the character that `vis[i]` belongs to: `i` unless `vis[i]`
    /// continues a sequence whose lead byte is before it.
    fn char_start(&self, i: usize) -> usize {
        match self.vis.get(i) {
            Some(0x80..=0xbf) => self.lead_covering(i),
            _ => i,
        }
    }

    /// Where text before `i` may be released without cutting a character a later match could
    /// start inside: the start of the character `vis[i]` belongs to, or at the end of `vis`,
    /// of a character whose last bytes have not arrived.
    fn uncut(&self, i: usize) -> usize {
        if i < self.vis.len() {
            self.char_start(i)
        } else {
            self.lead_covering(i)
        }
    }

    /// The lead byte within three bytes before `i` whose sequence reaches `i`, else `i`.
    fn lead_covering(&self, i: usize) -> usize {
        for j in (i.saturating_sub(3)..i).rev() {
            match self.vis[j] {
                0x80..=0xbf => continue,
                b => return if j + utf8_len(b) > i { j } else { i },
            }
        }
        i
    }

    /// Whether the character that `vis[end - 1]` belongs to goes on past `end` into bytes not
    /// received yet.
    fn char_continues_unseen(&self, end: usize) -> bool {
        for j in (end.saturating_sub(4)..end).rev() {
            match self.vis[j] {
                0x00..=0x7f => return false,
                0x80..=0xbf => continue,
                b => return j + utf8_len(b) > self.vis.len(),
            }
        }
        false
    }

    /// The match of pattern `pid` anchored at `vis[si]` within `vis[si..ei]` (the longest the
    /// rule prefers there), and the span to mask (its group, or the whole match). `known_end`
    /// is the match end when the caller already has it, which spares a search for rules
    /// without group.
    fn match_at(
        &mut self,
        pid: PatternID,
        si: usize,
        ei: usize,
        known_end: Option<u64>,
    ) -> Option<(Span, Span)> {
        let engine = &self.engine;
        let rule = engine.rules.get(pid.as_usize())?;
        let caches = caches_in(&mut self.caches, engine);
        let input = Input::new(&self.vis).span(si..ei);
        // Captures (a slower engine) only when a group must be located; otherwise the match
        // span from the DFA-based search is enough.
        let re = rule.captures.as_ref().and_then(|c| c.get());
        let slot = caches.groups.get_mut(pid.as_usize());
        match (re, slot) {
            (Some(re), Some(slot)) => {
                let (cache, caps) =
                    slot.get_or_insert_with(|| (re.create_cache(), re.create_captures()));
                re.search_captures_with(cache, &input.anchored(Anchored::Yes), caps);
                let m = caps.get_match()?.span();
                // A group that took no part in the match masks nothing, but the match stands
                // (its text is consumed, as in a one-shot search).
                let group = caps.get_group(rule.group.unwrap_or(0));
                Some((m, group.unwrap_or(Span::from(m.end..m.end))))
            }
            _ => {
                let m = match known_end {
                    Some(e) => Span::from(si..(e - self.vis_base) as usize),
                    None => {
                        let input = input.anchored(Anchored::Pattern(pid));
                        engine.search(caches, &input)?.span()
                    }
                };
                Some((m, m))
            }
        }
    }

    /// Queues masks for the letters, digits and non-ASCII characters of `vis[s..e]`.
    ///
    /// Layout is kept in display columns: an ASCII letter or digit becomes one `*`; a non-ASCII
    /// character becomes as many `*` as columns it occupies (two for CJK, zero for combining
    /// marks); punctuation and spaces (`-`, `.`, `@`, `/`, ` `) are kept, so shapes such as
    /// `***-**-****` stay readable and tables stay aligned.
    /// Returns the index where masking stopped: `e`, or past it when the last character masked
    /// goes on after `e` (all of it is masked).
    fn mask_span(&mut self, s: usize, e: usize) -> usize {
        // Released text can no longer be masked (and its place in the raw stream may be
        // forgotten already); released text ends at a character boundary.
        let released = self.released_vis.saturating_sub(self.vis_base) as usize;
        if released >= e {
            return e;
        }
        // The visible-to-raw run of the previous byte: most spans lie within one run.
        let mut run = (u64::MAX, 0, 0);
        let mut i = s.max(released);
        while i < e {
            let abs = self.vis_base + i as u64;
            let b = self.vis[i];
            if b.is_ascii_alphanumeric() {
                // A stretch of letters and digits contiguous in the raw stream is one op.
                if abs < run.0 || abs >= run.2 {
                    run = self.map.run_at(abs);
                }
                let stop = e.min(usize::try_from(run.2 - self.vis_base).unwrap_or(usize::MAX));
                let mut j = i + 1;
                while j < stop && self.vis[j].is_ascii_alphanumeric() {
                    j += 1;
                }
                // Only the part not released yet can still be masked.
                let first = abs.max(self.released_vis);
                let last = self.vis_base + j as u64;
                if first < last {
                    let raw = run.1 + (first - run.0);
                    push_mask(&mut self.masks, raw, (last - first) as u32, 1);
                }
                i = j;
            } else if b.is_ascii() {
                // Punctuation, space and controls are kept.
                i += 1;
            } else {
                let (len, stars) = utf8_char(&self.vis[i..]);
                if abs >= self.released_vis {
                    for k in 0..len {
                        let at = abs + k as u64;
                        if at < run.0 || at >= run.2 {
                            run = self.map.run_at(at);
                        }
                        let n = if k == 0 { stars } else { 0 };
                        push_mask(&mut self.masks, run.1 + (at - run.0), 1, n);
                    }
                }
                i += len;
            }
        }
        i.max(e)
    }

    /// Moves the hold point forward as far as the bytes seen allow and returns it.
    fn update_hold(&mut self, end: u64) -> u64 {
        let lo = self.pos.max(end.saturating_sub(self.engine.max_len as u64));
        if self.hold.at < lo {
            self.hold.at = lo;
            self.hold.tracking = false;
        }
        let stamp = self.cache_stamp();
        if self.hold.tracking && self.hold.stamp != stamp {
            // Other caches this time, or these were cleared since: the state must be found
            // again.
            self.hold.tracking = false;
        }
        if self.hold.tracking {
            let bytes = self.vi(self.hold.consumed)..self.vi(end);
            match self.run(self.hold.state, bytes) {
                Run::Live(state) => {
                    self.hold.state = state;
                    self.hold.consumed = end;
                    self.hold.stamp = self.cache_stamp();
                    return self.hold.at;
                }
                Run::Unknown => {
                    self.hold.tracking = false;
                    return self.hold.at;
                }
                Run::Dead => {
                    self.hold.tracking = false;
                    self.hold.at += 1;
                }
            }
        }
        while self.hold.at < end {
            let p = self.hold.at;
            let (pi, ei) = (self.vi(p), self.vi(end));
            // The start state depends only on the byte before (for `\b` and `^`); asked for
            // directly, it is a table lookup (this runs for every position near the end).
            let config = regex_automata::util::start::Config::new()
                .anchored(Anchored::Yes)
                .look_behind(pi.checked_sub(1).and_then(|k| self.vis.get(k)).copied());
            let engine = &self.engine;
            let c = caches_in(&mut self.caches, engine);
            let Ok(start) = engine.dfa.start_state(&mut c.dfa, &config) else {
                return p;
            };
            match self.run(start, pi..ei) {
                Run::Live(state) => {
                    self.hold = Hold {
                        at: p,
                        tracking: true,
                        state,
                        consumed: end,
                        stamp: self.cache_stamp(),
                    };
                    return p;
                }
                Run::Unknown => return p,
                Run::Dead => self.hold.at += 1,
            }
        }
        end
    }

    /// Steps the anchored DFA from `state` over `vis[range]`.
    fn run(&mut self, mut state: LazyStateID, range: std::ops::Range<usize>) -> Run {
        let engine = &self.engine;
        let caches = caches_in(&mut self.caches, engine);
        let (dfa, cache) = (&engine.dfa, &mut caches.dfa);
        for &b in &self.vis[range] {
            match dfa.next_state(cache, state, b) {
                Ok(next) if next.is_dead() => return Run::Dead,
                Ok(next) => state = next,
                Err(_) => return Run::Unknown,
            }
        }
        if state.is_match() {
            let memo = &mut caches.settled;
            if memo.clears != cache.clear_count() {
                *memo = Settled {
                    clears: cache.clear_count(),
                    ..Settled::default()
                };
            }
            let known = memo.known.iter().flatten().find(|k| k.0 == state);
            let answer = match known {
                Some(&(_, done)) => Some(done),
                None => {
                    let answer = settled(dfa, cache, state);
                    if let Some(done) = answer {
                        let memo = &mut caches.settled;
                        if memo.clears == cache.clear_count() {
                            let slot = memo.next % memo.known.len();
                            memo.known[slot] = Some((state, done));
                            memo.next = memo.next.wrapping_add(1);
                        }
                    }
                    answer
                }
            };
            match answer {
                // A match just completed and nothing can extend or replace it: decided
                // already, so it need not wait for one more byte.
                Some(true) => return Run::Dead,
                Some(false) => {}
                // Examining it filled the cache, which was cleared: `state` is stale.
                None => return Run::Unknown,
            }
        }
        Run::Live(state)
    }

    /// Releases raw bytes up to visible offset `upto` (and escape bytes before it).
    fn release(&mut self, upto: u64, out: &mut Vec<u8>) {
        let mut raw_to = if upto >= self.vis_end() {
            // Everything visible is released, and the escape bytes after it.
            self.raw_end()
        } else {
            self.map.raw(upto)
        };
        // A string's payload waits for its end: only then can it be matched.
        if let Some(open) = self.string.filter(|o| !o.wholesale) {
            raw_to = raw_to.min(open.start);
        }
        self.released_vis = self.released_vis.max(upto);
        self.release_raw(raw_to, out);
    }

    fn release_raw(&mut self, raw_to: u64, out: &mut Vec<u8>) {
        if raw_to <= self.raw_base {
            return;
        }
        let base = self.raw_base;
        let idx = |abs: u64| (abs - base) as usize;
        let mut cursor = 0;
        let mut applied = 0;
        // The marked offset's place in `out`: unmasked bytes before it map one to one.
        let mut mark = match self.mark {
            Some((at, None)) if at >= base && at < raw_to => Some(idx(at)),
            _ => None,
        };
        for m in self.masks.iter_mut() {
            if m.raw >= raw_to {
                break;
            }
            let i = idx(m.raw);
            // The part of this op before `raw_to`; the rest waits for the next release.
            let n = (m.len as usize).min(idx(raw_to) - i);
            let stars = usize::from(m.stars);
            if let Some(k) = mark.filter(|&k| k < i + n) {
                let at = if k <= i {
                    k.saturating_sub(cursor)
                } else {
                    (i - cursor) + (k - i) * stars
                };
                self.mark = Some((base + k as u64, Some(out.len() + at)));
                mark = None;
            }
            out.extend_from_slice(&self.raw[cursor..i]);
            out.extend(std::iter::repeat_n(b'*', n * stars));
            cursor = i + n;
            if n < m.len as usize {
                m.raw += n as u64;
                m.len -= n as u32;
                break;
            }
            applied += 1;
        }
        let n = idx(raw_to);
        if let Some(k) = mark {
            // After the last mask: `k >= cursor`, unless it fell on a dropped continuation
            // byte, whose place is where the next byte goes.
            self.mark = Some((base + k as u64, Some(out.len() + k.saturating_sub(cursor))));
        }
        out.extend_from_slice(&self.raw[cursor..n]);
        self.masks.drain(..applied);
        self.raw.drain(..n);
        self.raw_base = raw_to;
    }

    /// Drops visible text no longer needed: everything before the byte preceding `pos`.
    fn trim(&mut self) {
        // The byte before the search position stays for `\b`, and so does the start of a
        // character the search position is inside; and what the structure tracker may still
        // read (the lines a table's header is read from).
        let keep_at = |core: &Core, from: u64| match from.checked_sub(core.vis_base) {
            Some(_) => (core.vis_base + core.uncut(core.vi(from)) as u64).saturating_sub(1),
            None => from.saturating_sub(1),
        };
        // Raw positions are only looked up for text that may still be masked: what the
        // search and the structure tracker have not decided.
        let decided = self.pos.min(self.hold.at).min(self.structure.pending());
        let map_keep = keep_at(self, decided);
        self.map.forget_before(map_keep);
        let keep = keep_at(self, decided.min(self.structure.keep_from()));
        // Dropping moves what is kept to the front: done once enough has piled up, so that a
        // stream fed a byte at a time does not move the kept lines at every byte.
        let droppable = keep.saturating_sub(self.vis_base) as usize;
        if droppable > 0 && (droppable >= TRIM_AT || droppable * 2 >= self.vis.len()) {
            let n = self.vi(keep);
            self.vis.drain(..n);
            self.vis_base = keep;
        }
    }
}

impl Core {
    // String payloads (see `payload.rs`).

    /// Masks the payload of a string that ended: matched as text of its own, or wholesale if
    /// it was too long for that.
    fn mask_payload(&mut self, s: OpenString) {
        let too_long = s.end - s.start > MAX_STRING_SCANNED as u64;
        if s.wholesale || too_long || s.start < self.raw_base {
            // Part of it is out already (the held-bytes cap): mask the rest, fail closed.
            self.mask_wholesale(s.masked_to.max(s.start), s.end);
            return;
        }
        let (from, to) = (
            (s.start - self.raw_base) as usize,
            (s.end - self.raw_base) as usize,
        );
        let engine = &self.engine;
        let sub = self
            .payloads
            .get_or_insert_with(|| Box::new(Core::new(Arc::clone(engine))));
        if self.hits.is_some() {
            sub.record_hits();
        }
        self.payload_out.clear();
        sub.push(&self.raw[from..to], &mut self.payload_out);
        sub.finish(&mut self.payload_out);
        if let Some(hits) = self.hits.as_mut() {
            hits.extend(sub.take_hits().into_iter().map(|mut h| {
                h.range = h.range.start + s.start as usize..h.range.end + s.start as usize;
                h
            }));
        }
        let payload = &self.raw[from..to];
        if self.payload_out.as_slice() == payload {
            return;
        }
        if self.payload_out.len() != payload.len() {
            // A masked non-ASCII character changed the length: no byte-for-byte map back.
            self.mask_wholesale(s.start, s.end);
            return;
        }
        payload::mask_changed(&mut self.masks, s.start, payload, &self.payload_out);
    }

    /// Masks what arrived of a string too long to match as a unit.
    fn mask_open_string_wholesale(&mut self) {
        if let Some(open) = self.string.filter(|o| o.wholesale) {
            self.mask_wholesale(open.masked_to, open.end);
            if let Some(o) = self.string.as_mut() {
                o.masked_to = open.end;
            }
        }
    }

    /// Masks every letter, digit and non-ASCII byte in raw `[from, to)` still held.
    fn mask_wholesale(&mut self, from: u64, to: u64) {
        payload::mask_wholesale(&mut self.masks, &self.raw, self.raw_base, from, to);
    }
}

/// Puts a line break into the visible text where the terminal moves the cursor (the sequence
/// ended before raw offset `after`), so that what was drawn apart is matched apart (`\b` and
/// the rules' context see a boundary). One is enough where text breaks already, and none is
/// needed before any text. `vis` is never empty past its start (`trim` keeps a byte), so this
/// is the same in any chunking.
fn separate(vis: &mut Vec<u8>, vis_base: u64, map: &mut PosMap, after: u64) {
    if vis.last().is_some_and(|&b| b != SEPARATOR) {
        // It maps to the sequence's last byte (there is one before `after`).
        map.note(vis_base + vis.len() as u64, after.saturating_sub(1));
        vis.push(SEPARATOR);
    }
}

/// The caches held in `slot`, taken from `engine`'s pool on first use in a call. A function of
/// the two fields rather than a method, so that callers can still read `vis` meanwhile.
fn caches_in<'a>(slot: &'a mut Option<Box<Caches>>, engine: &Engine) -> &'a mut Caches {
    slot.get_or_insert_with(|| engine.take_caches())
}

/// Whether every byte leads from `state` to the dead state and end of input adds no match,
/// i.e. no future input can change what was matched; `None` if the cache was cleared on the
/// way, after which `state` means nothing (and must not be used again: it may index past the
/// new transition table).
fn settled(
    dfa: &regex_automata::hybrid::dfa::DFA,
    cache: &mut DfaCache,
    state: LazyStateID,
) -> Option<bool> {
    let clears = cache.clear_count();
    for unit in dfa.byte_classes().representatives(0..=255) {
        let Some(b) = unit.as_u8() else { continue };
        let next = dfa.next_state(cache, state, b);
        if cache.clear_count() != clears {
            return None;
        }
        match next {
            Ok(next) if next.is_dead() => {}
            _ => return Some(false),
        }
    }
    let eoi = dfa.next_eoi_state(cache, state);
    if cache.clear_count() != clears {
        return None;
    }
    Some(matches!(eoi, Ok(eoi) if !eoi.is_match()))
}

/// Length of the UTF-8 sequence a lead byte starts (1 for ASCII and bytes that start none).
fn utf8_len(lead: u8) -> usize {
    match lead {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 1,
    }
}

/// Length of the UTF-8 character at the start of `bytes` and the `*` count that keeps its
/// display width; an invalid byte counts as one byte, one column (terminals draw U+FFFD).
fn utf8_char(bytes: &[u8]) -> (usize, u8) {
    let want = match bytes.first() {
        Some(&b) => utf8_len(b),
        None => return (1, 1),
    };
    let Some(seq) = bytes.get(..want) else {
        return (1, 1);
    };
    match std::str::from_utf8(seq).ok().and_then(|s| s.chars().next()) {
        Some(c) => {
            let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(1);
            (want, u8::try_from(w).unwrap_or(1))
        }
        None => (1, 1),
    }
}
