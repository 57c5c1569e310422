//! The header line: asciicast v3 fields plus the bastion's own `bastion` object.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The asciicast v3 header of one channel's recording.
///
/// Serialised as `{"version":3,"term":…,"timestamp":…,"command":…,"title":…,"env":…,"bastion":…}`;
/// players ignore keys they do not know, so `bastion` costs nothing in `asciinema play`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Initial terminal size and type.
    pub term: Term,
    /// Start of the recording, unix seconds.
    pub timestamp: u64,
    /// Exec command or subsystem name, when the channel has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Free-form title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Environment variables passed on the channel (after the allowlist). Sorted so that the
    /// header bytes, and so the chain, do not depend on map iteration order.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Who, from where, to where.
    pub bastion: BastionMeta,
}

/// `term` in the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    /// Columns.
    pub cols: u16,
    /// Rows.
    pub rows: u16,
    /// `TERM` value from the pty request, if any.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub term_type: Option<String>,
}

/// Largest terminal emulated when a screen is rebuilt from output (shell holds, the review
/// console, `bastion play`). A terminal emulator allocates every cell up front (vt100: 32
/// bytes each), so a client announcing a 65535×65535 terminal would otherwise make each of
/// them ask for 137 GB. Bigger terminals are emulated at this size; the target still gets the
/// size the client asked for.
pub const MAX_EMULATED: Term = Term {
    cols: 1000,
    rows: 500,
    term_type: None,
};

/// `(rows, cols)` of a terminal as emulated: at least 1, at most [`MAX_EMULATED`].
pub fn emulated_size(rows: u32, cols: u32) -> (std::num::NonZeroU16, std::num::NonZeroU16) {
    let fit = |v: u32, max: u16| {
        let v = u16::try_from(v).unwrap_or(u16::MAX).min(max);
        std::num::NonZeroU16::new(v).unwrap_or(std::num::NonZeroU16::MIN)
    };
    (fit(rows, MAX_EMULATED.rows), fit(cols, MAX_EMULATED.cols))
}

/// The `bastion` object of the header: the audit context of the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BastionMeta {
    /// Session id (also in the file name).
    pub session: String,
    /// SSH channel number within the session.
    pub channel: u32,
    /// User identity: the certificate key id (OIDC subject or e-mail), or the break-glass key name.
    pub user: String,
    /// Certificate serial, absent for device-flow and break-glass logins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_serial: Option<u64>,
    /// Client address as `ip:port`.
    pub source: String,
    /// Target name.
    pub target: String,
    /// Login on the target.
    pub login: String,
    /// What the channel runs.
    pub kind: ChannelKind,
}

/// What an SSH session channel was opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// Interactive shell.
    Shell,
    /// One command (`ssh host cmd`).
    Exec,
    /// A subsystem such as sftp.
    Subsystem,
}

#[derive(Serialize)]
struct HeaderLine<'a> {
    version: u8,
    #[serde(flatten)]
    header: &'a Header,
}

impl Header {
    /// The header line exactly as written (without its newline).
    pub fn to_line(&self) -> Vec<u8> {
        // A struct of strings, integers and a string map cannot fail to serialise; fall back to a
        // minimal valid header rather than panic, should serde_json ever change that.
        serde_json::to_vec(&HeaderLine {
            version: 3,
            header: self,
        })
        .unwrap_or_else(|_| b"{\"version\":3,\"term\":{\"cols\":80,\"rows\":24}}".to_vec())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    #[test]
    fn header_line_is_v3_with_bastion_object() {
        let h = Header {
            term: Term {
                cols: 100,
                rows: 30,
                term_type: Some("xterm-256color".into()),
            },
            timestamp: 1_700_000_000,
            command: Some("uptime".into()),
            title: None,
            env: [("LANG".to_string(), "C".to_string())].into(),
            bastion: BastionMeta {
                session: "s1".into(),
                channel: 0,
                user: "alice@example.com".into(),
                cert_serial: Some(7),
                source: "10.0.0.1:5555".into(),
                target: "db1".into(),
                login: "postgres".into(),
                kind: ChannelKind::Exec,
            },
        };
        let line = String::from_utf8(h.to_line()).unwrap();
        assert!(line.starts_with("{\"version\":3,\"term\":{\"cols\":100,\"rows\":30,\"type\":\"xterm-256color\"},\"timestamp\":1700000000,\"command\":\"uptime\""), "{line}");
        assert!(!line.contains("title"));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["bastion"]["kind"], "exec");
        assert_eq!(v["bastion"]["cert_serial"], 7);
        assert_eq!(v["env"]["LANG"], "C");
        let back: Header = serde_json::from_str(&line).unwrap();
        assert_eq!(back, h);
    }
}
