//! Counters and gauges for `GET /metrics` (Prometheus text format). Numbers only: no identity,
//! target or stream content appears here.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Process-wide figures, shared by the gateway and the API.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Authenticated connections open now.
    pub sessions: Gauge,
    /// Channels open now (sessions, exec, sftp, forwards).
    pub channels: Gauge,
    /// Authentications accepted.
    pub auth_accepted: Counter,
    /// Authentications refused (any reason).
    pub auth_refused: Counter,
    /// Certificates issued by the API, and device logins admitted over ssh.
    pub certificates_issued: Counter,
    /// Recordings that failed and ended their channel.
    pub recording_failures: Counter,
    /// Channel bytes from targets to users (before masking).
    pub bytes_out: Counter,
    /// Connections dropped before their key exchange, by reason (see
    /// [`crate::gateway::admission::Refused`]): source rate, source full, full, early drop.
    pub dropped: [Counter; 4],
}

impl Metrics {
    /// Counts a connection dropped at accept.
    pub fn connections_dropped(&self, why: crate::gateway::admission::Refused) {
        self.dropped[why as usize].inc();
    }
}

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Up by one (pair with [`Gauge::dec`]).
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    /// Down by one.
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
    fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Metrics {
    /// The Prometheus text exposition; `audit_ends_waiting` comes from
    /// [`crate::audit::Endings::waiting`].
    pub fn render(&self, audit_ends_waiting: usize) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, v: i64| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
            );
        };
        gauge(
            "bastion_sessions",
            "Authenticated SSH connections open now.",
            self.sessions.get(),
        );
        gauge(
            "bastion_channels",
            "Channels open now.",
            self.channels.get(),
        );
        gauge(
            "bastion_audit_ends_waiting",
            "Session and channel ends waiting for the audit database to come back.",
            i64::try_from(audit_ends_waiting).unwrap_or(i64::MAX),
        );
        let _ = write!(
            out,
            "# HELP bastion_authentications_total Authentications by outcome.\n\
             # TYPE bastion_authentications_total counter\n\
             bastion_authentications_total{{result=\"accepted\"}} {}\n\
             bastion_authentications_total{{result=\"refused\"}} {}\n",
            self.auth_accepted.get(),
            self.auth_refused.get()
        );
        let _ = writeln!(
            out,
            "# HELP bastion_connections_dropped_total Connections dropped before their key exchange, by reason.\n\
             # TYPE bastion_connections_dropped_total counter"
        );
        for why in crate::gateway::admission::Refused::ALL {
            let _ = writeln!(
                out,
                "bastion_connections_dropped_total{{reason=\"{}\"}} {}",
                why.code(),
                self.dropped[why as usize].get()
            );
        }
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
            );
        };
        counter(
            "bastion_certificates_issued_total",
            "Certificates issued (API) and device logins admitted (ssh).",
            self.certificates_issued.get(),
        );
        counter(
            "bastion_recording_failures_total",
            "Recordings that failed, ending their channel.",
            self.recording_failures.get(),
        );
        counter(
            "bastion_output_bytes_total",
            "Bytes relayed from targets to users.",
            self.bytes_out.get(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Metrics;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.auth_refused.inc();
        m.sessions.inc();
        m.bytes_out.add(42);
        let text = m.render(3);
        assert!(text.contains("bastion_sessions 1\n"), "{text}");
        assert!(text.contains("bastion_authentications_total{result=\"refused\"} 1\n"));
        assert!(text.contains("bastion_output_bytes_total 42\n"));
        assert!(text.contains("bastion_audit_ends_waiting 3\n"));
        m.sessions.dec();
        assert!(m.render(0).contains("bastion_sessions 0\n"));
    }
}
