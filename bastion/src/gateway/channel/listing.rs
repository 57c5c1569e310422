//! `ssh bastion list [--json]`, a command with no target named: the targets the user may reach
//! and the logins they may use there, answered by the bastion itself. Nothing goes to a target,
//! so there is nothing to record; the listing is logged.

use bytes::Bytes;
use russh::ChannelReadHalf;
use tracing::info;

use crate::gateway::client::Client;
use crate::gateway::refusal::status;
use crate::gateway::session::SessionCtx;
use crate::policy::{self, Permitted};

/// Whether `command` asks for the listing: `Some(json)` for `list` or `list --json`.
pub fn asked(command: &[u8]) -> Option<bool> {
    let command = std::str::from_utf8(command).ok()?;
    let words: Vec<&str> = command.split_whitespace().collect();
    match words.as_slice() {
        ["list"] => Some(false),
        ["list", "--json"] | ["--json", "list"] => Some(true),
        _ => None,
    }
}

/// Writes the listing and ends the channel.
pub async fn run(ctx: &SessionCtx, rx: ChannelReadHalf, client: &Client, json: bool) {
    drop(rx);
    let permitted = policy::permitted(&ctx.services.config, &ctx.user.principals);
    info!(targets = permitted.len(), "targets listed");
    let text = if json {
        json_lines(&permitted)
    } else {
        table(&permitted)
    };
    let text = if client.pty {
        text.replace('\n', "\r\n")
    } else {
        text
    };
    let _ = client.tx.data_bytes(Bytes::from(text)).await;
    client.end(status::OK).await;
}

/// One JSON object per target: `{"target", "default_login", "logins", "allow"}`.
pub fn json_lines(permitted: &[Permitted]) -> String {
    permitted
        .iter()
        .map(|p| {
            let mut line = serde_json::json!({
                "target": p.target,
                "default_login": p.default_login,
                "logins": p.logins,
                "allow": p.allow,
            })
            .to_string();
            line.push('\n');
            line
        })
        .collect()
}

/// A table with a heading; a line saying so when nothing is permitted.
pub fn table(permitted: &[Permitted]) -> String {
    if permitted.is_empty() {
        return "no target is permitted for you\n".into();
    }
    let rows: Vec<[String; 4]> = permitted
        .iter()
        .map(|p| {
            [
                p.target.clone(),
                p.logins.join(","),
                p.default_login.clone().unwrap_or_else(|| "-".into()),
                p.allow.join(","),
            ]
        })
        .collect();
    let heading = ["TARGET", "LOGINS", "DEFAULT", "ALLOW"].map(String::from);
    let width = |i: usize| {
        rows.iter()
            .chain(std::iter::once(&heading))
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    std::iter::once(&heading)
        .chain(rows.iter())
        .map(|r| {
            format!(
                "{:<w0$}  {:<w1$}  {:<w2$}  {}\n",
                r[0],
                r[1],
                r[2],
                r[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_list_and_its_json_form_ask_for_the_listing() {
        assert_eq!(asked(b"list"), Some(false));
        assert_eq!(asked(b" list --json "), Some(true));
        assert_eq!(asked(b"list; rm -rf /"), None);
        assert_eq!(asked(b"ls"), None);
    }

    #[test]
    fn table_aligns_columns() {
        let p = vec![
            Permitted {
                target: "db1".into(),
                default_login: Some("postgres".into()),
                logins: vec!["postgres".into(), "app".into()],
                allow: vec!["shell".into()],
            },
            Permitted {
                target: "web-frontend".into(),
                default_login: None,
                logins: vec!["www".into()],
                allow: vec!["exec".into(), "sftp".into()],
            },
        ];
        assert_eq!(
            table(&p),
            "TARGET        LOGINS        DEFAULT   ALLOW\n\
             db1           postgres,app  postgres  shell\n\
             web-frontend  www           -         exec,sftp\n"
        );
        assert_eq!(
            json_lines(&p[..1]),
            "{\"allow\":[\"shell\"],\"default_login\":\"postgres\",\"logins\":[\"postgres\",\"app\"],\"target\":\"db1\"}\n"
        );
    }
}
