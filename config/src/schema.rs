//! The typed sections of `bastion.toml`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::types::{Capability, Port, Seconds};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`: listening socket, host key, connection limits.
    pub server: Server,
    /// `[ca]`: the user CA and the target CA.
    pub ca: Ca,
    /// `[recording]`: where and how channels are recorded.
    #[serde(default)]
    pub recording: Recording,
    /// `[audit]`: the audit database.
    #[serde(default)]
    pub audit: Audit,
    /// `[[targets]]`: the servers users may reach.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// `[[roles]]`: who may reach what, and with which capabilities.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// `[masking]`: PHI masking rules and the live hold.
    #[serde(default)]
    pub masking: Masking,
    /// `[oidc]`: the company's OpenID provider, for people's certificates (optional).
    #[serde(default)]
    pub oidc: Option<Oidc>,
    /// `[[ci]]`: workload identities (CI jobs' OIDC tokens) trusted for short certificates.
    #[serde(default)]
    pub ci: Vec<CiRule>,
    /// `[approval]`: commands that wait for another person's approval.
    #[serde(default)]
    pub approval: Approval,
    /// `[dev]`: settings that only make sense on a developer's machine.
    #[serde(default)]
    pub dev: Dev,
    /// What the file turns on that weakens the bastion but may be needed (older algorithms for
    /// old clients), each with its key and line: `config check` prints them and `serve` logs
    /// them; they never stop the bastion.
    #[serde(skip)]
    pub warnings: Vec<crate::error::Problem>,
}

/// `[approval]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// `[[approval.rules]]`, first match wins.
    #[serde(default)]
    pub rules: Vec<ApprovalRule>,
    /// URL that receives a JSON POST for each new request and each decision (retried; never
    /// delays a decision).
    #[serde(default)]
    pub webhook: Option<String>,
    /// Requests one identity may have waiting at once, across every bastion sharing the audit
    /// store; more are refused at once, so a runaway script cannot bury the reviewers' queue.
    #[serde(default = "defaults::max_pending_per_user")]
    pub max_pending_per_user: u32,
    /// Programs that read commands from stdin when run with no command or script argument
    /// (name globs): run without a terminal where command rules apply, each line they read is
    /// judged like a typed shell line.
    #[serde(default = "defaults::interpreters")]
    pub interpreters: Vec<String>,
}

impl Default for Approval {
    fn default() -> Self {
        Approval {
            rules: Vec::new(),
            webhook: None,
            max_pending_per_user: defaults::max_pending_per_user(),
            interpreters: defaults::interpreters(),
        }
    }
}

/// `[[approval.rules]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRule {
    /// Shown to the user, the reviewers and in the audit trail.
    pub name: String,
    /// Regular expression searched in the command line (exec command or shell line).
    #[serde(default)]
    pub command: Option<String>,
    /// Applies on these targets (name globs or `KEY=VALUE` label selectors); empty: all.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Applies to sessions granted by these roles (names); empty: all.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Principals (groups) whose members may decide; nobody decides their own request.
    pub approvers: Vec<String>,
    /// Approvals needed (default: one per listed approver group).
    #[serde(default)]
    pub approvals: Option<u32>,
    /// Time to decide; the request is denied when it runs out.
    #[serde(default = "defaults::approval_timeout")]
    pub timeout: Seconds,
    /// Every shell on these targets needs approval before it starts (just-in-time access).
    #[serde(default)]
    pub whole_session: bool,
}

