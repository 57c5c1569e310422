//! The target menu: an interactive session that named no target picks one by number or name.

use bytes::Bytes;
use russh::server::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};

use crate::gateway::session::SessionCtx;
use crate::policy::{self, Access};

/// Longest line the menu reads.
const MAX_LINE: usize = 128;

/// Shows the targets the user may reach and reads a choice. `None` when the user quits, has no
/// targets, or the channel closes.
pub async fn choose(
    ctx: &SessionCtx,
    rx: &mut ChannelReadHalf,
    tx: &ChannelWriteHalf<Msg>,
    mut resized: impl FnMut(u32, u32, u32, u32),
) -> Option<Access> {
    let config = &ctx.services.config;
    let roles = policy::roles_for(config, &ctx.user.principals);
    let choices: Vec<Access> = policy::reachable(config, &roles)
        .into_iter()
        .filter_map(|t| policy::resolve(config, &ctx.user.principals, &t.name, None).ok())
        .collect();
    let write = |s: String| async move {
        let _ = tx.data_bytes(Bytes::from(s)).await;
    };
    if choices.is_empty() {
        write("bastion: no target is permitted for you.\r\n".into()).await;
        return None;
    }
    let mut text = listing(ctx, &choices);
    let prompt = "Choose a number or name (q to quit): ";
    text.push_str(prompt);
    write(text).await;

    let mut line = String::new();
    loop {
        let msg = tokio::select! {
            m = rx.wait() => m,
            _ = ctx.closed.cancelled() => return None,
        };
        match msg {
            Some(ChannelMsg::Data { data }) => {
                for &b in data.iter() {
                    match b {
                        b'\r' | b'\n' => {
                            write("\r\n".into()).await;
                            let pick = line.trim();
                            if pick == "q" || pick == "quit" {
                                return None;
                            }
                            let found = pick
                                .parse::<usize>()
                                .ok()
                                .and_then(|n| n.checked_sub(1))
                                .and_then(|i| choices.get(i))
                                .or_else(|| choices.iter().find(|a| a.target.name == pick));
                            match found {
                                Some(a) => {
                                    write(format!(
                                        "Connecting to {} as {}…\r\n",
                                        a.target.name, a.login
                                    ))
                                    .await;
                                    return Some(a.clone());
                                }
                                None => {
                                    if !pick.is_empty() {
                                        write(format!("\"{pick}\" is not one of the choices.\r\n"))
                                            .await;
                                    }
                                    line.clear();
                                    write(prompt.to_string()).await;
                                }
                            }
                        }
                        // Ctrl-C, Ctrl-D
                        0x03 | 0x04 => {
                            write("\r\n".into()).await;
                            return None;
                        }
                        0x7f | 0x08 if !line.is_empty() => {
                            line.pop();
                            write("\x08 \x08".into()).await;
                        }
                        b if (0x20..0x7f).contains(&b) && line.len() < MAX_LINE => {
                            line.push(b as char);
                            write((b as char).to_string()).await;
                        }
                        _ => {}
                    }
                }
            }
            Some(ChannelMsg::WindowChange {
                col_width,
                row_height,
                pix_width,
                pix_height,
            }) => {
                resized(col_width, row_height, pix_width, pix_height);
            }
            Some(ChannelMsg::Eof) | Some(ChannelMsg::Close) | None => return None,
            Some(_) => {}
        }
    }
}

/// The menu's heading and its numbered choices.
fn listing(ctx: &SessionCtx, choices: &[Access]) -> String {
    // No refusal first: a name that is no target is most often the local user name ssh
    // sends when none is given, and the listing shows what may be chosen.
    let mut text = String::new();
    text.push_str(&format!(
        "bastion: signed in as {}. Targets you may reach:\r\n",
        ctx.user.key_id
    ));
    for (i, a) in choices.iter().enumerate() {
        text.push_str(&format!(
            "  {:>2}) {:<20} as {}\r\n",
            i + 1,
            a.target.name,
            a.login
        ));
    }
    text
}
