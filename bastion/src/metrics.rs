//! Counters and gauges for `GET /metrics`, in the Prometheus text format (version 0.0.4) as
//! `prometheus-client` writes it. Numbers only: no identity, target or stream content appears
//! here.
//!
//! Names are registered the library's way: counters without their `_total` suffix and help
//! texts without their final period, both of which the encoder adds.

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::family::Family;
pub use prometheus_client::metrics::{counter::Counter, gauge::Gauge};
use prometheus_client::registry::Registry;

use crate::gateway::admission::Refused;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Process-wide figures, shared by the gateway and the API.
#[derive(Debug)]
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
    /// Connections dropped before their key exchange, by reason (see [`Refused`]): source
    /// rate, source full, full, early drop.
    pub dropped: [Counter; 4],
    /// The recording spool and its uploads to the object store.
    pub spool: std::sync::Arc<crate::store::spool::SpoolStats>,
    /// Live channels watched across bastions, by [`Watch`].
    remote_watches: [Counter; 4],
    /// Set from the audit writer's count when rendered.
    audit_ends_waiting: Gauge,
    registry: Registry,
}

/// One label and its value.
type Label = [(&'static str, &'static str); 1];

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let mut gauge = |name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let sessions = gauge("bastion_sessions", "Authenticated SSH connections open now");
        let channels = gauge("bastion_channels", "Channels open now");
        let audit_ends_waiting = gauge(
            "bastion_audit_ends_waiting",
            "Session and channel ends waiting for the audit database to come back",
        );
        // Every label value is there from the start, at 0.
        let authentications = Family::<Label, Counter>::default();
        registry.register(
            "bastion_authentications",
            "Authentications by outcome",
            authentications.clone(),
        );
        let auth_accepted = authentications.get_or_create_owned(&[("result", "accepted")]);
        let auth_refused = authentications.get_or_create_owned(&[("result", "refused")]);
        let drops = Family::<Label, Counter>::default();
        registry.register(
            "bastion_connections_dropped",
            "Connections dropped before their key exchange, by reason",
            drops.clone(),
        );
        let dropped = Refused::ALL.map(|why| drops.get_or_create_owned(&[("reason", why.code())]));
        let watches = Family::<Label, Counter>::default();
        registry.register(
            "bastion_remote_watches",
            "Live channels watched across bastions: opened here, failed here, served to another, refused",
            watches.clone(),
        );
        let remote_watches =
            Watch::ALL.map(|w| watches.get_or_create_owned(&[("result", w.code())]));
        let spool = crate::store::spool::SpoolStats::default();
        registry.register(
            "bastion_spool_bytes",
            "Bytes in the recording spool (with an object store: waiting for it)",
            spool.bytes.clone(),
        );
        registry.register(
            "bastion_spool_pending_recordings",
            "Recordings in the spool not yet wholly in the object store",
            spool.pending.clone(),
        );
        registry.register(
            "bastion_store_objects",
            "Objects written to the recording store",
            spool.objects.clone(),
        );
        registry.register(
            "bastion_store_bytes",
            "Bytes written to the recording store",
            spool.uploaded_bytes.clone(),
        );
        registry.register(
            "bastion_store_upload_failures",
            "Uploads to the recording store that failed (each is retried)",
            spool.failures.clone(),
        );
        let mut counter = |name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        Metrics {
            remote_watches,
            spool: std::sync::Arc::new(spool),
            sessions,
            channels,
            auth_accepted,
            auth_refused,
            dropped,
            certificates_issued: counter(
                "bastion_certificates_issued",
                "Certificates issued (API) and device logins admitted (ssh)",
            ),
            recording_failures: counter(
                "bastion_recording_failures",
                "Recordings that failed, ending their channel",
            ),
            bytes_out: counter(
                "bastion_output_bytes",
                "Bytes relayed from targets to users",
            ),
            audit_ends_waiting,
            registry,
        }
    }
}

/// The outcome of watching a live channel across bastions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// A reviewer here follows a channel of another bastion.
    Opened,
    /// A reviewer here could not follow one (its bastion unreachable, or it refused).
    Failed,
    /// This bastion serves one of its channels to another's reviewer.
    Served,
    /// This bastion refused a feed (no valid ticket).
    Refused,
}

impl Watch {
    const ALL: [Watch; 4] = [Watch::Opened, Watch::Failed, Watch::Served, Watch::Refused];

    fn code(self) -> &'static str {
        match self {
            Watch::Opened => "opened",
            Watch::Failed => "failed",
            Watch::Served => "served",
            Watch::Refused => "refused",
        }
    }
}

impl Metrics {
    /// Counts a watch across bastions.
    pub fn remote_watch(&self, w: Watch) {
        self.remote_watches[w as usize].inc();
    }