/// `[oidc]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Oidc {
    /// The provider's issuer URL (discovery at `ISSUER/.well-known/openid-configuration`).
    pub issuer: String,
    /// The client id users sign in with; ID tokens must name it as their audience.
    pub client_id: String,
    /// Scopes `bastion login` asks for.
    #[serde(default = "defaults::oidc_scopes")]
    pub scopes: Vec<String>,
    /// The claim that becomes the certificate's key id (who the holder is).
    #[serde(default = "defaults::identity_claim")]
    pub identity_claim: String,
    /// The claim whose values (e.g. groups) become principals, when a role names them.
    #[serde(default = "defaults::principals_claim")]
    pub principals_claim: String,
    /// The claim that gives the holder's default login on targets.
    #[serde(default)]
    pub username_claim: Option<String>,
    /// Clock difference tolerated on `exp` and `iat`.
    #[serde(default = "defaults::clock_skew")]
    pub clock_skew: Seconds,
    /// Whether a user without a certificate may sign in from plain `ssh` (keyboard-interactive
    /// shows the device-grant URL and code).
    #[serde(default = "defaults::yes")]
    pub device_login: bool,
    /// How long such a sign-in may take.
    #[serde(default = "defaults::device_login_timeout")]
    pub device_login_timeout: Seconds,
    /// Such sign-ins that may wait at once from one source address (an IPv6 /64 counts as
    /// one): waiting ones hold no unauthenticated-connection place, so they need a limit of
    /// their own.
    #[serde(default = "defaults::device_login_max_per_source")]
    pub device_login_max_per_source: usize,
}

/// `[[ci]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CiRule {
    /// The CI system's token issuer URL.
    pub issuer: String,
    /// The audience the job requests its token for.
    pub audience: String,
    /// Glob on the token's `sub` (`repo:org/app:ref:refs/heads/main`, `repo:org/*`).
    pub subject: String,
    /// The role whose principals the certificate carries.
    pub role: String,
    /// Certificate lifetime.
    #[serde(default = "defaults::ci_ttl")]
    pub ttl: Seconds,
}

/// `[masking]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Masking {
    /// Built-in rule packs: `hipaa`, `gdpr`.
    #[serde(default = "defaults::packs")]
    pub packs: Vec<String>,
    /// Also mask IPv4 addresses (off by default).
    #[serde(default)]
    pub ipv4: bool,
    /// Labels that introduce a medical record number (replace the pack's list when given;
    /// an entry `"..."` stands for the pack's list, so it is extended instead).
    #[serde(default)]
    pub mrn_labels: Vec<String>,
    /// Labels that introduce an account number (as `mrn_labels`).
    #[serde(default)]
    pub account_labels: Vec<String>,
    /// Labels that introduce a health-plan member number (as `mrn_labels`).
    #[serde(default)]
    pub member_labels: Vec<String>,
    /// Sensitive field names (table columns, JSON and YAML keys, `key=value` labels): globs,
    /// case-insensitive, `_`, `-`, `.`, space and nothing alike. They replace the packs' list;
    /// an entry `"..."` stands for it (extends it). An entry may be scoped to targets and roles.
    #[serde(default)]
    pub fields: Vec<FieldEntry>,
    /// Longest the live masker holds a possible identifier back, in milliseconds.
    #[serde(default = "defaults::live_hold_ms")]
    pub live_hold_ms: u64,
    /// Site rules, added after the packs.
    #[serde(default)]
    pub rules: Vec<MaskRule>,
}

impl Default for Masking {
    fn default() -> Self {
        Masking {
            packs: defaults::packs(),
            ipv4: false,
            mrn_labels: Vec::new(),
            account_labels: Vec::new(),
            member_labels: Vec::new(),
            fields: Vec::new(),
            live_hold_ms: defaults::live_hold_ms(),
            rules: Vec::new(),
        }
    }
}

/// The entry of a label or field list that stands for the packs' own list.
pub const PACK_LIST: &str = "...";

/// One entry of `[masking] fields`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum FieldEntry {
    /// A glob that applies everywhere (or `"..."`, the packs' list).
    Name(String),
    /// A glob that applies only on some targets or through some roles:
    /// `{ name = "notes", targets = ["kind=db"] }`.
    Scoped(ScopedField),
}

impl FieldEntry {
    /// The glob.
    pub fn name(&self) -> &str {
        match self {
            FieldEntry::Name(n) => n,
            FieldEntry::Scoped(s) => &s.name,
        }
    }

