//! The tap that judges the lines a user sends before the target reads them, when approval
//! rules watch a channel's lines. The pumps know only this trait; the judges themselves
//! ([`crate::gateway::hold::shell_line`], [`crate::gateway::hold::stdin_line`]) hold lines
//! for approval.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use russh::ChannelReadHalf;

use super::ended::Ended;
use super::inflow::ChannelInflow;
use super::io::ChannelIo;
use super::upward::Upward;

/// What a judge's work returns: `Err` ends the channel (the user has been told why).
pub type Judged<'a> = Pin<Box<dyn Future<Output = Result<(), Ended>> + Send + 'a>>;

/// Where the client's input meets the judge.
pub struct Input<'a> {
    /// The channel.
    pub io: &'a ChannelIo,
    /// The client's reader, to read on while a line is held.
    pub rx: &'a mut ChannelReadHalf,
    /// The queue to the target.
    pub up: &'a Upward,
    /// The channel's input bounds.
    pub inflow: &'a ChannelInflow,
}

/// Judges lines on their way to the target.
pub trait LineJudge: Send + Sync {
    /// Input from the client: passed on as far as it may go.
    fn data<'a>(&'a self, input: Input<'a>, data: Bytes) -> Judged<'a>;

    /// The client's EOF.
    fn eof<'a>(&'a self, input: Input<'a>) -> Judged<'a> {
        let sent = input.up.eof();
        Box::pin(std::future::ready(sent))
    }

    /// The target's output, as the terminal shows it (before the user can act on it).
    fn output(&self, _data: &[u8]) {}

    /// The user's terminal changed size.
    fn resize(&self, _cols: u32, _rows: u32) {}
}
