//! The header line: asciicast v3 ([`asciicast::Header`]) plus the bastion's own `bastion`
//! object ([`BastionMeta`]).

use asciicast::{v3, Header, Term};
use serde::{Deserialize, Serialize};

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

impl BastionMeta {
    /// The `bastion` object of `header`: `None` when it has none, an error when its value is
    /// not one (a recording the bastion did not write may use the key otherwise).
    pub fn from_header(header: &Header) -> Option<Result<BastionMeta, serde_json::Error>> {
        header.extra.get(BASTION_KEY)
    }
}

/// The header key of the bastion's object.
pub const BASTION_KEY: &str = "bastion";

/// The header line of a channel's recording exactly as written (without its newline): `header`
/// as asciicast v3, with `meta` as its `bastion` object after the format's keys. Players ignore
/// keys they do not know, so the object costs nothing in `asciinema play`.
pub fn header_line(header: &Header, meta: &BastionMeta) -> Vec<u8> {
    let mut header = header.clone();
    // Strings, integers and an enum cannot fail to serialise; were serde_json ever to fail,
    // the header would lack the object (and `bastion verify` would say so), not the recording.
    let _ = header.extra.insert(BASTION_KEY, meta);
    v3::Encoder::new().header(&header)
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
            timestamp: Some(1_700_000_000),
            command: Some("uptime".into()),
            title: None,
            env: [("LANG".to_string(), "C".to_string())].into(),
            ..Header::default()
        };
        let meta = BastionMeta {
            session: "s1".into(),
            channel: 0,
            user: "alice@example.com".into(),
            cert_serial: Some(7),
            source: "10.0.0.1:5555".into(),
            target: "db1".into(),
            login: "postgres".into(),
            kind: ChannelKind::Exec,
        };
        let line = String::from_utf8(header_line(&h, &meta)).unwrap();
        assert!(line.starts_with("{\"version\":3,\"term\":{\"cols\":100,\"rows\":30,\"type\":\"xterm-256color\"},\"timestamp\":1700000000,\"command\":\"uptime\""), "{line}");
        assert!(!line.contains("title"));
        // Byte for byte as the recorder has always written it: the chain starts from it.
        assert_eq!(
            line,
            concat!(
                "{\"version\":3,\"term\":{\"cols\":100,\"rows\":30,\"type\":\"xterm-256color\"},",
                "\"timestamp\":1700000000,\"command\":\"uptime\",\"env\":{\"LANG\":\"C\"},",
                "\"bastion\":{\"session\":\"s1\",\"channel\":0,\"user\":\"alice@example.com\",",
                "\"cert_serial\":7,\"source\":\"10.0.0.1:5555\",\"target\":\"db1\",",
                "\"login\":\"postgres\",\"kind\":\"exec\"}}"
            )
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["bastion"]["kind"], "exec");
        assert_eq!(v["bastion"]["cert_serial"], 7);
        assert_eq!(v["env"]["LANG"], "C");
        let (mut back, _) = asciicast::Decoder::header(&line).unwrap();
        assert_eq!(BastionMeta::from_header(&back).unwrap().unwrap(), meta);
        assert!(back.extra.remove(BASTION_KEY));
        assert_eq!(back, h);
    }
}
