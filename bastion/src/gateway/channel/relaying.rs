//! The fourth stage: a connected channel relayed, with the taps its kind calls for: the
//! redactor's mode (live masking, exact, or none for transfers), a line judge when approval
//! rules watch its lines, and a feed for watching reviewers.

use russh::ChannelReadHalf;
use tracing::info;

use super::connect::Connected;
use super::setup::Start;
use crate::approval::stdin_lines::Interpreter;
use std::sync::Arc;

use crate::gateway::hold::shell_line::ShellHold;
use crate::gateway::hold::stdin_line::StdinHold;
use crate::gateway::recording::Flusher;
use crate::gateway::relay::io::{ChannelIo, ExitInfo};
use crate::gateway::relay::line_judge::LineJudge;
use crate::gateway::relay::pumps::Pumps;
use crate::gateway::watch;

/// The recording's flusher, as watchers use it.
fn flusher(recording: Flusher) -> watch::Flusher {
    Arc::new(move |within| {
        let recording = recording.clone();
        Box::pin(async move { recording.flush(within).await })
    })
}

impl Connected {
    /// Relays until either side ends.
    pub async fn relay(self, rx: ChannelReadHalf, io: ChannelIo) -> ExitInfo {
        let Connected { authorized, target } = self;
        let ctx = io.ctx.clone();
        let approvals = &ctx.services.approvals.rules;
        let (access, requested) = (&authorized.access, authorized.requested);
        let pty = requested.pty.as_ref();
        let judged = !authorized.transfer && approvals.has_line_rules(access);
        let lines: Option<Box<dyn LineJudge>> = match (&requested.start, pty) {
            _ if !judged => None,
            // Any interactive session (a pty: a shell, or `ssh -t host cmd`) has its lines
            // watched on its screen.
            (_, Some(p)) => Some(Box::new(ShellHold::new(
                p.cols,
                p.rows,
                access.clone(),
                authorized.masker.clone(),
            ))),
            // Without a terminal, a shell or an interpreter reading its commands from stdin
            // has each line judged before it reads it.
            (start, None) => {
                let interpreter = match start {
                    Start::Shell => Some(Interpreter {
                        program: "shell".into(),
                        shell: true,
                        sql: false,
                    }),
                    Start::Exec(_) => start
                        .command()
                        .and_then(|c| approvals.stdin_interpreter(&c)),
                    Start::Subsystem(_) => None,
                };
                match interpreter {
                    Some(i) => {
                        info!(program = %i.program, "commands read from stdin are judged line by line");
                        Some(Box::new(StdinHold::new(
                            i,
                            access.clone(),
                            authorized.masker.clone(),
                        )))
                    }
                    None => None,
                }
            }
        };
        let screen_masked = authorized.redactor.screen_masked();
        // Reviewers may watch interactive sessions, masked as the user sees them.
        let publisher = (pty.is_some() && screen_masked).then(|| {
            ctx.services.live.publish(
                format!("{}-{}", ctx.id, u32::from(io.client.id)),
                ctx.user.key_id.clone(),
                access.target.name.clone(),
                access.login.clone(),
                authorized.recording.path.clone(),
                flusher(authorized.recording.flusher()),
            )
        });
        let _running = pty.is_none().then(|| ctx.command_running());
        let pumps = Pumps {
            io,
            hold_eof: true,
            lines,
            publisher,
            typed: (pty.is_some() && screen_masked).then(Default::default),
        };
        let output = authorized.redactor.output();
        // The recording is the channel's to seal: the relay keeps no handle of its own.
        drop(authorized.recording);
        pumps
            .run(
                rx,
                requested.early.into_messages(),
                target,
                output,
                requested.inflow,
            )
            .await
    }
}
