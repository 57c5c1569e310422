//! `bastion audit sessions|channels|auth|export|migrate`: read the audit store.

mod recordings;
mod table;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context};
use bastion::audit::{AuditStore, AuthRow, ChannelRow, Filter, SessionRow};
use serde::Serialize;

use super::config_arg::ConfigArg;
use super::failure::Failure;
use super::out::Out;

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Sessions: who connected from where, to which target, and how it ended.
    Sessions(List),
    /// Channels: shells, commands, subsystems and forwards, with exit status and bytes.
    Channels(List),
    /// Authentication decisions, accepted and refused, each with its reason.
    Auth(List),
    /// Certificates the CA issued (HTTP API, `ca sign`), and whether they are revoked.
    Certs(List),
    /// Approval requests and their decisions (who asked, which rule, who decided, why).
    Approvals(List),
    /// Each channel's recording checked against its row: present, intact, sealed, signed by
    /// the recording key, of that session and channel, with the row's final hash. Exit 1 if any
    /// is not.
    Recordings(List),
    /// JSON lines for a SIEM: every session with its channels, and the auth events.
    Export(Export),
    /// Create or upgrade the database schema (and check that the database is reachable).
    Migrate {
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Debug, clap::Args)]
pub struct List {
    /// Rows from this long ago (24h, 7d) or from this time (2025-01-31T08:00:00Z) on.
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    since: Option<i64>,
    /// Only this identity (the certificate's key id).
    #[arg(long)]
    user: Option<String>,
    /// Only this target (not for `auth`: authentication happens before a target is chosen).
    #[arg(long)]
    target: Option<String>,
    /// At most N rows: the most recent ones.
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
    /// Only refused authentications and destinations (`auth`).
    #[arg(long)]
    refused: bool,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(Debug, clap::Args)]
pub struct Export {
    /// Sessions and auth events from this long ago (24h) or this time on.
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    since: i64,
    /// Write here (mode 0600) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArg,
}

impl AuditCommand {
    pub fn run(self) -> Result<(), Failure> {
        let runtime = super::failure::runtime()?;
        match self {
            AuditCommand::Sessions(l) => runtime.block_on(async {
                let store = open(&l.config, false).await?;
                let rows = store.sessions(&l.filter()).await?;
                print_rows(&rows, l.json, table::sessions)
            }),
            AuditCommand::Channels(l) => runtime.block_on(async {
                let store = open(&l.config, false).await?;
                let rows = store.channels(&l.filter()).await?;
                print_rows(&rows, l.json, table::channels)
            }),
            AuditCommand::Auth(l) => {
                if l.target.is_some() {
                    return Err(Failure::usage(anyhow!(
                        "--target does not apply to auth events (they happen before a target is chosen)"
                    )));
                }
                runtime.block_on(async {
                    let store = open(&l.config, false).await?;
                    let rows = store.auth_events(&l.filter()).await?;
                    print_rows(&rows, l.json, table::auth)
                })
            }
            AuditCommand::Certs(l) => {
                if l.target.is_some() {
                    return Err(Failure::usage(anyhow!(
                        "--target does not apply to certificates"
                    )));
                }
                runtime.block_on(async {
                    let store = open(&l.config, false).await?;
                    let rows = store.certificates(&l.filter()).await?;
                    print_rows(&rows, l.json, table::certs)
                })
            }
            AuditCommand::Approvals(l) => runtime.block_on(async {
                let store = open(&l.config, false).await?;
                let mut rows = store.approvals(false, l.limit.unwrap_or(1000)).await?;
                rows.retain(|r| {
                    l.since.is_none_or(|s| r.requested_at_ms >= s)
                        && l.user.as_ref().is_none_or(|u| &r.requester == u)
                        && l.target.as_ref().is_none_or(|t| &r.target == t)
                });
                print_rows(&rows, l.json, table::approvals)
            }),
            AuditCommand::Recordings(l) => {
                let config = l.config.load()?;
                let trusted = super::verify::trusted_keys(&[], &l.config)?;
                if trusted.is_empty() {
                    return Err(Failure::usage(anyhow!(
                        "no recording key to check signatures against (the configuration's [recording] signing_key)"
                    )));
                }
                let rows = runtime.block_on(async {
                    let store = open(&l.config, false).await?;
                    Ok::<_, Failure>(store.channels(&l.filter()).await?)
                })?;
                let objects = bastion::store::Store::open(&config.recording)
                    .map_err(|e| Failure::usage(anyhow!("{e}")))?;
                let place = Place {
                    dir: &config.recording.dir,
                    store: objects.as_ref().map(|s| (s, &runtime)),
                };
                recordings(&rows, &trusted, &place, l.json)
            }
            AuditCommand::Export(e) => runtime.block_on(e.run()),
            AuditCommand::Migrate { config } => runtime.block_on(async {
                let store = open(&config, true).await?;
                let mut out = Out::new();
                out.line(format_args!("{}: schema up to date", store.url()))?;
                out.finish()?;
                Ok(())
            }),
        }
    }
}

