//! Integration tests of the player crate against recordings written by the real recorder.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

mod asciinema;
mod binary;
mod play;
mod util;
mod verify;
