//! End-to-end tests against real OpenSSH. One binary, one module per topic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod approvals;
mod audit;
mod audit_trail;
mod auth;
mod channels;
mod cli;
mod crypto;
mod fixture;
mod fleet;
mod guide;
mod hostile_clients;
mod hygiene;
mod identity;
mod inprocess;
mod interactive;
mod line_bypasses;
mod masking;
mod quickstart;
mod recording;
mod sign_in;
mod store;
mod streaming;
mod targets;
