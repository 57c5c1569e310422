//! The idle logoff: a connection across which nothing has moved for its role's idle timeout,
//! with no command without a terminal running, is logged off.

use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use crate::gateway::session::SessionCtx;
use crate::policy;

/// Logs the user off once nothing has crossed the connection for the role's idle timeout and
/// no command without a terminal is running.
pub async fn watchdog(ctx: Arc<SessionCtx>, handle: russh::server::Handle) {
    loop {
        let timeout = ctx.access().map(|a| a.idle_timeout).unwrap_or_else(|| {
            policy::roles_for(&ctx.services.config, &ctx.user.principals)
                .iter()
                .map(|r| r.idle_timeout.duration())
                .min()
                .unwrap_or(Duration::from_secs(900))
        });
        // A command without a terminal may run quietly for a long time (a migration, a
        // build): the idle logoff is for unattended interactive sessions.
        let idle = if ctx.commands_running() {
            Duration::ZERO
        } else {
            ctx.idle_for()
        };
        if idle >= timeout {
            warn!(session = %ctx.id, identity = %ctx.user.key_id, idle_secs = idle.as_secs(), "idle timeout: logging off");
            let notice = format!(
                "bastion: no activity for {}; you are being logged off (idle timeout).",
                crate::human::duration(timeout)
            );
            ctx.log_off(&handle, &notice, "idle timeout").await;
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(timeout - idle) => {}
            _ = ctx.closed.cancelled() => return,
        }
    }
}
