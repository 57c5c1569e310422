//! JSON documents (one line or pretty-printed, `jq` output with its colours cut out): the
//! values of sensitive keys are masked, with everything inside them.
//!
//! A streaming tokenizer keeps the path as a stack of levels, each knowing whether it is inside
//! a sensitive value (a key naming a field makes its whole value sensitive: `"address": {…}`
//! masks the street and the city) and whether it is inside a FHIR resource about a person.
//! FHIR `Patient`, `Person` and `RelatedPerson` resources have `name`, `birthDate`, `address`,
//! `telecom` and `identifier[].value` masked (with the `hipaa` pack's formats); their
//! `resourceType` must come before those keys, as FHIR servers and `jq` write it.
//!
//! Strings are masked with their quotes (which stay as they are, being no letter or digit);
//! numbers are masked; `true`, `false` and `null` are not. A document ends when its top-level
//! value closes; text that is no JSON ends it at once (the tracker goes back to lines).

use std::sync::Arc;

use super::ctx::{Ctx, Next, Step};
use crate::fields::MAX_NAME;

/// Levels tracked; deeper values are masked (fail safe).
const MAX_DEPTH: usize = 64;
/// Levels followed at all (past `MAX_DEPTH` only whether each is an object); deeper, the text
/// is no longer read as JSON.
const MAX_NESTING: usize = 4096;

#[derive(Debug, Clone)]
struct Level {
    object: bool,
    /// Everything inside is masked.
    sensitive: bool,
    why: Option<Arc<str>>,
    /// Inside a FHIR resource about a person.
    person: bool,
    /// A FHIR `identifier` list (its items' `value` is masked), or one of its items.
    identifiers: bool,
    identifier: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A value is expected (after `:`, `[`, `,` in an array, or at the top).
    Value,
    /// `[` was just read: a value or `]`.
    ValueOrClose,
    /// `{` was just read: a key or `}`.
    KeyOrClose,
    /// `,` in an object: a key.
    Key,
    /// Inside a key string.
    KeyString {
        escaped: bool,
    },
    /// After a key: `:`.
    Colon,
    /// Inside a string value.
    String {
        escaped: bool,
    },
    Number,
    Literal,
    /// After a value: `,` or the closing bracket.
    After,
}

#[derive(Debug, Clone)]
pub(super) struct Json {
    stack: Vec<Level>,
    /// Levels past `MAX_DEPTH`: whether each is an object.
    deep: Vec<bool>,
    state: State,
    key: Vec<u8>,
    key_long: bool,
    /// The value being read: masked, why, where it started.
    value: (bool, Option<Arc<str>>),
    value_from: u64,
    /// The value being read is a `resourceType`; its text.
    resource_type: Option<Vec<u8>>,
    /// The key whose value comes next (for the levels it opens).
    pending_key: KeyKind,
}

/// What the key before a value means for what it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Plain,
    ResourceType,
    /// `identifier` in a person resource.
    Identifiers,
}

const PERSONS: [&[u8]; 3] = [b"Patient", b"Person", b"RelatedPerson"];
/// Elements of a person resource that are PHI whatever the site's field list says.
const PERSON_KEYS: [&[u8]; 6] = [
    b"name",
    b"birthDate",
    b"address",
    b"telecom",
    b"photo",
    b"contact",
];

impl Json {
    pub(super) fn new() -> Json {
        Json {
            stack: Vec::new(),
            deep: Vec::new(),
            state: State::Value,
            key: Vec::new(),
            key_long: false,
            value: (false, None),
            value_from: 0,
            resource_type: None,
            pending_key: KeyKind::Plain,
        }
    }

    fn top(&self) -> Option<&Level> {
        self.stack.last()
    }

    /// Whether a value in the current container is masked (before any key is considered).
    fn inherited(&self) -> (bool, Option<Arc<str>>) {
        if !self.deep.is_empty() {
            return (true, None);
        }
        match self.top() {
            Some(l) if l.sensitive => (true, l.why.clone()),
            _ => (false, None),
        }
    }

