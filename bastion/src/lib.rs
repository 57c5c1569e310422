//! The bastion as a library: the SSH gateway, the HTTP API, the audit store, approval holds,
//! PHI masking and signed recordings, and [`server::start`], which runs them together from a
//! loaded configuration. The `bastion` binary is a thin command line over it (argument parsing,
//! logging, signals, exit codes); tests start a bastion in their own process through the same
//! call. The lower layers are crates of their own: `config` (the schema), `cert-authority`
//! (keys, certificates, OpenID), `recorder` (writing and masking recordings) and `player`
//! (verifying and replaying them).
//!
//! # Layout
//! - [`server`]: start a bastion, learn where it listens, stop it, wait for its end.
//! - [`settings`]: the configuration (with what only the bastion can check) and the keys it
//!   names, loaded once.
//! - [`audit`]: the audit store, which `bastion audit` also reads.
//! - [`masking`]: the maskers the configuration selects, also behind `bastion mask-test`.
//! - `policy`: which targets, logins and capabilities a user's roles grant.
//! - `services`: the service handles every connection and the API reach (audit store,
//!   approvals, maskers, recording sink, metrics, …), built once by [`settings`].
//! - [`human`]: durations, counts and sizes as messages show them.
//! - Private to the library: `gateway` (the SSH server and relay), `api` (HTTP), `approval`
//!   and `review` (holds and the reviewers' commands), `algorithms` and `ciphers` (what the
//!   bastion offers), `metrics`, `demo` (the quickstart's local target).
#![forbid(unsafe_code)]

mod algorithms;
mod api;
mod approval;
pub mod audit;
mod ciphers;
mod demo;
mod gateway;
pub mod human;
pub mod masking;
mod metrics;
/// The `access` crate: pure, so that it can be fuzzed without building the gateway.
use ::access as policy;
mod review;
pub mod server;
mod services;
pub mod settings;
pub mod store;