    /// Whether it applies only on some targets or through some roles.
    pub fn is_scoped(&self) -> bool {
        matches!(self, FieldEntry::Scoped(s) if !(s.targets.is_empty() && s.roles.is_empty()))
    }
}

/// A scoped entry of `[masking] fields`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopedField {
    /// Glob naming the field.
    pub name: String,
    /// Apply only on these targets (name globs or `KEY=VALUE` label selectors); empty: all.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Apply only to sessions granted by these roles (names); empty: all.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// `[[masking.rules]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskRule {
    /// Name shown by `config check --masking` and `mask-test`; a pack rule of the same name is
    /// replaced.
    pub name: String,
    /// Regular expression (ASCII classes; its matches must have a bounded length).
    pub pattern: String,
    /// Capture group to mask instead of the whole match (for "keyword … value" rules).
    #[serde(default)]
    pub group: Option<usize>,
    /// A validator (`luhn`, `npi`, `ssn`, `iban`, …): a candidate is masked only if it passes.
    #[serde(default)]
    pub validator: Option<String>,
    /// Turn the rule off without deleting it (also works for pack rules, by name).
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
    /// Apply only on these targets (name globs or `KEY=VALUE` label selectors); empty: all.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Apply only to sessions granted by these roles (names); empty: all.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Address the SSH server listens on, e.g. `0.0.0.0:2222`.
    pub listen: String,
    /// The bastion's host key (OpenSSH private key file).
    pub host_key: PathBuf,
    /// Connections that have not finished authenticating, at most; more are dropped at accept.
    #[serde(default = "defaults::max_unauthenticated")]
    pub max_unauthenticated: usize,
    /// Unauthenticated connections from one address (an IPv6 /64) at most; default a quarter
    /// of `max_unauthenticated`.
    #[serde(default)]
    pub max_unauthenticated_per_source: Option<usize>,
    /// From this many unauthenticated connections on, new ones are dropped at random
    /// (`early_drop_rate` percent here, rising to all at `max_unauthenticated`), as OpenSSH's
    /// `MaxStartups` does; default half of `max_unauthenticated`.
    #[serde(default)]
    pub early_drop_from: Option<usize>,
    /// Percent of new connections dropped at `early_drop_from`.
    #[serde(default = "defaults::early_drop_rate")]
    pub early_drop_rate: u32,
    /// New connections one address may open per second (as many at once): each costs a key
    /// exchange.
    #[serde(default = "defaults::connection_rate_per_source")]
    pub connection_rate_per_source: u32,
    /// Authentication attempts per connection before it is closed.
    #[serde(default = "defaults::max_auth_attempts")]
    pub max_auth_attempts: usize,
    /// Connections one identity may have open on this bastion at once; none: no limit.
    #[serde(default)]
    pub max_sessions_per_identity: Option<usize>,
    /// Time a connection has to authenticate.
    #[serde(default = "defaults::login_grace_time")]
    pub login_grace_time: Seconds,
    /// Interval of server keepalives when the client is silent.
    #[serde(default = "defaults::keepalive_interval")]
    pub keepalive_interval: Seconds,
    /// Unanswered keepalives before the connection is dropped.
    #[serde(default = "defaults::keepalive_max")]
    pub keepalive_max: usize,
    /// Session channels per connection (ControlMaster multiplexing), at most.
    #[serde(default = "defaults::max_channels")]
    pub max_channels_per_connection: usize,
    /// Environment variables passed on to targets; `*` at the end matches a prefix.
    #[serde(default = "defaults::env_allow")]
    pub env_allow: Vec<String>,
    /// Time allowed to connect and log in to a target.
    #[serde(default = "defaults::connect_timeout")]
    pub connect_timeout: Seconds,
    /// How often an open connection checks that its certificate has not been revoked.
    #[serde(default = "defaults::revocation_check_interval")]
    pub revocation_check_interval: Seconds,
    /// Address of the HTTP API (certificates for OIDC and CI tokens); none: no API.
    #[serde(default)]
    pub api_listen: Option<String>,
    /// TLS certificate chain (PEM) of the HTTP API; required unless it listens on loopback.
    #[serde(default)]
    pub api_tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) of the HTTP API.
    #[serde(default)]
    pub api_tls_key: Option<PathBuf>,
    /// Where the other bastions of a fleet reach this one's API (`https://bastion-a.internal:8443`),
    /// to watch its live sessions; none: the bound `api_listen` address.
    #[serde(default)]
    pub api_url: Option<String>,
    /// Ciphers offered to users, by OpenSSH name; none: chosen for this CPU (AES-GCM only when
    /// AES is in hardware, else ChaCha20-Poly1305 first).
    #[serde(default)]
    pub ciphers: Option<Vec<String>>,
    /// Key exchanges offered to users, by OpenSSH name, most preferred first; none:
    /// `mlkem768x25519-sha256`, `curve25519-sha256`. Older ones are for old clients only and
    /// make `config check` warn.
    #[serde(default)]
    pub kex: Option<Vec<String>>,
    /// MACs offered to users (used only with the CTR ciphers), most preferred first; none: the
    /// encrypt-then-MAC ones. Encrypt-and-MAC ones make `config check` warn.
    #[serde(default)]
    pub macs: Option<Vec<String>>,
}

