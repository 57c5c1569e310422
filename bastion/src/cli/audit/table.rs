//! Aligned text tables for `bastion audit`.
//!
//! Cells come from users (commands, user names, refusal reasons quoting them), so control
//! characters are escaped: an audit listing must not be able to drive the reader's terminal.

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use bastion::audit::{ApprovalRow, AuthRow, CertificateRow, ChannelRow, SessionRow};

/// Header and rows; every column but the last is padded to its widest cell.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let header: Vec<String> = self.header.iter().map(|h| h.to_string()).collect();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let pad = widths[i] - cell.chars().count();
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad + 2));
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

pub fn sessions(rows: &[SessionRow]) -> Table {
    Table {
        header: vec![
            "STARTED", "DURATION", "SESSION", "IDENTITY", "PEER", "TARGET", "LOGIN", "END",
        ],
        rows: rows
            .iter()
            .map(|s| {
                vec![
                    time(s.started_at_ms),
                    duration(s.started_at_ms, s.ended_at_ms),
                    clean(&s.id),
                    clean(&s.identity),
                    clean(&s.peer),
                    opt(&s.target),
                    opt(&s.login),
                    opt(&s.close_reason),
                ]
            })
            .collect(),
    }
}

pub fn channels(rows: &[ChannelRow]) -> Table {
    Table {
        header: vec![
            "STARTED", "DURATION", "SESSION", "CH", "IDENTITY", "TARGET", "LOGIN", "KIND", "EXIT",
            "IN", "OUT", "END", "COMMAND",
        ],
        rows: rows
            .iter()
            .map(|c| {
                let exit = match (&c.exit_status, &c.exit_signal) {
                    (Some(status), _) => status.to_string(),
                    (None, Some(signal)) => format!("SIG{}", clean(signal)),
                    (None, None) => "-".to_string(),
                };
                vec![
                    time(c.started_at_ms),
                    duration(c.started_at_ms, c.ended_at_ms),
                    clean(&c.session_id),
                    c.channel.to_string(),
                    clean(&c.identity),
                    clean(&c.target),
                    clean(&c.login),
                    clean(&c.kind),
                    exit,
                    c.bytes_in.map_or("-".to_string(), |b| b.to_string()),
                    c.bytes_out.map_or("-".to_string(), |b| b.to_string()),
                    opt(&c.close_reason),
                    opt(&c.command),
                ]
            })
            .collect(),
    }
}

pub fn auth(rows: &[AuthRow]) -> Table {
    Table {
        header: vec![
            "TIME",
            "RESULT",
            "PEER",
            "USER NAME",
            "IDENTITY",
            "SERIAL",
            "PRINCIPALS",
            "REASON",
        ],
        rows: rows
            .iter()
            .map(|a| {
                // A certificate that did not check out shows what it claimed, apart.
                let identity = match (&a.identity, &a.offered) {
                    (None, Some(o)) => format!("(unverified: {})", clean(o)),
                    _ => opt(&a.identity),
                };
                vec![
                    time(a.at_ms),
                    if a.accepted { "accepted" } else { "refused" }.to_string(),
                    clean(&a.peer),
                    clean(&a.user_name),
                    identity,
                    a.serial.map_or("-".to_string(), |s| s.to_string()),
                    a.principals
                        .as_ref()
                        .map_or("-".to_string(), |p| clean(&p.join(","))),
                    clean(&a.reason),
                ]
            })
            .collect(),
    }
}

/// Control characters (C0, DEL, C1) as Rust escapes; everything else as is.
pub fn certs(rows: &[CertificateRow]) -> Table {
    Table {
        header: vec![
            "ISSUED",
            "SERIAL",
            "KEY ID",
            "PRINCIPALS",
            "VALID UNTIL",
            "SOURCE",
            "REVOKED",
            "KEY",
        ],
        rows: rows
            .iter()
            .map(|c| {
                vec![
                    time(c.issued_at_ms),
                    clean(&c.serial),
                    clean(&c.key_id),
                    clean(&c.principals.join(",")),
                    time(c.valid_before_ms),
                    clean(&c.source),
                    if c.revoked { "revoked" } else { "-" }.to_string(),
                    clean(&c.public_key),
                ]
            })
            .collect(),
    }
}

pub fn approvals(rows: &[ApprovalRow]) -> Table {
    Table {
        header: vec![
            "REQUESTED",
            "ID",
            "REQUESTER",
            "TARGET",
            "LOGIN",
            "RULE",
            "STATE",
            "DECIDED BY",
            "COMMAND",
        ],
        rows: rows
            .iter()
            .map(|r| {
                let by: Vec<String> = r
                    .votes
                    .iter()
                    .map(|v| {
                        let verb = if v.approve { "approved" } else { "denied" };
                        format!("{} {verb}: {}", v.reviewer, v.reason)
                    })
                    .collect();
                vec![
                    time(r.requested_at_ms),
                    r.id.to_string(),
                    clean(&r.requester),
                    clean(&r.target),
                    clean(&r.login),
                    clean(&r.rule),
                    clean(&r.state),
                    clean(&if by.is_empty() {
                        "-".to_string()
                    } else {
                        by.join("; ")
                    }),
                    clean(&r.command),
                ]
            })
            .collect(),
    }
}

pub(super) fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if out.is_empty() {
        "\"\"".to_string()
    } else {
        out
    }
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map_or("-".to_string(), clean)
}

/// Last second RFC 3339 can write (9999-12-31T23:59:59Z).
const LAST_RFC3339_SECOND: u64 = 253_402_300_799;

fn time(ms: i64) -> String {
    // A row can hold any number (a certificate valid for 10,000 years, an edited row): past
    // year 9999 it is shown as it is stored.
    match u64::try_from(ms) {
        Ok(m) if m / 1000 <= LAST_RFC3339_SECOND => {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(m)).to_string()
        }
        _ => format!("{ms} ms"),
    }
}

fn duration(start: i64, end: Option<i64>) -> String {
    match end {
        None => "running".to_string(),
        Some(end) => {
            let secs = u64::try_from(end.saturating_sub(start) / 1000).unwrap_or(0);
            humantime::format_duration(Duration::from_secs(secs)).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_and_aligns() {
        assert_eq!(clean("rm -rf /\x1b[2J\n"), "rm -rf /\\u{1b}[2J\\n");
        assert_eq!(clean("\u{9b}31m"), "\\u{9b}31m");
        let t = Table {
            header: vec!["A", "B"],
            rows: vec![vec!["long cell".into(), "x".into()]],
        };
        let mut out = Vec::new();
        t.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "A          B\nlong cell  x\n"
        );
    }

    #[test]
    fn times_past_year_9999_are_shown_as_stored() {
        assert_eq!(time(0), "1970-01-01T00:00:00Z");
        assert_eq!(time(253_402_300_799_000), "9999-12-31T23:59:59Z");
        assert_eq!(time(253_402_300_800_000), "253402300800000 ms");
        assert_eq!(time(i64::MAX), format!("{} ms", i64::MAX));
        assert_eq!(time(-5), "-5 ms");
    }
}
