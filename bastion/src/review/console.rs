//! The review console: `ssh -t review@bastion` draws a terminal UI into the reviewer's channel.
//! Pending requests the reviewer may decide, their details, approve (`a`) or deny (`d`, with a
//! reason), the decided history (`h`), quit (`q`). The list refreshes every second from the
//! audit store, so requests held on any bastion sharing it appear.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState, Wrap};
use ratatui::{Terminal, TerminalOptions, Viewport};
use russh::server::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};

use super::Reviewer;
use crate::approval::decide::{vote, Outcome};
use crate::audit::ApprovalRow;
use crate::audit::LiveRow;
use crate::gateway::watch::{Viewer, Watched};

/// A live session the console lists: on this bastion, or on another of the fleet.
enum Live {
    Here(Watched),
    There(LiveRow),
}

impl Live {
    fn cells(&self) -> [String; 5] {
        match self {
            Live::Here(w) => [
                w.id.clone(),
                w.user.clone(),
                w.target.clone(),
                w.login.clone(),
                "here".into(),
            ],
            Live::There(r) => [
                r.id.clone(),
                r.user_name.clone(),
                r.target.clone(),
                r.login.clone(),
                r.instance.clone(),
            ],
        }
    }

    fn target(&self) -> &str {
        match self {
            Live::Here(w) => &w.target,
            Live::There(r) => &r.target,
        }
    }
}

/// How long another bastion may stay silent before its sessions are no longer listed (three
/// missed heartbeats).
const FLEET_FRESH: Duration = Duration::from_secs(3 * crate::server::HEARTBEAT.as_secs());

/// Bytes drawn by ratatui, sent to the channel after each frame.
#[derive(Clone, Default)]
struct Frame(Arc<Mutex<Vec<u8>>>);

impl Write for Frame {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Frame {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default()
    }
}

/// What the keyboard is doing.
enum Mode {
    Browse,
    /// Typing the reason for a decision on request `id`.
    Reason {
        id: i64,
        approve: bool,
        text: String,
    },
}

struct Console<'a> {
    ctx: &'a Reviewer<'a>,
    rows: Vec<ApprovalRow>,
    history: bool,
    /// Listing live sessions (`s`) instead of requests.
    sessions: bool,
    live: Vec<Live>,
    /// Watching one session, read only.
    view: Option<(String, Viewer)>,
    selected: usize,
    mode: Mode,
    status: String,
}

/// Runs the console until the reviewer quits or the channel closes.
pub async fn run(
    ctx: &Reviewer<'_>,
    rx: &mut ChannelReadHalf,
    tx: &ChannelWriteHalf<Msg>,
    cols: u32,
    rows: u32,
) {
    let frame = Frame::default();
    let size = |c: u32, r: u32| Rect::new(0, 0, c.clamp(20, 500) as u16, r.clamp(5, 300) as u16);
    let options = TerminalOptions {
        viewport: Viewport::Fixed(size(cols, rows)),
    };
    let Ok(mut term) = Terminal::with_options(CrosstermBackend::new(frame.clone()), options) else {
        return;
    };
    let mut c = Console {
        ctx,
        rows: Vec::new(),
        history: false,
        sessions: false,
        live: Vec::new(),
        view: None,
        selected: 0,
        mode: Mode::Browse,
        status: String::new(),
    };
    // Alternate screen, hidden cursor.
    let _ = tx
        .data_bytes(Bytes::from_static(b"\x1b[?1049h\x1b[?25l\x1b[2J"))
        .await;
    c.refresh().await;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    // A slow database must not turn missed refreshes into a burst of them.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        if term.draw(|f| c.draw(f)).is_err() {
            break;
        }
        let bytes = frame.take();
        if !bytes.is_empty() && tx.data_bytes(Bytes::from(bytes)).await.is_err() {
            return;
        }
        tokio::select! {
            _ = tick.tick() => c.refresh().await,
            alive = async {
                match c.view.as_mut() {
                    Some((_, v)) => v.next().await,
                    None => std::future::pending().await,
                }
            } => {
                if !alive {
                    c.view = None;
                    c.status = "the session ended".into();
                }
            }
            _ = ctx.closed.cancelled() => return,
            m = rx.wait() => match m {
                Some(ChannelMsg::Data { data }) => {
                    if !c.keys(&data).await {
                        break;
                    }
                }
                Some(ChannelMsg::WindowChange { col_width, row_height, .. }) => {
                    let _ = term.resize(size(col_width, row_height));
                    let _ = term.clear();
                }
                Some(ChannelMsg::Eof) | Some(ChannelMsg::Close) | None => return,
                Some(_) => {}
            },
        }
    }
    let _ = tx
        .data_bytes(Bytes::from_static(b"\x1b[?25h\x1b[?1049l"))
        .await;
}

