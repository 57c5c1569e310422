//! Watching a live channel that runs on another bastion of the fleet: the reviewer's bastion
//! writes a one-use ticket (its hash) into the shared database, then asks the channel's
//! bastion for the feed over its API with the ticket (see `crate::api::live`). When the other
//! bastion serves its API over TLS, only the certificates it published in the database are
//! trusted for it ([`super::pinned`]). A bastion that cannot be reached is said so within [`CONNECT`]; nothing
//! waits longer.

use std::time::Duration;

use crate::audit::LiveRow;
use crate::gateway::watch::Viewer;

use super::Reviewer;

/// How long the other bastion has to answer.
const CONNECT: Duration = Duration::from_secs(5);
/// How long a ticket may wait to be taken.
const TICKET_LIFE: Duration = Duration::from_secs(30);

/// Follows `row` (a channel of another bastion) for the reviewer of `ctx`.
///
/// # Errors
/// What the reviewer is told: why the channel cannot be watched.
pub async fn watch(ctx: &Reviewer<'_>, row: &LiveRow) -> Result<Viewer, String> {
    let bastion = &row.instance;
    let Some(api) = &row.api_url else {
        return Err(format!(
            "bastion {bastion} does not serve its sessions to the others (no server.api_listen or api_url)"
        ));
    };
    // The ticket and the screen cross the network: in clear only on this host's loopback.
    if api.starts_with("http://") && !loopback(api) {
        return Err(format!(
            "bastion {bastion} serves its API without TLS ({api}): watching across hosts needs \
             server.api_tls_cert there"
        ));
    }
    let ticket = random_ticket().ok_or("no randomness for a ticket")?;
    let expires = crate::audit::now_ms() + TICKET_LIFE.as_millis() as i64;
    ctx.audit
        .ticket_issued(
            &crate::api::live::ticket_hash(&ticket),
            &row.id,
            ctx.identity,
            expires,
        )
        .await
        .map_err(|e| format!("audit store: {e}"))?;
    let mut client = reqwest::Client::builder()
        .connect_timeout(CONNECT)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = &row.api_cert {
        let tls = super::pinned::client_config(pem)
            .map_err(|e| format!("bastion {bastion} published an unusable certificate: {e}"))?;
        client = client.use_preconfigured_tls(tls);
    }
    let client = client.build().map_err(|e| e.to_string())?;
    let url = format!("{}/v1/live/{}", api.trim_end_matches('/'), row.id);
    let asked = client.get(&url).bearer_auth(&ticket).send();
    let answer = match tokio::time::timeout(CONNECT * 2, asked).await {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => return Err(format!("cannot reach bastion {bastion} at {api}: {e}")),
        Err(_) => return Err(format!("bastion {bastion} at {api} did not answer")),
    };
    if !answer.status().is_success() {
        let status = answer.status();
        let why = answer.text().await.unwrap_or_default();
        return Err(format!(
            "bastion {bastion} refused: {status} {}",
            why.trim().chars().take(120).collect::<String>()
        ));
    }
    let (rows, cols) = answer
        .headers()
        .get(crate::api::live::SCREEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once('x'))
        .and_then(|(r, c)| Some((r.parse().ok()?, c.parse().ok()?)))
        .unwrap_or((24, 80));
    Ok(Viewer::remote(rows, cols, answer))
}

/// Whether an `http://` URL names a loopback address.
fn loopback(url: &str) -> bool {
    let rest = url.trim_start_matches("http://");
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn random_ticket() -> Option<String> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut b).ok()?;
    Some(b.iter().map(|x| format!("{x:02x}")).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback_is_plain_http() {
        for ok in [
            "http://127.0.0.1:8443",
            "http://[::1]:80/x",
            "http://localhost:9",
        ] {
            assert!(super::loopback(ok), "{ok}");
        }
        for no in [
            "http://10.0.0.5:8443",
            "http://bastion-a:8443",
            "http://127.0.0.1.evil.com",
        ] {
            assert!(!super::loopback(no), "{no}");
        }
    }
}