impl Server {
    /// `max_unauthenticated_per_source`, or a quarter of the total (at least 1).
    pub fn unauthenticated_per_source(&self) -> usize {
        self.max_unauthenticated_per_source
            .unwrap_or((self.max_unauthenticated / 4).max(1))
    }

    /// `early_drop_from`, or half of the total (at least 1).
    pub fn early_drop_start(&self) -> usize {
        self.early_drop_from
            .unwrap_or((self.max_unauthenticated / 2).max(1))
    }
}

/// Cipher names `[server] ciphers` accepts: the AEADs and CTR modes.
pub const CIPHER_NAMES: &[&str] = &[
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
];

/// Key exchange names `[server] kex` accepts: what the SSH library implements, less SHA-1
/// (`diffie-hellman-group1-sha1`, `-group14-sha1`, `-group-exchange-sha1`), which no client
/// still in use needs.
pub const KEX_NAMES: &[&str] = &[
    "mlkem768x25519-sha256",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group15-sha512",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group17-sha512",
    "diffie-hellman-group18-sha512",
];

/// Key exchanges offered when `[server] kex` is not set: the post-quantum hybrid, then
/// Curve25519 for clients without it.
pub const DEFAULT_KEX: &[&str] = &["mlkem768x25519-sha256", "curve25519-sha256"];

/// Key exchanges that protect against a later quantum computer.
pub const POST_QUANTUM_KEX: &[&str] = &["mlkem768x25519-sha256"];

/// MAC names `[server] macs` accepts: SHA-2 only.
pub const MAC_NAMES: &[&str] = &[
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512",
    "hmac-sha2-256",
];

/// MACs offered when `[server] macs` is not set: encrypt-then-MAC only.
pub const DEFAULT_MACS: &[&str] = &[
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256-etm@openssh.com",
];

/// `[ca]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ca {
    /// Signs users' certificates; only the bastion trusts it.
    pub user_ca: PathBuf,
    /// Signs the per-session certificates the bastion logs in to targets with.
    pub target_ca: PathBuf,
    /// Lifetime of user certificates when none is asked for.
    #[serde(default = "defaults::default_ttl")]
    pub default_ttl: Seconds,
    /// Longest lifetime a user certificate may be given.
    #[serde(default = "defaults::max_ttl")]
    pub max_ttl: Seconds,
    /// Lifetime of the certificate minted for one upstream login.
    #[serde(default = "defaults::upstream_ttl")]
    pub upstream_ttl: Seconds,
}