    /// The key just read names what follows the colon.
    fn key_done(&mut self, ctx: &Ctx<'_>) {
        let (mut sensitive, mut why) = self.inherited();
        self.pending_key = KeyKind::Plain;
        let key = &self.key[..];
        let top = self.stack.last();
        let person = top.is_some_and(|l| l.person);
        if !sensitive {
            if self.key_long {
                sensitive = true;
                why = ctx.why(|| "key with a very long name".into());
            } else if let Some(f) = ctx.fields().lookup(key) {
                sensitive = true;
                why = ctx.why(|| ctx.fields().reason("key", key, f));
            } else if ctx.g.formats.fhir && person && PERSON_KEYS.contains(&key) {
                sensitive = true;
                why = ctx.why(|| {
                    format!(
                        "FHIR person resource element \"{}\"",
                        String::from_utf8_lossy(key)
                    )
                });
            } else if ctx.g.formats.fhir && top.is_some_and(|l| l.identifier) && key == b"value" {
                sensitive = true;
                why = ctx.why(|| "FHIR person resource identifier[].value".into());
            }
        }
        if ctx.g.formats.fhir && key == b"resourceType" {
            self.pending_key = KeyKind::ResourceType;
        } else if ctx.g.formats.fhir && person && key == b"identifier" {
            self.pending_key = KeyKind::Identifiers;
        }
        self.value = (sensitive, why);
    }

    /// Opens a container; returns false when nested too deep to follow.
    fn open(&mut self, object: bool) -> bool {
        if !self.deep.is_empty() || self.stack.len() >= MAX_DEPTH {
            if self.deep.len() >= MAX_NESTING {
                return false;
            }
            self.deep.push(object);
            return true;
        }
        let parent = self.top();
        let person = parent.is_some_and(|l| l.person);
        let in_list = parent.is_some_and(|l| l.identifiers && !l.object);
        let level = Level {
            object,
            sensitive: self.value.0,
            why: self.value.1.clone(),
            person,
            identifiers: self.pending_key == KeyKind::Identifiers && !object,
            identifier: object && in_list,
        };
        self.stack.push(level);
        self.pending_key = KeyKind::Plain;
        true
    }

    /// Closes a container; returns false if the bracket does not match.
    fn close(&mut self, object: bool) -> bool {
        if let Some(&o) = self.deep.last() {
            self.deep.pop();
            return o == object;
        }
        match self.stack.last() {
            Some(l) if l.object == object => {
                self.stack.pop();
                true
            }
            _ => false,
        }
    }

    /// A value ended: the state after it.
    fn value_done(&mut self) -> State {
        self.pending_key = KeyKind::Plain;
        State::After
    }

    /// A value starts: in an array or at the top it inherits; after a key, `key_done` set it.
    fn value_start(&mut self, after_key: bool) {
        if !after_key {
            self.value = self.inherited();
            self.pending_key = KeyKind::Plain;
        }
    }

    pub(super) fn part(&mut self, ctx: &mut Ctx<'_>, from: u64, end: u64) -> Step {
        let mut i = ctx.idx(from);
        let n = ctx.idx(end);
        while i < n {
            let b = ctx.vis[i];
            let at = ctx.base + i as u64;
            if b == b'\n' {
                self.flush(ctx, at);
                return Step::Line(at);
            }
            match self.byte(ctx, b, at) {
                Ok(true) => i += 1,
                // The byte is re-read in the next state (a number or literal ended by it).
                Ok(false) => {}
                Err(()) => {
                    self.flush(ctx, at);
                    return Step::Switch(at);
                }
            }
            if self.state == State::After && self.stack.is_empty() && self.deep.is_empty() {
                // The document is complete.
                return Step::Switch(ctx.base + i as u64);
            }
        }
        self.flush(ctx, end);
        Step::More(end)
    }

    fn flush(&mut self, ctx: &mut Ctx<'_>, upto: u64) {
        if matches!(self.state, State::String { .. } | State::Number) && self.value.0 {
            ctx.emit(self.value_from, upto, &self.value.1);
        }
        self.value_from = upto;
    }