impl List {
    fn filter(&self) -> Filter {
        Filter {
            refused: self.refused,
            since_ms: self.since,
            user: self.user.clone(),
            target: self.target.clone(),
            limit: self.limit,
        }
    }
}

/// One line of `audit export`, tagged with its `type`.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Line<'a> {
    Session {
        #[serde(flatten)]
        session: &'a SessionRow,
        channels: Vec<&'a ChannelRow>,
    },
    /// A channel in the window whose session started before it.
    Channel(&'a ChannelRow),
    Auth(&'a AuthRow),
}

impl Export {
    async fn run(self) -> Result<(), Failure> {
        let store = open(&self.config, false).await?;
        let filter = Filter {
            since_ms: Some(self.since),
            ..Filter::default()
        };
        let sessions = store.sessions(&filter).await?;
        // A session's channels start after it, so this holds every channel of those sessions.
        let channels = store.channels(&filter).await?;
        let auth = store.auth_events(&filter).await?;
        let mut lines: Vec<(i64, Line)> = Vec::new();
        for s in &sessions {
            let mine = channels.iter().filter(|c| c.session_id == s.id).collect();
            lines.push((
                s.started_at_ms,
                Line::Session {
                    session: s,
                    channels: mine,
                },
            ));
        }
        for c in &channels {
            if !sessions.iter().any(|s| s.id == c.session_id) {
                lines.push((c.started_at_ms, Line::Channel(c)));
            }
        }
        lines.extend(auth.iter().map(|a| (a.at_ms, Line::Auth(a))));
        lines.sort_by_key(|(at, _)| *at);
        let lines = lines.iter().map(|(_, line)| line);
        match &self.output {
            Some(path) => write_json_lines(&mut create_private(path)?, lines)
                .with_context(|| format!("cannot write {}", path.display()))
                .map_err(Failure::failed),
            None => Out::with(|out| write_json_lines(out, lines)),
        }
    }
}

/// Loads the configuration and connects. Read commands refuse a missing SQLite file rather
/// than create one (likely a wrong path, and a file created by another user would lock the
/// bastion out of its own database).
async fn open(config: &ConfigArg, create: bool) -> Result<AuditStore, Failure> {
    let config = config.load()?;
    if create {
        return super::database::connect(&config.audit.database).await;
    }
    super::database::open_existing(&config.audit.database).await
}

fn print_rows<R: Serialize>(
    rows: &[R],
    json: bool,
    table: fn(&[R]) -> table::Table,
) -> Result<(), Failure> {
    if json {
        Out::with(|out| write_json_lines(out, rows.iter()))
    } else {
        Out::with(|out| table(rows).write(out))
    }
}

fn write_json_lines<T: Serialize>(
    out: &mut dyn Write,
    rows: impl Iterator<Item = T>,
) -> std::io::Result<()> {
    for row in rows {
        serde_json::to_writer(&mut *out, &row)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// An export holds identities and commands: readable by its owner only.
fn create_private(path: &Path) -> Result<std::io::BufWriter<std::fs::File>, Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map(std::io::BufWriter::new)
        .with_context(|| format!("cannot create {}", path.display()))
        .map_err(Failure::failed)
}

/// `24h` (that long ago) or an RFC 3339 time, as unix milliseconds.
fn parse_since(s: &str) -> Result<i64, String> {
    let at = match humantime::parse_duration(s) {
        Ok(ago) => SystemTime::now()
            .checked_sub(ago)
            .ok_or_else(|| format!("{s} ago is before the epoch"))?,
        Err(_) => humantime::parse_rfc3339_weak(s).map_err(|_| {
            format!("expected a duration (24h, 7d) or a time (2025-01-31T08:00:00Z), got {s:?}")
        })?,
    };
    Ok(unix_ms(at))
}

fn unix_ms(at: SystemTime) -> i64 {
    let ms = at
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis();
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Where recordings are: the recording directory, and the object store rows name.
struct Place<'a> {
    dir: &'a Path,
    store: Option<(&'a bastion::store::Store, &'a tokio::runtime::Runtime)>,
}

/// Prints one line (or JSON object) per recorded channel; fails if any recording does not
/// match its row, with [`super::failure::EXIT_RECOVERED_TAIL`] if all that is wrong is recovered tails.
/// A row that names an object in the store is checked against the object (copied out of the
/// store), the others against their file.
fn recordings(
    rows: &[bastion::audit::ChannelRow],
    trusted: &[recorder::VerifyingKey],
    place: &Place,
    json: bool,
) -> Result<(), Failure> {
    let (mut failed, mut tails, mut checked) = (0u64, 0u64, 0u64);
    let mut out = Out::new();
    for row in rows {
        // Port forwards have no recording.
        let Some(path) = &row.recording_path else {
            continue;
        };
        let check = match (&row.recording_url, place.store) {
            (Some(url), Some((store, runtime))) => match runtime.block_on(store.fetch(url)) {
                Ok(fetched) if fetched.parts.is_some() => {
                    recordings::check_stored(row, url, &fetched.cast, trusted, false)
                }
                Ok(fetched) => recordings::check_stored(row, url, &fetched.cast, trusted, true),
                Err(e) => recordings::missing(row, url, &e.to_string()),
            },
            (Some(url), None) => recordings::missing(
                row,
                url,
                "the row names an object, and the configuration no store ([recording] store)",
            ),
            (None, _) => recordings::check(row, &recordings::resolve(path, place.dir), trusted),
        };
        checked += 1;
        match check.status {
            recordings::Status::Ok | recordings::Status::Open => {}
            recordings::Status::RecoveredTail => tails += 1,
            recordings::Status::Failed => failed += 1,
        }
        if json {
            out.line(serde_json::to_string(&check).context("report")?)?;
        } else {
            let status = check.status.word();
            let problems = match check.problems.join("; ") {
                p if p.is_empty() => p,
                p => format!(": {}", table::clean(&p)),
            };
            out.line(format_args!(
                "{status:<7}{}-{}  {}{problems}",
                check.session_id,
                check.channel,
                table::clean(&check.path),
            ))?;
        }
    }
    out.finish()?;
    if failed > 0 {
        return Err(Failure::failed(anyhow!(
            "{failed} of {checked} recordings do not match their audit rows"
        )));
    }
    if tails > 0 {
        return Err(Failure::recovered_tail(anyhow!(
            "{tails} of {checked} recordings end in a recovered tail: lines no live checkpoint covered, signed only by crash recovery"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_durations_and_times() {
        assert_eq!(parse_since("2025-01-31T08:00:00Z"), Ok(1_738_310_400_000));
        let day_ago = parse_since("24h").unwrap();
        let expected = unix_ms(SystemTime::now()) - 86_400_000;
        assert!((day_ago - expected).abs() < 5_000, "{day_ago} {expected}");
        assert!(parse_since("yesterday").unwrap_err().contains("expected"));
    }
}
