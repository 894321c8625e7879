//! `health`, users, subscriptions, git sync and daemon control.

use thrum_proto::methods::Empty;
use thrum_proto::methods::system::{
    HealthResult, ShutdownResult, SubscribeParams, SubscribeResult, SubscriptionInfo, SubscriptionsListParams,
    SubscriptionsListResult, SyncForceParams, SyncForceResult, SyncStatusResult, UnsubscribeParams, UnsubscribeResult,
    UserIdentifyResult, UserRegisterParams, UserRegisterResult,
};
use thrum_store::query;

use crate::caller::Caller;
use crate::error::{HResult, server};
use crate::state::State;
use crate::subscriptions::Subscription;

pub async fn health(state: &State, _: &Caller, _: Empty) -> HResult<HealthResult> {
    Ok(HealthResult {
        status: if state.warnings.is_empty() { "ok".into() } else { "degraded".into() },
        uptime_ms: state.started.elapsed().as_millis() as u64,
        version: thrum_core::VERSION.into(),
        repo_id: String::new(),
        sync_state: state.sync.status().sync_state,
        identity: Some(state.identity.clone()),
        pid: std::process::id(),
        protocol_version: crate::protocol_version(),
        started_at: state.started_at.clone(),
        socket_path: state.layout.socket().display().to_string(),
        local_only: Some(state.local_only),
        ws_port: state.ws_port(),
        warnings: state.warnings.clone(),
    })
}

pub async fn user_identify(state: &State, _: &Caller, _: Empty) -> HResult<UserIdentifyResult> {
    let git = thrum_git::Git::new(&state.repo_root);
    let name = git
        .config_get("user.name")
        .ok_or_else(|| server("git config user.name not set: run `git config user.name \"Your Name\"`"))?;
    let email = git.config_get("user.email").unwrap_or_default();
    Ok(UserIdentifyResult { username: name.to_lowercase().replace(' ', "-"), email, display: name })
}

/// The caller's active session (subscriptions hang off sessions).
fn current_session(state: &State, caller: &Caller, claimed: Option<&str>) -> HResult<String> {
    let agent = caller.resolve(claimed)?;
    state
        .read(|r| Ok(query::active_session(r, &agent)?))?
        .map(|s| s.session_id)
        .ok_or_else(|| server(format!("no active session found for agent {agent}: run `thrum session start`")))
}

pub async fn subscribe(state: &State, caller: &Caller, p: SubscribeParams) -> HResult<SubscribeResult> {
    if p.scope.is_none() && p.mention_role.as_deref().unwrap_or("").is_empty() && !p.all {
        return Err(server("at least one of scope, mention_role, or all must be specified"));
    }
    let session_id = current_session(state, caller, p.caller_agent_id.as_deref())?;
    let agent = caller.resolve(p.caller_agent_id.as_deref())?;
    let (st, sv) = p.scope.map(|s| (s.kind, s.value)).unwrap_or_default();
    let sub = state.subscriptions.add(Subscription {
        id: 0,
        session_id: session_id.clone(),
        agent_id: agent,
        scope_type: st,
        scope_value: sv,
        mention_role: p.mention_role.unwrap_or_default().trim_start_matches('@').to_string(),
        all: p.all,
        created_at: thrum_core::time::now_rfc3339(),
    });
    Ok(SubscribeResult { subscription_id: sub.id, session_id, created_at: sub.created_at })
}

pub async fn unsubscribe(state: &State, caller: &Caller, p: UnsubscribeParams) -> HResult<UnsubscribeResult> {
    if p.subscription_id == 0 {
        return Err(server("subscription_id is required"));
    }
    let session_id = current_session(state, caller, p.caller_agent_id.as_deref())?;
    Ok(UnsubscribeResult { removed: state.subscriptions.remove(p.subscription_id, &session_id) })
}

pub async fn subscriptions_list(
    state: &State,
    caller: &Caller,
    p: SubscriptionsListParams,
) -> HResult<SubscriptionsListResult> {
    let session_id = current_session(state, caller, p.caller_agent_id.as_deref())?;
    let subscriptions: Vec<SubscriptionInfo> = state
        .subscriptions
        .for_session(&session_id)
        .into_iter()
        .map(|s| SubscriptionInfo {
            id: s.id,
            scope_type: s.scope_type,
            scope_value: s.scope_value,
            mention_role: s.mention_role,
            all: s.all,
            created_at: s.created_at,
        })
        .collect();
    Ok(SubscriptionsListResult { subscriptions })
}

pub async fn sync_force(state: &State, _: &Caller, p: SyncForceParams) -> HResult<SyncForceResult> {
    let status = state.sync.force(p.wait).await?;
    Ok(SyncForceResult { status, triggered: true })
}

pub async fn sync_status(state: &State, _: &Caller, _: Empty) -> HResult<SyncStatusResult> {
    // Tailscale peers depend on the host's Tailscale: show its state.
    let tailscale = state.peers.all().iter().any(|p| p.transport == "tailscale").then(crate::peers::tailscale::status);
    Ok(SyncStatusResult { status: state.sync.status(), tailscale })
}

/// `daemon.shutdown`: stops the daemon as SIGTERM would, once this answer
/// is on its way (in-flight requests finish first).
pub async fn shutdown(state: &State, _: &Caller, _: Empty) -> HResult<ShutdownResult> {
    tracing::info!("shutdown requested over RPC");
    state.stop.notify_one();
    Ok(ShutdownResult { status: "stopping".into(), pid: std::process::id() })
}

/// `user.register` (WebSocket only): a person using the web UI becomes the
/// agent `user:{username}` with an open session, so they can send and
/// receive like any agent. Registering again returns the same user.
pub async fn user_register(state: &State, _: &Caller, p: UserRegisterParams) -> HResult<UserRegisterResult> {
    if p.username.is_empty() {
        return Err(server("username is required"));
    }
    if p.username.starts_with("agent:") {
        return Err(server("username cannot start with 'agent:' prefix"));
    }
    if p.username.len() > 32 || !p.username.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(server("invalid username format: use 1-32 letters, digits, '_' or '-'"));
    }
    if p.display.len() > 200 {
        return Err(crate::error::bad_params("display name is too long (max 200 bytes)"));
    }
    let username = p.username.to_lowercase();
    let user_id = format!("user:{username}");
    state
        .writer
        .submit(move |c| {
            let existing = query::agent(c, &user_id)?;
            let mut events = Vec::new();
            if existing.is_none() {
                events.push(thrum_core::Event::new(
                    "agent.register",
                    &thrum_core::event::AgentRegister {
                        agent_id: user_id.clone(),
                        kind: "user".into(),
                        role: "user".into(),
                        module: "web".into(),
                        display: p.display.clone(),
                        ..Default::default()
                    },
                ));
            }
            if query::active_session(c, &user_id)?.is_none() {
                events.push(thrum_core::Event::new(
                    "agent.session.start",
                    &thrum_core::event::SessionStart {
                        session_id: thrum_core::new_id(thrum_core::IdKind::Session),
                        agent_id: user_id.clone(),
                        ..Default::default()
                    },
                ));
            }
            let result = UserRegisterResult {
                status: if events.iter().any(|e| e.kind() == "agent.register") { "registered" } else { "existing" }
                    .into(),
                user_id,
                username,
                display_name: if p.display.is_empty() {
                    existing.map(|a| a.display).unwrap_or_default()
                } else {
                    p.display.clone()
                },
                token: thrum_core::new_id(thrum_core::IdKind::Token),
            };
            Ok((events, result))
        })
        .await
}
