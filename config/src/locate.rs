//! Finds the line of a key path (`targets[2].port`) in the TOML source, so that problems found
//! after deserialization still point into the file.

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The parsed document with spans.
pub(crate) struct Document<'a> {
    src: &'a str,
    root: Spanned<DeValue<'a>>,
}

impl<'a> Document<'a> {
    pub(crate) fn parse(src: &'a str) -> Result<Document<'a>, toml::de::Error> {
        let table = DeTable::parse(src)?;
        let span = table.span();
        let root = Spanned::new(span, DeValue::Table(table.into_inner()));
        Ok(Document { src, root })
    }

    /// The 1-based line where the value at `path` starts, or the nearest enclosing key that exists.
    pub(crate) fn line_of_path(&self, path: &str) -> Option<usize> {
        let mut node = &self.root;
        let mut best = None;
        for seg in segments(path) {
            let next = match seg {
                Segment::Key(k) => node.get_ref().get(k),
                Segment::Index(i) => node.get_ref().get(i),
            };
            match next {
                Some(n) => {
                    node = n;
                    best = Some(line_of(self.src, n.span().start));
                }
                None => break,
            }
        }
        best
    }
}

enum Segment<'p> {
    Key(&'p str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Segment::Key(key));
        }
        while let Some(close) = rest.find(']') {
            if let Ok(i) = rest[1..close].parse() {
                out.push(Segment::Index(i));
            }
            rest = &rest[close + 1..];
        }
    }
    out
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(src: &str, offset: usize) -> usize {
    let end = offset.min(src.len());
    src.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
