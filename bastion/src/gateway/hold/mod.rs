//! Approval holds inside the gateway: one request flow ([`asking`]) serves exec commands,
//! the lines of interactive shells ([`shell_line`], read from the screen by [`screen_line`],
//! ended by the keys [`line_keys`] names) and lines a program reads from stdin
//! ([`stdin_line`]). While a request waits, [`waiting`] shows the time waited and left.

pub mod asking;
pub mod line_keys;
pub mod screen_line;
pub mod shell_line;
pub mod stdin_line;
pub mod waiting;
