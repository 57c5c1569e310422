//! The client's end of a channel: what the bastion tells the user, and how it ends a channel.
//! Every write is bounded in time: a client that never grants window, or a connection whose
//! event loop is stuck, must not keep the channel's task (and its target connection and
//! recording) for ever.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use russh::server::{Handle, Msg};
use russh::ChannelWriteHalf;
use tracing::warn;

use crate::gateway::refusal::Refusal;

/// The client's end of a channel.
#[derive(Clone)]
pub struct Client {
    pub tx: Arc<ChannelWriteHalf<Msg>>,
    pub handle: Handle,
    pub id: russh::ChannelId,
    /// The channel has a terminal: messages go to it, with `\r\n` line ends.
    pub pty: bool,
}

/// How long a message to the user may wait for the client to take it (window).
const SAY_TIMEOUT: Duration = Duration::from_secs(10);

/// What the user is told when the bastion's connection to the target goes away under a
/// channel.
pub fn target_lost_message(target: &str) -> String {
    format!("bastion: the connection to target \"{target}\" was lost")
}

impl Client {
    /// Tells the user something: on the terminal for pty sessions, on stderr otherwise.
    pub async fn say(&self, text: &str) {
        let write = async {
            if self.pty {
                let t = format!("\r\n{}\r\n", text.replace('\n', "\r\n"));
                self.tx.data_bytes(Bytes::from(t)).await
            } else {
                self.tx
                    .extended_data_bytes(1, Bytes::from(format!("{text}\n")))
                    .await
            }
        };
        if tokio::time::timeout(SAY_TIMEOUT, write).await.is_err() {
            warn!("a message to the user was dropped: the client took no data for {SAY_TIMEOUT:?}");
        }
    }

    /// Ends the channel with a message and an exit status.
    pub async fn fail(&self, text: &str, status: u32) {
        self.say(text).await;
        self.end(status).await;
    }

    /// Ends the channel with `refusal`'s words and status.
    pub async fn refuse(&self, refusal: &Refusal) {
        // The words may quote what the client sent (a subsystem's name): only the code is
        // logged.
        warn!(
            reason = refusal.code,
            status = refusal.status,
            "channel refused"
        );
        self.fail(&format!("bastion: {}", refusal.message), refusal.status)
            .await;
    }

    /// Ends the channel with an exit status and nothing said.
    pub async fn end(&self, status: u32) {
        let end = async {
            let _ = self.tx.exit_status(status).await;
            let _ = self.tx.eof().await;
            let _ = self.tx.close().await;
        };
        if tokio::time::timeout(SAY_TIMEOUT, end).await.is_err() {
            warn!("the channel's end could not be sent: the client's connection does not move");
        }
    }
}
