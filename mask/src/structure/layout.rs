//! The columns of an aligned table, from its rule line and header.
//!
//! Three layouts, told apart by the rule line under the header:
//! - *bars*: `----+------+---` (psql): cells separated by `|` where the rule has `+`, no outer
//!   border, the last cell open to the end of the line;
//! - *boxed*: `+----+------+` (mysql, sqlite3 `-table`, psql `border 2`) and `├────┼──────┤`
//!   (sqlite3 `-box`, many CLIs): an outer border, cells between the junctions;
//! - *spaced*: `---  -------  ---` (sqlite3 `-column`, psql `border 0`): each run of dashes is a
//!   column, which runs to where the next one starts.
//!
//! Columns are display columns (a CJK character takes two, a combining mark none), as the
//! programs that draw tables align them.

use super::text::{columns, decode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Bars,
    Boxed,
    Spaced,
}

/// Where a table's cells are.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub(super) kind: Kind,
    /// Bars and boxed: the columns of the junctions. Spaced: where each column starts.
    pub(super) bounds: Vec<u32>,
    /// Spaced: where the first run of dashes ends (the first gap follows it).
    pub(super) first_end: u32,
    /// Display width of the rule line.
    pub(super) width: u32,
}

impl Layout {
    /// Whether two rules draw the same columns.
    pub(super) fn same(&self, other: &Layout) -> bool {
        self.kind == other.kind && self.bounds == other.bounds
    }

    /// Number of cells a row has.
    pub(super) fn cells(&self) -> usize {
        match self.kind {
            Kind::Bars => self.bounds.len() + 1,
            Kind::Boxed => self.bounds.len().saturating_sub(1),
            Kind::Spaced => self.bounds.len(),
        }
    }
}

/// Whether a line starting with `first` may be a rule line.
pub(super) fn may_be_rule(first: u8) -> bool {
    matches!(first, b'-' | b'=' | b'+' | 0xe2)
}

/// Whether a line holds only what rule lines are drawn with (dashes, `=`, `+`, spaces, box
/// drawing characters): a quick look before parsing it (`ls -l` lines start with `-` too).
pub(super) fn rule_bytes(text: &[u8]) -> bool {
    let first = text.iter().find(|b| !matches!(b, b' ' | b'\t'));
    first.is_some_and(|&b| may_be_rule(b))
        && text
            .iter()
            .all(|&b| matches!(b, b'-' | b'=' | b'+' | b' ' | b'\t') || b >= 0x80)
}

/// What a character is in table drawing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Draw {
    Horizontal,
    Vertical,
    Junction,
    /// A junction that closes a box at the bottom (`└`, `╘`, `╚`, `╰`).
    Bottom,
    Space,
    Other,
}

/// The kind of the character at `bytes[i]` and its length.
pub(super) fn draw_at(bytes: &[u8], i: usize) -> (usize, Draw) {
    let b = bytes[i];
    let kind = match b {
        b'-' | b'=' => Draw::Horizontal,
        b'|' => Draw::Vertical,
        b'+' => Draw::Junction,
        b' ' => Draw::Space,
        0xe2 => {
            let (len, c) = decode(bytes, i);
            return (len, c.map_or(Draw::Other, draw_char));
        }
        _ => Draw::Other,
    };
    (1, kind)
}

fn draw_char(c: char) -> Draw {
    match u32::from(c) {
        0x2500 | 0x2501 | 0x2504 | 0x2505 | 0x2508 | 0x2509 | 0x254c | 0x254d | 0x2550 => {
            Draw::Horizontal
        }
        0x2502 | 0x2503 | 0x2506 | 0x2507 | 0x250a | 0x250b | 0x254e | 0x254f | 0x2551 => {
            Draw::Vertical
        }
        0x2514..=0x2517 | 0x2558..=0x255a | 0x2570 => Draw::Bottom,
        0x2500..=0x257f => Draw::Junction,
        _ => Draw::Other,
    }
}