/// `[recording]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// Directory of the asciicast files.
    #[serde(default = "defaults::recording_dir")]
    pub dir: PathBuf,
    /// Key that signs recording checkpoints.
    #[serde(default = "defaults::recording_key")]
    pub signing_key: PathBuf,
    /// Record what users type (off: typed passwords stay out of recordings).
    #[serde(default)]
    pub record_input: bool,
    /// Largest recording (cast file) per channel, in bytes: output that would take the file
    /// past it is only counted and hashed.
    #[serde(default = "defaults::max_channel_bytes")]
    pub max_channel_bytes: u64,
    /// Free space, in bytes, the recording volume must have for a new channel to start (0: no
    /// check).
    #[serde(default = "defaults::min_free")]
    pub min_free: u64,
    /// Where recordings are kept once written: an S3-compatible bucket and key prefix,
    /// `s3://bucket/prefix`. Unset: they stay in `dir`. Set: `dir` is a spool, emptied as the
    /// store acknowledges each recording.
    #[serde(default)]
    pub store: Option<String>,
    /// The store's endpoint, for S3-compatible servers (`http://127.0.0.1:3900`); unset: AWS
    /// S3 in `store_region`.
    #[serde(default)]
    pub store_endpoint: Option<String>,
    /// The store's region.
    #[serde(default = "defaults::store_region")]
    pub store_region: String,
    /// Path-style requests (`endpoint/bucket/key`), which most self-hosted servers need;
    /// off: virtual-hosted style (`bucket.endpoint/key`).
    #[serde(default)]
    pub store_path_style: bool,
    /// A file with the store's credentials as `AWS_ACCESS_KEY_ID=…` and
    /// `AWS_SECRET_ACCESS_KEY=…` lines (and optionally `AWS_SESSION_TOKEN=…`); unset: those
    /// environment variables.
    #[serde(default)]
    pub store_credentials: Option<PathBuf>,
    /// Bytes the spool (`dir`) may hold waiting for the store before new channels are refused.
    #[serde(default = "defaults::spool_limit")]
    pub spool_limit: u64,
    /// A running recording reaches the store at least this often (as a part, at its last
    /// signed checkpoint) while it grows.
    #[serde(default = "defaults::upload_every")]
    pub upload_every: Seconds,
    /// … or as soon as this many new bytes are signed, whichever comes first.
    #[serde(default = "defaults::upload_bytes")]
    pub upload_bytes: u64,
    /// Keep every object for this long with S3 Object Lock (`"6y"`); unset: no retention.
    #[serde(default)]
    pub retention: Option<Seconds>,
    /// Object Lock mode for `retention`.
    #[serde(default)]
    pub retention_mode: RetentionMode,
}

/// How an object's retention binds (S3 Object Lock).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionMode {
    /// No one, the root account included, can delete or shorten it before it expires.
    #[default]
    Compliance,
    /// Users with `s3:BypassGovernanceRetention` can.
    Governance,
}

impl RetentionMode {
    /// The mode's name in S3's `x-amz-object-lock-mode` header.
    pub fn header_value(self) -> &'static str {
        match self {
            RetentionMode::Compliance => "COMPLIANCE",
            RetentionMode::Governance => "GOVERNANCE",
        }
    }
}

impl Default for Recording {
    fn default() -> Self {
        Recording {
            dir: defaults::recording_dir(),
            signing_key: defaults::recording_key(),
            record_input: false,
            max_channel_bytes: defaults::max_channel_bytes(),
            min_free: defaults::min_free(),
            store: None,
            store_endpoint: None,
            store_region: defaults::store_region(),
            store_path_style: false,
            store_credentials: None,
            spool_limit: defaults::spool_limit(),
            upload_every: defaults::upload_every(),
            upload_bytes: defaults::upload_bytes(),
            retention: None,
            retention_mode: RetentionMode::default(),
        }
    }
}

/// `[audit]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`.
    #[serde(default = "defaults::database")]
    pub database: String,
    /// This bastion's name in the audit store (default: the host name). Bastions sharing one
    /// database need distinct names: at start each closes only its own unfinished sessions.
    #[serde(default)]
    pub instance: Option<String>,
}

