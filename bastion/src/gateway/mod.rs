//! The SSH gateway: accepts clients, authenticates their certificates, connects to targets and
//! relays session channels.
//!
//! # Layout
//! Connections:
//! - [`listener`]: the accept loop and shutdown; [`admission`]: who may start a connection
//!   (unauthenticated places in all and per source, early drop, rate per source).
//! - [`connection`]: one client connection: its state (unauthenticated, signing in, denied,
//!   admitted) and the russh callbacks; [`admit`]: an authenticated identity admitted to a
//!   session or denied; [`auth_refusals`]: refused authentications logged, audited and told.
//! - [`early_refusals`]: refusals the SSH library makes before the handlers run (expired
//!   certificates), recognised from its log.
//! - [`device_login`]: signing in from plain `ssh` with the OpenID device grant.
//! - [`refusal_words`]: what a refused client is told before the denial.
//! - [`places`]: bounded places per key (sign-ins waiting per address, sessions per identity).
//! - [`login_clock`]: when an unauthenticated connection is dropped.
//! - [`session`]: state shared by the channels of one authenticated connection (upstream
//!   connection, activity clock for the idle timeout, notices to users).
//! - [`idle`] and [`validity`]: log a connection off when it is idle, or when its certificate
//!   expires or is revoked.
//! - [`upstream`]: the bastion's own connection to the target.
//!
//! Channels:
//! - [`channel`]: a session channel's life as stages (setup, authorized, connected, relaying,
//!   closed), reviewers' channels and port forwards.
//! - [`client`]: the client's end of a channel (what the user is told); [`refusal`]: why a
//!   channel does not go on.
//! - [`relay`]: the pumps that move a connected channel's bytes, the taps on their way, the
//!   redactor (all masking), and the input bounds.
//! - [`hold`]: approval holds of exec commands, shell lines and stdin lines.
//! - [`menu`]: the target menu shown to a pty session that named no target.
//! - [`recording`]: one channel's signed recording, written by its own task.
//! - [`watch`]: live sessions reviewers may watch, read only.

pub mod admission;
pub mod admit;
pub mod auth_refusals;
pub mod channel;
pub mod client;
pub mod connection;
pub mod device_login;
pub mod early_refusals;
pub mod hold;
pub mod idle;
pub mod listener;
pub mod login_clock;
pub mod menu;
pub mod places;
pub mod recording;
pub mod refusal;
pub mod refusal_words;
pub mod relay;
pub mod session;
pub mod upstream;
pub mod validity;
pub mod watch;
