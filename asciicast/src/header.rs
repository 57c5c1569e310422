//! The header: one model for every version.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;

/// The first line of a recording, whatever its version: v2's `width` and `height` are
/// [`Term::cols`] and [`Term::rows`], and its `env.TERM` is [`Term::term_type`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    /// Initial terminal size and type.
    pub term: Term,
    /// Start of the recording, unix seconds.
    pub timestamp: Option<u64>,
    /// Longest pause a player should show, in seconds.
    pub idle_time_limit: Option<f64>,
    /// The command recorded.
    pub command: Option<String>,
    /// Free-form title.
    pub title: Option<String>,
    /// Captured environment variables (sorted, so that written headers do not depend on map
    /// order).
    pub env: BTreeMap<String, String>,
    /// Keys beyond the format's own, such as a writer's metadata object.
    pub extra: Extra,
}

/// The terminal: `term` in v3, `width`/`height` (and `env.TERM`) in v2.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Term {
    /// Columns.
    pub cols: u16,
    /// Rows.
    pub rows: u16,
    /// `TERM`, when known.
    pub term_type: Option<String>,
}

/// Header keys the format does not define, each with its value as the JSON written. Readers
/// keep them (a player may know what a writer meant by one); writers put them after the
/// format's own keys, in key order, leaving out any key the format defines.
#[derive(Debug, Clone, Default)]
pub struct Extra(BTreeMap<String, Box<RawValue>>);

impl Extra {
    /// The value of `key` read as a `T`: `None` without the key, an error when its value is
    /// not a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<Result<T, serde_json::Error>> {
        self.0.get(key).map(|raw| serde_json::from_str(raw.get()))
    }

    /// The value of `key` as the JSON written.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|raw| raw.get())
    }

    /// Sets `key` to `value` serialised as JSON (compact, fields in declaration order).
    ///
    /// # Errors
    /// When `value` cannot be serialised as JSON (a map with keys that are not strings).
    pub fn insert<T: Serialize + ?Sized>(
        &mut self,
        key: impl Into<String>,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        let raw = serde_json::value::to_raw_value(value)?;
        self.0.insert(key.into(), raw);
        Ok(())
    }

    /// Removes `key`; returns whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        self.0.remove(key).is_some()
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The keys of a header `line` (a JSON object) that are not in `known`, with their values
    /// as written.
    pub(crate) fn read(line: &str, known: &[&str]) -> Result<Extra, serde_json::Error> {
        let mut all: BTreeMap<String, Box<RawValue>> = serde_json::from_str(line)?;
        all.retain(|k, _| !known.contains(&k.as_str()));
        Ok(Extra(all))
    }

    /// Appends `,"key":value` for each key not in `known`.
    pub(crate) fn write(&self, out: &mut Vec<u8>, known: &[&str]) {
        for (key, raw) in &self.0 {
            if known.contains(&key.as_str()) {
                continue;
            }
            out.push(b',');
            crate::syntax::push_json_string(out, key);
            out.push(b':');
            out.extend_from_slice(raw.get().as_bytes());
        }
    }
}

impl PartialEq for Extra {
    fn eq(&self, other: &Extra) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|((ka, va), (kb, vb))| ka == kb && va.get() == vb.get())
    }
}

/// Appends the JSON object `head` (without its closing brace) followed by `extra`'s keys not
/// in `known`, and closes it.
pub(crate) fn close_with_extra(mut head: Vec<u8>, extra: &Extra, known: &[&str]) -> Vec<u8> {
    if head.last() == Some(&b'}') {
        head.pop();
    }
    extra.write(&mut head, known);
    head.push(b'}');
    head
}
