//! `GET /v1/live/{SESSION-CHANNEL}`: a live channel of this bastion, for a reviewer on another
//! bastion of the fleet. `Authorization: Bearer TICKET`, a one-use ticket the reviewer's
//! bastion wrote (hashed) into the shared database moments before; taking it here is what
//! authenticates the asking bastion (only bastions write that database). The answer is the
//! screen so far, as the escape sequences that draw it (masked: rebuilt from the recording),
//! then the channel's live output (masked as its user sees it) until the channel ends. The
//! screen's size is in the `x-bastion-screen` header, `ROWSxCOLS`.

use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::broadcast;
use tracing::{info, warn};

use crate::gateway::watch::{FeedStart, Viewer};
use crate::services::Services;

/// The header naming the watched screen's size.
pub const SCREEN_HEADER: &str = "x-bastion-screen";

/// A ticket as bastions make them: 64 lowercase hex digits.
fn is_ticket(t: &str) -> bool {
    t.len() == 64
        && t.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `SESSION-CHANNEL`: hex digits and dashes, short.
fn is_channel_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// The hex SHA-256 of a ticket, as the database holds it.
pub fn ticket_hash(ticket: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, ticket.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Serves the feed of channel `id`; sets `long` once the answer may outlive the API's
/// connection lifetime.
pub(super) async fn serve(
    services: &Services,
    long: &AtomicBool,
    id: &str,
    headers: &HeaderMap,
) -> Response {
    let refused = |code: StatusCode, why: &str| (code, format!("{why}\n")).into_response();
    let Some(ticket) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| is_ticket(t))
    else {
        return refused(StatusCode::UNAUTHORIZED, "a watch ticket is needed");
    };
    // Checked before the database is asked: an unauthenticated flood costs no write.
    if !is_channel_id(id) || !services.live.contains(id) {
        return refused(
            StatusCode::NOT_FOUND,
            "no such live channel on this bastion",
        );
    }
    let (reviewer, from) = match services.audit.ticket_taken(&ticket_hash(ticket), id).await {
        Ok(Some(who)) => who,
        Ok(None) => {
            warn!(channel = id, "live feed refused: no valid ticket");
            services
                .metrics
                .remote_watch(crate::metrics::Watch::Refused);
            return refused(StatusCode::FORBIDDEN, "no valid ticket for this channel");
        }
        Err(e) => {
            warn!("live feed: audit store: {e}");
            return refused(StatusCode::SERVICE_UNAVAILABLE, "audit store unreachable");
        }
    };
    // From here on the answer may take longer than the API's usual connection lifetime (the
    // screen is rebuilt from the recording, then the feed lasts as long as the channel).
    long.store(true, Ordering::Relaxed);
    let Some((path, rx)) = services.live.watch(id).await else {
        return refused(
            StatusCode::NOT_FOUND,
            "no such live channel on this bastion",
        );
    };
    let viewer = tokio::task::spawn_blocking(move || Viewer::new(&path, rx)).await;
    let Some(FeedStart {
        screen,
        size: (rows, cols),
        output: rx,
    }) = viewer.ok().and_then(Viewer::into_feed)
    else {
        return refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot rebuild the screen",
        );
    };
    info!(channel = id, %reviewer, bastion = %from, "serving a live channel to another bastion's reviewer");
    services.metrics.remote_watch(crate::metrics::Watch::Served);
    let body = futures_util::stream::unfold(
        (Some(Bytes::from(screen)), rx),
        |(first, mut rx)| async move {
            if let Some(b) = first {
                return Some((Ok::<_, std::convert::Infallible>(b), (None, rx)));
            }
            loop {
                match rx.recv().await {
                    Ok(b) => return Some((Ok(b), (None, rx))),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            // The exemption from the connection lifetime ends with this answer.
            (header::CONNECTION, "close".to_string()),
            (
                header::HeaderName::from_static(SCREEN_HEADER),
                format!("{rows}x{cols}"),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}