impl Default for Audit {
    fn default() -> Self {
        Audit {
            database: defaults::database(),
            instance: None,
        }
    }
}

/// How a target is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// An SSH server (the normal case).
    #[default]
    Ssh,
    /// A shell under a pty on the bastion host itself, for trying the bastion out. Refused
    /// unless `[dev] allow_local_demo = true`.
    LocalDemo,
}

/// `[[targets]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Name users give in `ssh LOGIN@TARGET@bastion`.
    pub name: String,
    /// Host name or address of the target's sshd.
    #[serde(default)]
    pub host: String,
    /// Port of the target's sshd.
    #[serde(default)]
    pub port: Port,
    /// Pinned host key, an OpenSSH public key line (`ssh-ed25519 AAAA…`).
    #[serde(default)]
    pub host_key: Option<String>,
    /// A known_hosts file that lists the target's host key.
    #[serde(default)]
    pub known_hosts: Option<PathBuf>,
    /// The public key of a host CA that signs the target's host certificate.
    #[serde(default)]
    pub host_ca: Option<String>,
    /// Login used when the user names none and the role gives none.
    #[serde(default)]
    pub default_login: Option<String>,
    /// Free-form labels that roles and rules select on (`env = "prod"`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `ssh` (default) or `local-demo`.
    #[serde(default)]
    pub kind: TargetKind,
}

/// How the bastion checks a target's host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyCheck<'a> {
    /// Exactly this key.
    Pinned(&'a str),
    /// Any key listed for the target in this known_hosts file.
    KnownHosts(&'a std::path::Path),
    /// A host certificate signed by this CA, naming the target's host.
    HostCa(&'a str),
}

impl Target {
    /// The configured host key check; validation guarantees one for `ssh` targets.
    pub fn host_key_check(&self) -> Option<HostKeyCheck<'_>> {
        if let Some(k) = &self.host_key {
            Some(HostKeyCheck::Pinned(k))
        } else if let Some(p) = &self.known_hosts {
            Some(HostKeyCheck::KnownHosts(p))
        } else {
            self.host_ca.as_deref().map(HostKeyCheck::HostCa)
        }
    }

    /// Whether `selector` (as in a role's or rule's `targets`) picks this target: `KEY=VALUE`
    /// matches a label, anything else is a glob on the name. An invalid glob picks nothing
    /// (validation reports it).
    pub fn selected_by(&self, selector: &str) -> bool {
        match selector.split_once('=') {
            Some((k, v)) => self.labels.get(k.trim()).is_some_and(|x| x == v.trim()),
            None => globset::Glob::new(selector)
                .map(|g| g.compile_matcher().is_match(&self.name))
                .unwrap_or(false),
        }
    }
}

/// `[[roles]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Name shown in logs and audit rows.
    pub name: String,
    /// Certificate principals (OIDC groups) that hold this role.
    pub principals: Vec<String>,
    /// Targets by name glob (`db*`) or label selector (`env=prod`).
    #[serde(default)]
    pub targets: Vec<String>,
    /// Logins allowed on those targets; empty means only the default login.
    #[serde(default)]
    pub logins: Vec<String>,
    /// Login used when the user names none (before the target's `default_login`).
    #[serde(default)]
    pub default_login: Option<String>,
    /// Capabilities: `shell`, `exec`, `sftp`, `port-forward`, `review`.
    #[serde(default = "defaults::allow")]
    pub allow: Vec<Capability>,
    /// Whether live output is masked for this role (recordings always are).
    #[serde(default = "defaults::yes")]
    pub live_masking: bool,
    /// Automatic logoff after this long without input or output.
    #[serde(default = "defaults::idle_timeout")]
    pub idle_timeout: Seconds,
    /// Lifetime of certificates issued from OIDC logins for this role (default: ca.default_ttl).
    #[serde(default)]
    pub certificate_ttl: Option<Seconds>,
    /// CI certificates for this role may open terminals and forward ports (permit-pty,
    /// permit-port-forwarding); by default they carry neither.
    #[serde(default)]
    pub ci_shell: bool,
}