/// The layout a rule line describes, given whether the header above it starts with a space
/// (psql pads its cells; a one-column psql table has a rule of dashes alone).
pub(super) fn parse_rule(rule: &[u8], header_padded: bool) -> Option<Layout> {
    let cols = columns(rule);
    let mut junctions = Vec::new();
    let mut runs: Vec<(u32, u32)> = Vec::new();
    let mut horizontal = 0;
    let mut first: Option<Draw> = None;
    let mut width = 0;
    for &(col, i, _, w) in &cols {
        let (_, d) = draw_at(rule, i);
        match d {
            Draw::Space => continue,
            Draw::Horizontal => {
                horizontal += 1;
                match runs.last_mut() {
                    Some(r) if r.1 == col => r.1 = col + w.max(1),
                    _ => runs.push((col, col + w.max(1))),
                }
            }
            Draw::Junction | Draw::Bottom => {
                junctions.push(col);
                match runs.last_mut() {
                    Some(r) if r.1 == col => r.1 = col + w.max(1),
                    _ => runs.push((col, col + w.max(1))),
                }
            }
            Draw::Vertical | Draw::Other => return None,
        }
        first.get_or_insert(d);
        width = col + w.max(1);
    }
    if horizontal < 2 {
        return None;
    }
    if runs.len() > 1 {
        // Spaces between parts: only plain dash runs make a spaced table.
        if !junctions.is_empty() {
            return None;
        }
        return Some(Layout {
            kind: Kind::Spaced,
            first_end: runs[0].1,
            bounds: runs.iter().map(|r| r.0).collect(),
            width,
        });
    }
    match first {
        Some(Draw::Junction | Draw::Bottom) => (junctions.len() >= 2).then_some(Layout {
            kind: Kind::Boxed,
            bounds: junctions,
            first_end: 0,
            width,
        }),
        _ if !junctions.is_empty() || header_padded => Some(Layout {
            kind: Kind::Bars,
            bounds: junctions,
            first_end: 0,
            width,
        }),
        _ => Some(Layout {
            kind: Kind::Spaced,
            first_end: runs[0].1,
            bounds: vec![runs[0].0],
            width,
        }),
    }
}

/// The names in a header line, one per cell of `layout`, if the header lines up with it.
pub(super) fn header_names(layout: &Layout, header: &[u8]) -> Option<Vec<Vec<u8>>> {
    let cols = columns(header);
    let at = |col: u32| cols.iter().find(|c| c.0 == col);
    let drawn = |col: u32| at(col).map(|&(_, i, _, _)| draw_at(header, i).1);
    let cells = layout.cells();
    let mut names = vec![Vec::new(); cells];
    // Which cell a display column belongs to (None: a separator or outside the table).
    let cell_of = |col: u32| -> Option<usize> {
        let b = &layout.bounds;
        match layout.kind {
            Kind::Bars => {
                if b.contains(&col) {
                    None
                } else {
                    Some(b.iter().filter(|&&x| x < col).count())
                }
            }
            Kind::Boxed => {
                let k = b.iter().filter(|&&x| x < col).count();
                (k >= 1 && k < b.len() && !b.contains(&col)).then(|| k - 1)
            }
            Kind::Spaced => Some(b.iter().filter(|&&x| x <= col).count().saturating_sub(1)),
        }
    };
    match layout.kind {
        Kind::Bars | Kind::Boxed => {
            // The header has its separators where the rule has junctions.
            for &col in &layout.bounds {
                let d = drawn(col);
                let open_end = layout.kind == Kind::Boxed && Some(&col) == layout.bounds.last();
                if d != Some(Draw::Vertical) && !(open_end && d.is_none()) {
                    return None;
                }
            }
        }
        Kind::Spaced => {
            // Each column's name starts after a gap.
            for &col in layout.bounds.iter().skip(1) {
                if col > 0 && !matches!(drawn(col - 1), Some(Draw::Space) | None) {
                    return None;
                }
            }
        }
    }
    for &(col, i, len, _) in &cols {
        if let Some(k) = cell_of(col) {
            if let Some(name) = names.get_mut(k) {
                name.extend_from_slice(&header[i..i + len]);
            }
        }
    }
    if names.iter().all(|n| n.iter().all(u8::is_ascii_whitespace)) {
        return None;
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(rule: &str, header: &str) -> Option<Vec<String>> {
        let l = parse_rule(rule.as_bytes(), header.starts_with(' '))?;
        let n = header_names(&l, header.as_bytes())?;
        Some(
            n.iter()
                .map(|x| String::from_utf8_lossy(x).trim().to_string())
                .collect(),
        )
    }

    #[test]
    fn the_layouts_of_common_programs() {
        assert_eq!(
            names("----+------+-----", " id | name | dob "),
            Some(vec!["id".into(), "name".into(), "dob".into()])
        );
        assert_eq!(
            names("+----+------+", "| id | name |"),
            Some(vec!["id".into(), "name".into()])
        );
        assert_eq!(
            names(
                "\u{251c}\u{2500}\u{2500}\u{2500}\u{2500}\u{253c}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2524}",
                "\u{2502} id \u{2502} name \u{2502}"
            ),
            Some(vec!["id".into(), "name".into()])
        );
        assert_eq!(
            names("---  --------  ---", "id   name      dob"),
            Some(vec!["id".into(), "name".into(), "dob".into()])
        );
        assert_eq!(
            names("----------", " ?column? "),
            Some(vec!["?column?".into()])
        );
        // A header that does not line up with the rule is no header.
        assert_eq!(names("----+------", "a b c d e f g h"), None);
        assert_eq!(names("---  ----", "abcdefghi"), None);
        // A rule needs dashes; bars or letters make it no rule.
        assert!(parse_rule(b"-", false).is_none());
        assert!(parse_rule(b"--x--", false).is_none());
        assert!(parse_rule(b"| --- | --- |", false).is_none());
    }
}