    /// Counts a connection dropped at accept.
    pub fn connections_dropped(&self, why: Refused) {
        self.dropped[why as usize].inc();
    }

    /// The Prometheus text exposition; `audit_ends_waiting` comes from
    /// [`crate::audit::Endings::waiting`].
    pub fn render(&self, audit_ends_waiting: usize) -> String {
        self.audit_ends_waiting
            .set(i64::try_from(audit_ends_waiting).unwrap_or(i64::MAX));
        let mut out = String::new();
        // Writing into a String does not fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Metrics;
    use crate::gateway::admission::Refused;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.auth_refused.inc();
        m.sessions.inc();
        m.bytes_out.inc_by(42);
        let text = m.render(3);
        assert!(text.contains("bastion_sessions 1\n"), "{text}");
        assert!(text.contains("bastion_authentications_total{result=\"refused\"} 1\n"));
        assert!(text.contains("bastion_output_bytes_total 42\n"));
        assert!(text.contains("bastion_audit_ends_waiting 3\n"));
        m.sessions.dec();
        assert!(m.render(0).contains("bastion_sessions 0\n"));
    }

    #[test]
    fn names_types_help_and_labels_are_the_documented_ones() {
        let m = Metrics::default();
        m.connections_dropped(Refused::Rate);
        m.certificates_issued.inc();
        let text = m.render(0);
        let mut lines: Vec<&str> = text.lines().collect();
        // The library writes a family's series in no fixed order.
        lines[11..13].sort_unstable();
        lines[15..19].sort_unstable();
        lines[21..25].sort_unstable();
        assert_eq!(
            lines,
            [
                "# HELP bastion_sessions Authenticated SSH connections open now.",
                "# TYPE bastion_sessions gauge",
                "bastion_sessions 0",
                "# HELP bastion_channels Channels open now.",
                "# TYPE bastion_channels gauge",
                "bastion_channels 0",
                "# HELP bastion_audit_ends_waiting Session and channel ends waiting for the audit database to come back.",
                "# TYPE bastion_audit_ends_waiting gauge",
                "bastion_audit_ends_waiting 0",
                "# HELP bastion_authentications_total Authentications by outcome.",
                "# TYPE bastion_authentications_total counter",
                "bastion_authentications_total{result=\"accepted\"} 0",
                "bastion_authentications_total{result=\"refused\"} 0",
                "# HELP bastion_connections_dropped_total Connections dropped before their key exchange, by reason.",
                "# TYPE bastion_connections_dropped_total counter",
                "bastion_connections_dropped_total{reason=\"early-drop\"} 0",
                "bastion_connections_dropped_total{reason=\"full\"} 0",
                "bastion_connections_dropped_total{reason=\"source-full\"} 0",
                "bastion_connections_dropped_total{reason=\"source-rate\"} 1",
                "# HELP bastion_remote_watches_total Live channels watched across bastions: opened here, failed here, served to another, refused.",
                "# TYPE bastion_remote_watches_total counter",
                "bastion_remote_watches_total{result=\"failed\"} 0",
                "bastion_remote_watches_total{result=\"opened\"} 0",
                "bastion_remote_watches_total{result=\"refused\"} 0",
                "bastion_remote_watches_total{result=\"served\"} 0",
                "# HELP bastion_spool_bytes Bytes in the recording spool (with an object store: waiting for it).",
                "# TYPE bastion_spool_bytes gauge",
                "bastion_spool_bytes 0",
                "# HELP bastion_spool_pending_recordings Recordings in the spool not yet wholly in the object store.",
                "# TYPE bastion_spool_pending_recordings gauge",
                "bastion_spool_pending_recordings 0",
                "# HELP bastion_store_objects_total Objects written to the recording store.",
                "# TYPE bastion_store_objects_total counter",
                "bastion_store_objects_total 0",
                "# HELP bastion_store_bytes_total Bytes written to the recording store.",
                "# TYPE bastion_store_bytes_total counter",
                "bastion_store_bytes_total 0",
                "# HELP bastion_store_upload_failures_total Uploads to the recording store that failed (each is retried).",
                "# TYPE bastion_store_upload_failures_total counter",
                "bastion_store_upload_failures_total 0",
                "# HELP bastion_certificates_issued_total Certificates issued (API) and device logins admitted (ssh).",
                "# TYPE bastion_certificates_issued_total counter",
                "bastion_certificates_issued_total 1",
                "# HELP bastion_recording_failures_total Recordings that failed, ending their channel.",
                "# TYPE bastion_recording_failures_total counter",
                "bastion_recording_failures_total 0",
                "# HELP bastion_output_bytes_total Bytes relayed from targets to users.",
                "# TYPE bastion_output_bytes_total counter",
                "bastion_output_bytes_total 0",
            ]
        );
    }
}
