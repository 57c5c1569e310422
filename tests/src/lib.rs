//! Test harness: starts real OpenSSH `sshd` targets and the `bastion` binary on loopback (or
//! the bastion in the test process, through its library: [`inprocess`]), makes users with
//! certificates, and drives the real `ssh`, `scp` and `sftp` clients (tmux for interactive
//! sessions); a real PostgreSQL and helpers to query the audit store; a real OpenID provider
//! with device and auth-code flows; a real S3-compatible object store (Garage).
//!
//! Every process is killed when its guard drops; every test gets its own temporary directory.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod audit;
pub mod bastion;
pub mod garage;
pub mod inprocess;
pub mod oidc;
pub mod postgres;
pub mod sshd;
pub mod tmpfs;
pub mod tmux;
pub mod util;

pub use audit::{audit, audit_json, default_sqlite_db, json_lines, sqlite3};
pub use bastion::{Bastion, BastionBuilder, ControlMaster, User};
pub use garage::Garage;
pub use inprocess::InProcessBastion;
pub use oidc::OpenIdProvider;
pub use postgres::Postgres;
pub use sshd::Sshd;
pub use tmpfs::Tmpfs;
pub use tmux::Tmux;
pub use util::*;