    /// Reads one byte; `Ok(false)` if it must be read again in the new state, `Err` if it is
    /// no JSON here.
    fn byte(&mut self, ctx: &mut Ctx<'_>, b: u8, at: u64) -> Result<bool, ()> {
        let ws = matches!(b, b' ' | b'\t' | b'\r');
        match self.state {
            State::Value | State::ValueOrClose => {
                if ws {
                    return Ok(true);
                }
                let in_object = match (self.deep.last(), self.top()) {
                    (Some(&o), _) => o,
                    (None, Some(l)) => l.object,
                    (None, None) => false,
                };
                let after_key = self.state == State::Value && in_object;
                if self.state == State::ValueOrClose && b == b']' {
                    if !self.close(false) {
                        return Err(());
                    }
                    self.state = self.value_done();
                    return Ok(true);
                }
                self.value_start(after_key);
                match b {
                    b'{' | b'[' => {
                        let object = b == b'{';
                        if !self.open(object) {
                            return Err(());
                        }
                        self.state = if object {
                            State::KeyOrClose
                        } else {
                            State::ValueOrClose
                        };
                    }
                    b'"' => {
                        self.value_from = at;
                        self.state = State::String { escaped: false };
                        if self.pending_key == KeyKind::ResourceType {
                            self.resource_type = Some(Vec::new());
                        }
                    }
                    b'-' | b'0'..=b'9' => {
                        self.value_from = at;
                        self.state = State::Number;
                    }
                    b't' | b'f' | b'n' => self.state = State::Literal,
                    _ => return Err(()),
                }
                Ok(true)
            }
            State::KeyOrClose | State::Key => {
                if ws {
                    return Ok(true);
                }
                match b {
                    b'}' if self.state == State::KeyOrClose => {
                        if !self.close(true) {
                            return Err(());
                        }
                        self.state = self.value_done();
                    }
                    b'"' => {
                        self.key.clear();
                        self.key_long = false;
                        self.state = State::KeyString { escaped: false };
                    }
                    _ => return Err(()),
                }
                Ok(true)
            }
            State::KeyString { escaped } => {
                if !escaped && b == b'"' {
                    self.state = State::Colon;
                } else {
                    self.state = State::KeyString {
                        escaped: !escaped && b == b'\\',
                    };
                    if self.key.len() < MAX_NAME {
                        self.key.push(b);
                    } else {
                        self.key_long = true;
                    }
                }
                Ok(true)
            }
            State::Colon => {
                if ws {
                    return Ok(true);
                }
                if b != b':' {
                    return Err(());
                }
                self.key_done(ctx);
                self.state = State::Value;
                Ok(true)
            }
            State::String { escaped } => {
                if !escaped && b == b'"' {
                    self.flush(ctx, at + 1);
                    if let Some(rt) = self.resource_type.take() {
                        if let Some(l) = self.stack.last_mut() {
                            l.person = PERSONS.contains(&rt.as_slice());
                        }
                    }
                    self.state = self.value_done();
                } else {
                    if let Some(rt) = self.resource_type.as_mut() {
                        if rt.len() < 32 {
                            rt.push(b);
                        }
                    }
                    self.state = State::String {
                        escaped: !escaped && b == b'\\',
                    };
                }
                Ok(true)
            }
            State::Number => {
                if b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-') {
                    return Ok(true);
                }
                self.flush(ctx, at);
                self.state = self.value_done();
                Ok(false)
            }
            State::Literal => {
                if b.is_ascii_lowercase() {
                    return Ok(true);
                }
                self.state = self.value_done();
                Ok(false)
            }
            State::After => {
                if ws {
                    return Ok(true);
                }
                let object = match (self.deep.last(), self.top()) {
                    (Some(&o), _) => o,
                    (None, Some(l)) => l.object,
                    (None, None) => return Err(()),
                };
                match b {
                    b',' => {
                        self.state = if object { State::Key } else { State::Value };
                    }
                    b'}' | b']' => {
                        if !self.close(b == b'}') {
                            return Err(());
                        }
                        self.state = self.value_done();
                    }
                    _ => return Err(()),
                }
                Ok(true)
            }
        }
    }

    pub(super) fn line_end(&mut self) -> Next {
        Next::Stay
    }
}