/// `[dev]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dev {
    /// Allow `kind = "local-demo"` targets (a shell on the bastion host itself).
    #[serde(default)]
    pub allow_local_demo: bool,
}

mod defaults {
    use std::path::PathBuf;

    use crate::types::{Capability, Seconds};

    pub fn early_drop_rate() -> u32 {
        30
    }
    pub fn connection_rate_per_source() -> u32 {
        10
    }
    pub fn max_unauthenticated() -> usize {
        64
    }
    pub fn max_auth_attempts() -> usize {
        6
    }
    pub fn login_grace_time() -> Seconds {
        Seconds(60)
    }
    pub fn keepalive_interval() -> Seconds {
        Seconds(30)
    }
    pub fn keepalive_max() -> usize {
        3
    }
    pub fn max_channels() -> usize {
        16
    }
    pub fn connect_timeout() -> Seconds {
        Seconds(15)
    }
    pub fn revocation_check_interval() -> Seconds {
        Seconds(30)
    }
    pub fn env_allow() -> Vec<String> {
        ["LANG", "LC_*", "TZ"].map(String::from).to_vec()
    }
    pub fn default_ttl() -> Seconds {
        Seconds(8 * 3600)
    }
    pub fn max_ttl() -> Seconds {
        Seconds(24 * 3600)
    }
    pub fn upstream_ttl() -> Seconds {
        Seconds(120)
    }
    pub fn recording_dir() -> PathBuf {
        PathBuf::from("recordings")
    }
    pub fn recording_key() -> PathBuf {
        PathBuf::from("keys/recording_ed25519")
    }
    pub fn max_channel_bytes() -> u64 {
        64 << 20
    }
    pub fn min_free() -> u64 {
        256 << 20
    }
    pub fn store_region() -> String {
        "us-east-1".to_string()
    }
    pub fn spool_limit() -> u64 {
        10 << 30
    }
    pub fn upload_every() -> Seconds {
        Seconds(10)
    }
    pub fn upload_bytes() -> u64 {
        16 << 20
    }
    pub fn database() -> String {
        "sqlite://bastion.db".to_string()
    }
    pub fn allow() -> Vec<Capability> {
        vec![Capability::Shell, Capability::Exec, Capability::Sftp]
    }
    pub fn yes() -> bool {
        true
    }
    pub fn approval_timeout() -> Seconds {
        Seconds(600)
    }
    pub fn max_pending_per_user() -> u32 {
        10
    }
    pub fn interpreters() -> Vec<String> {
        [
            "sh",
            "bash",
            "dash",
            "zsh",
            "ksh",
            "mksh",
            "fish",
            "busybox",
            "python*",
            "perl*",
            "ruby*",
            "irb",
            "node",
            "php*",
            "lua*",
            "R",
            "Rscript",
            "psql",
            "mysql",
            "mariadb",
            "sqlite3",
            "mongo",
            "mongosh",
            "redis-cli",
            "cqlsh",
            "clickhouse-client",
        ]
        .map(String::from)
        .to_vec()
    }
    pub fn packs() -> Vec<String> {
        vec!["hipaa".to_string()]
    }
    pub fn live_hold_ms() -> u64 {
        15
    }
    pub fn oidc_scopes() -> Vec<String> {
        ["openid", "email", "profile", "groups"]
            .map(String::from)
            .to_vec()
    }
    pub fn identity_claim() -> String {
        "email".to_string()
    }
    pub fn principals_claim() -> String {
        "groups".to_string()
    }
    pub fn clock_skew() -> Seconds {
        Seconds(60)
    }
    pub fn device_login_timeout() -> Seconds {
        Seconds(300)
    }
    pub fn device_login_max_per_source() -> usize {
        10
    }
    pub fn ci_ttl() -> Seconds {
        Seconds(10 * 60)
    }
    pub fn idle_timeout() -> Seconds {
        Seconds(15 * 60)
    }
}
