//! Who is asking, from where: carried into every event's metadata.

use std::net::IpAddr;

use twostep_store::Metadata;
use uuid::Uuid;

/// Longest `User-Agent` kept in an event.
const MAX_USER_AGENT_CHARS: usize = 256;

/// Who performs a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A client not (yet) authenticated: login steps, reminders, reports.
    Anonymous,
    /// The holder of a session of this user.
    User(Uuid),
    /// Support / account manager, with the operator token.
    Operator,
    /// The service itself (background work).
    System,
}

impl Actor {
    /// The label stored in metadata.
    pub fn label(&self) -> String {
        match self {
            Actor::Anonymous => "anonymous".to_owned(),
            Actor::User(id) => format!("user:{id}"),
            Actor::Operator => "operator".to_owned(),
            Actor::System => "system".to_owned(),
        }
    }
}

/// The request a command comes from.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Shared by every event the request causes.
    pub correlation_id: Uuid,
    /// Who.
    pub actor: Actor,
    /// The client's address.
    pub client_ip: Option<IpAddr>,
    /// The client's `User-Agent`, truncated.
    pub user_agent: Option<String>,
}

impl RequestContext {
    /// A context for work the service does on its own.
    pub fn system() -> Self {
        Self {
            correlation_id: Uuid::now_v7(),
            actor: Actor::System,
            client_ip: None,
            user_agent: None,
        }
    }

    /// A context for a request.
    pub fn new(actor: Actor, client_ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent.map(|ua| {
            ua.chars()
                .filter(|c| !c.is_control())
                .take(MAX_USER_AGENT_CHARS)
                .collect()
        });
        Self {
            correlation_id: Uuid::now_v7(),
            actor,
            client_ip,
            user_agent,
        }
    }

    /// The same request, acting as someone else (e.g. once a session is known).
    pub fn as_actor(&self, actor: Actor) -> Self {
        Self {
            actor,
            ..self.clone()
        }
    }

    /// Metadata for events caused by `causation` (an event id) or, if `None`, by the request itself.
    pub fn metadata(&self, causation: Option<Uuid>) -> Metadata {
        Metadata {
            correlation_id: self.correlation_id,
            causation_id: Some(causation.unwrap_or(self.correlation_id)),
            actor: self.actor.label(),
            client_ip: self.client_ip.map(|ip| ip.to_string()),
            user_agent: self.user_agent.clone(),
            chain: None,
        }
    }
}