impl Console<'_> {
    async fn refresh(&mut self) {
        // Only sessions on targets the reviewer's own roles reach.
        let (config, principals) = (&self.ctx.config, &self.ctx.principals);
        let mut live: Vec<Live> = self.ctx.live.list().into_iter().map(Live::Here).collect();
        let fresh = crate::audit::now_ms() - FLEET_FRESH.as_millis() as i64;
        match self.ctx.audit.fleet_live(fresh).await {
            Ok(rows) => live.extend(rows.into_iter().map(Live::There)),
            Err(e) => self.status = format!("other bastions' sessions: audit store: {e}"),
        }
        live.retain(|w| crate::policy::covers_named(config, principals, w.target()));
        self.live = live;
        if self.sessions {
            self.selected = self.selected.min(self.live.len().saturating_sub(1));
            return;
        }
        match self.ctx.audit.approvals(!self.history, 200).await {
            Ok(rows) => {
                self.rows = rows
                    .into_iter()
                    .filter(|r| super::visible(self.ctx, r))
                    .collect();
                if self.history {
                    self.rows.reverse();
                }
                self.selected = self.selected.min(self.rows.len().saturating_sub(1));
            }
            Err(e) => self.status = format!("audit store: {e}"),
        }
    }

    /// Handles typed bytes; false to quit.
    async fn keys(&mut self, data: &[u8]) -> bool {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            // Arrow keys: ESC [ A / ESC [ B (or ESC O A / B).
            if b == 0x1b && i + 2 < data.len() && (data[i + 1] == b'[' || data[i + 1] == b'O') {
                if let Mode::Browse = self.mode {
                    match data[i + 2] {
                        b'A' => self.selected = self.selected.saturating_sub(1),
                        b'B' => {
                            self.selected = (self.selected + 1).min(self.len().saturating_sub(1))
                        }
                        _ => {}
                    }
                }
                i += 3;
                continue;
            }
            i += 1;
            match &mut self.mode {
                Mode::Reason { id, approve, text } => match b {
                    b'\r' | b'\n' => {
                        let (id, approve, reason) = (*id, *approve, text.clone());
                        self.mode = Mode::Browse;
                        self.decide(id, approve, &reason).await;
                    }
                    0x1b => {
                        self.mode = Mode::Browse;
                        self.status = "cancelled".into();
                    }
                    0x7f | 0x08 => {
                        text.pop();
                    }
                    b if (0x20..0x7f).contains(&b) && text.len() < 200 => text.push(b as char),
                    _ => {}
                },
                Mode::Browse if self.view.is_some() => {
                    if matches!(b, b'q' | 0x1b | 0x03) {
                        self.view = None;
                    }
                }
                Mode::Browse => match b {
                    b'q' | 0x03 | 0x04 => return false,
                    b'k' => self.selected = self.selected.saturating_sub(1),
                    b'j' => self.selected = (self.selected + 1).min(self.len().saturating_sub(1)),
                    b's' => {
                        self.sessions = !self.sessions;
                        self.selected = 0;
                        self.status.clear();
                        self.refresh().await;
                    }
                    b'\r' if self.sessions => self.watch().await,
                    b'h' => {
                        self.history = !self.history;
                        self.selected = 0;
                        self.refresh().await;
                    }
                    b'a' | b'd' if !self.history && !self.sessions => {
                        if let Some(r) = self.rows.get(self.selected) {
                            self.mode = Mode::Reason {
                                id: r.id,
                                approve: b == b'a',
                                text: String::new(),
                            };
                        }
                    }
                    _ => {}
                },
            }
        }
        true
    }

    async fn decide(&mut self, id: i64, approve: bool, reason: &str) {
        if !approve && reason.trim().is_empty() {
            self.status = "a denial needs a reason".into();
            return;
        }
        let ctx = self.ctx;
        // Free text goes to the audit row, the recording, the logs and the webhook: masked.
        let reason = crate::masking::mask_text(ctx.masker, reason);
        let r = vote(
            ctx.audit,
            ctx.config,
            id,
            ctx.identity,
            ctx.principals,
            approve,
            &reason,
        )
        .await;
        self.status = match r {
            Ok(Ok(Outcome::Approved)) => format!("request {id} approved"),
            Ok(Ok(Outcome::Denied)) => format!("request {id} denied"),
            Ok(Ok(Outcome::Counted { have, need })) => {
                format!("request {id}: {have} of {need} approvals")
            }
            Ok(Err(refused)) => refused.to_string(),
            Err(e) => format!("audit store: {e}"),
        };
        tracing::info!(request = id, reviewer = %ctx.identity, approve, "console decision: {}", self.status);
        self.refresh().await;
    }

    /// Starts watching the selected session.
    async fn watch(&mut self) {
        let ctx = self.ctx;
        match self.live.get(self.selected) {
            Some(Live::Here(w)) => {
                if let Some((path, rx)) = ctx.live.watch(&w.id).await {
                    tracing::info!(reviewer = %ctx.identity, session = %w.id, "watching a live session");
                    // Replaying a long recording is CPU work: off the async workers, which
                    // serve every other session meanwhile.
                    let viewer = tokio::task::spawn_blocking(move || Viewer::new(&path, rx)).await;
                    if let Ok(viewer) = viewer {
                        self.view = Some((w.id.clone(), viewer));
                    }
                }
            }
            Some(Live::There(r)) => match super::remote::watch(ctx, r).await {
                Ok(viewer) => {
                    tracing::info!(reviewer = %ctx.identity, session = %r.id, bastion = %r.instance, "watching a live session on another bastion");
                    ctx.metrics.remote_watch(crate::metrics::Watch::Opened);
                    self.view = Some((r.id.clone(), viewer));
                    self.status.clear();
                }
                Err(why) => {
                    tracing::warn!(reviewer = %ctx.identity, session = %r.id, bastion = %r.instance, "cannot watch a session on another bastion: {why}");
                    ctx.metrics.remote_watch(crate::metrics::Watch::Failed);
                    self.status = why;
                }
            },
            None => {}
        }
    }

    fn len(&self) -> usize {
        if self.sessions {
            self.live.len()
        } else {
            self.rows.len()
        }
    }

    /// A watched session's screen, or the list of sessions that can be watched.
    fn draw_sessions(&self, f: &mut ratatui::Frame) {
        let [top, body, foot] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(f.area());
        if let Some((id, v)) = &self.view {
            f.render_widget(
                Paragraph::new(format!("watching {id} (read only, masked) — q to leave"))
                    .style(Style::new().add_modifier(Modifier::BOLD)),
                top,
            );
            let lines: Vec<Line> = v
                .lines()
                .into_iter()
                .map(|l| Line::from(clean(&l)))
                .collect();
            f.render_widget(
                Paragraph::new(lines).block(Block::new().borders(Borders::TOP)),
                body,
            );
            f.render_widget(Paragraph::new(self.status.as_str()), foot);
            return;
        }
        f.render_widget(
            Paragraph::new("bastion review: live sessions")
                .style(Style::new().add_modifier(Modifier::BOLD)),
            top,
        );
        let rows: Vec<Row> = self.live.iter().map(|w| Row::new(w.cells())).collect();
        let table = Table::new(
            rows,
            [
                Constraint::Length(24),
                Constraint::Length(24),
                Constraint::Length(12),
                Constraint::Length(12),
                Constraint::Min(8),
            ],
        )
        .header(Row::new(vec![
            "SESSION", "USER", "TARGET", "LOGIN", "BASTION",
        ]))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(Block::new().borders(Borders::TOP));
        let mut state =
            TableState::default().with_selected((!self.live.is_empty()).then_some(self.selected));
        f.render_stateful_widget(table, body, &mut state);
        let help = if self.status.is_empty() {
            "↑/↓ select  Enter watch  s requests  q quit".to_string()
        } else {
            self.status.clone()
        };
        f.render_widget(Paragraph::new(help), foot);
    }

    fn draw(&self, f: &mut ratatui::Frame) {
        if self.sessions || self.view.is_some() {
            return self.draw_sessions(f);
        }
        let [top, body, details, foot] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Percentage(45),
            Constraint::Length(1),
        ])
        .areas(f.area());
        let title = if self.history {
            "bastion review: decided requests"
        } else {
            "bastion review: pending requests"
        };
        f.render_widget(
            Paragraph::new(format!("{title} — {}", self.ctx.identity))
                .style(Style::new().add_modifier(Modifier::BOLD)),
            top,
        );
        let now = crate::audit::now_ms();
        let rows: Vec<Row> = self
            .rows
            .iter()
            .map(|r| {
                let age = if self.history {
                    r.state.clone()
                } else {
                    format!("{}s", (now - r.requested_at_ms) / 1000)
                };
                Row::new(vec![
                    r.id.to_string(),
                    r.requester.clone(),
                    r.target.clone(),
                    r.login.clone(),
                    r.rule.clone(),
                    age,
                    clean(&r.command),
                ])
            })
            .collect();
        let table = Table::new(
            rows,
            [
                Constraint::Length(5),
                Constraint::Length(22),
                Constraint::Length(10),
                Constraint::Length(9),
                Constraint::Length(16),
                Constraint::Length(9),
                Constraint::Min(10),
            ],
        )
        .header(Row::new(vec![
            "ID",
            "USER",
            "TARGET",
            "LOGIN",
            "RULE",
            if self.history { "STATE" } else { "AGE" },
            "COMMAND",
        ]))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(Block::new().borders(Borders::TOP));
        let mut state =
            TableState::default().with_selected((!self.rows.is_empty()).then_some(self.selected));
        f.render_stateful_widget(table, body, &mut state);
        let detail = match self.rows.get(self.selected) {
            Some(r) => {
                let mut lines = vec![
                    Line::from(format!(
                        "request {} by {} on {} as {} (rule \"{}\")",
                        r.id, r.requester, r.target, r.login, r.rule
                    )),
                    Line::from(format!("command: {}", clean(&r.command))),
                ];
                for v in &r.votes {
                    let verb = if v.approve { "approved" } else { "denied" };
                    lines.push(Line::from(format!(
                        "{} {verb}: {}",
                        v.reviewer,
                        clean(&v.reason)
                    )));
                }
                if let Some(screen) = &r.screen {
                    lines.push(Line::from("their screen (masked):"));
                    let all: Vec<&str> = screen.lines().collect();
                    let room = usize::from(details.height.saturating_sub(4));
                    let first = all.len().saturating_sub(room);
                    lines.extend(
                        all[first..]
                            .iter()
                            .map(|l| Line::from(format!("  {}", clean(l)))),
                    );
                }
                lines
            }
            None => vec![Line::from(if self.history {
                "no decided requests"
            } else {
                "no pending requests for you"
            })],
        };
        f.render_widget(
            Paragraph::new(detail)
                .wrap(Wrap { trim: false })
                .block(Block::new().borders(Borders::TOP).title("details")),
            details,
        );
        let footer = match &self.mode {
            Mode::Reason { id, approve, text } => {
                format!(
                    "{} request {id}, reason: {text}_   (Enter to confirm, Esc to cancel)",
                    if *approve { "approve" } else { "deny" }
                )
            }
            Mode::Browse if self.status.is_empty() => {
                "↑/↓ select  a approve  d deny  h history  s sessions  q quit".to_string()
            }
            Mode::Browse => format!(
                "{}   |   ↑/↓ select  a approve  d deny  h history  q quit",
                self.status
            ),
        };
        f.render_widget(Paragraph::new(footer), foot);
    }
}

/// Commands are shown, never interpreted by the reviewer's terminal.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
