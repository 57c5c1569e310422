//! A reviewer's channel (`ssh review@bastion`): the review console on a terminal, or one
//! review command run by the bastion itself. Nothing goes to a target.

use bytes::Bytes;
use russh::ChannelReadHalf;

use super::setup::{Requested, Start};
use crate::gateway::client::Client;
use crate::gateway::refusal::{status, Refusal};
use crate::gateway::session::SessionCtx;
use crate::review::{self, Reviewer};

/// Runs a reviewer's channel to its end.
pub async fn run(ctx: &SessionCtx, mut rx: ChannelReadHalf, client: &Client, requested: Requested) {
    let services = &ctx.services;
    let reviewer = Reviewer {
        identity: &ctx.user.key_id,
        principals: &ctx.user.principals,
        config: &services.config,
        audit: &services.audit,
        masker: services.maskers.all(),
        live: &services.live,
        metrics: &services.metrics,
        closed: &ctx.closed,
    };
    match (&requested.start, &requested.pty) {
        (Start::Shell, Some(p)) => {
            Box::pin(review::console::run(
                &reviewer, &mut rx, &client.tx, p.cols, p.rows,
            ))
            .await;
            client.end(status::OK).await;
        }
        (Start::Exec(command), _) => {
            drop(rx);
            let out = review::run(&reviewer, &String::from_utf8_lossy(command)).await;
            if !out.out.is_empty() {
                let text = out
                    .out
                    .replace('\n', if client.pty { "\r\n" } else { "\n" });
                let _ = client.tx.data_bytes(Bytes::from(text)).await;
            }
            if !out.err.is_empty() {
                let _ = client.tx.extended_data_bytes(1, Bytes::from(out.err)).await;
            }
            client.end(out.status).await;
        }
        _ => {
            drop(rx);
            client
                .refuse(&Refusal::new(
                    "review usage",
                    status::USAGE,
                    "the review console needs a terminal (ssh -t review@bastion); for scripts: ssh review@bastion list | history | approve ID [--reason TEXT] | deny ID --reason TEXT",
                ))
                .await;
        }
    }
}
