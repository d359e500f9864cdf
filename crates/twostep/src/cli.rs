//! Commands and flags. Every `serve` flag can also be set by a `TWOSTEP_*`
//! environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::store::StoreArgs;

/// twostep: two-factor login for multi-tenant products.
#[derive(Debug, Parser)]
#[command(name = "twostep", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP facade (on the embedded event store in --data-dir unless --store says otherwise).
    Serve(Box<ServeArgs>),
    /// Print (or write) the OpenAPI document of the facade.
    Openapi {
        /// Write it to this file instead of printing it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write the JSON Schema of every stored event type, one file per type.
    Schemas {
        /// Directory to write into.
        #[arg(long, default_value = "schemas/events")]
        out: PathBuf,
    },
    /// Manage projections (read models).
    Projections {
        /// What to do with them.
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
}

/// `twostep projections …`.
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Install (or update) the KurrentDB server-side projections of projections/kurrentdb/ through the server's HTTP API.
    Install {
        /// The KurrentDB connection string, e.g. kurrentdb://localhost:2113?tls=false (user:password@ when the server is secure).
        #[arg(long, env = "TWOSTEP_STORE_URL", hide_env_values = true)]
        store_url: String,
    },
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Flags of `twostep serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, env = "TWOSTEP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where the events are (`--data-dir`, `--store`, `--store-url`).
    #[command(flatten)]
    pub store: StoreArgs,
    /// File outbox for messages without a configured transport (default: DATA_DIR/outbox).
    #[arg(long, env = "TWOSTEP_OUTBOX")]
    pub outbox: Option<PathBuf>,
    /// Send e-mail over SMTP, e.g. smtp://127.0.0.1:2525 (default: file outbox).
    #[arg(long, env = "TWOSTEP_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// Send SMS by JSON POST {to, body} to this URL (default: file outbox).
    #[arg(long, env = "TWOSTEP_SMS_GATEWAY_URL")]
    pub sms_gateway_url: Option<String>,
    /// Base URL of the application's pages that take the tokens of the links in
    /// messages (`/access/confirm?token=`, `/password/reset?token=`,
    /// `/security/unrequested-code?report=`) and call this API with them; not
    /// this service, which serves no such pages.
    #[arg(
        long,
        env = "TWOSTEP_PUBLIC_URL",
        default_value = "http://localhost:3000"
    )]
    pub public_url: String,
    /// Sender of e-mails.
    #[arg(
        long,
        env = "TWOSTEP_MAIL_FROM",
        default_value = "twostep <no-reply@twostep.localhost>"
    )]
    pub mail_from: String,
    /// Log format.
    #[arg(long, env = "TWOSTEP_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Operator bearer token, at least 32 characters (generated and printed once at start when unset).
    #[arg(long, env = "TWOSTEP_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
    /// Auditor bearer token, at least 32 characters, not the operator's (generated and printed once at start when unset).
    #[arg(long, env = "TWOSTEP_AUDITOR_TOKEN", hide_env_values = true)]
    pub auditor_token: Option<String>,
    /// Service secret keying code digests, at least 32 bytes (default: generated once into DATA_DIR/secret.key).
    #[arg(long, env = "TWOSTEP_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Proxies (addresses or CIDR blocks) whose X-Forwarded-For is believed; comma-separated.
    #[arg(long, env = "TWOSTEP_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Password steps, reminders and confirmations allowed per client address per minute (0: no limit).
    #[arg(long, env = "TWOSTEP_LOGIN_RATE_PER_MINUTE", default_value_t = 60)]
    pub login_rate_per_minute: u32,
    /// Password checks (password steps, access confirmations) one client may have in flight at once; more answer 429 (0: no cap).
    #[arg(long, env = "TWOSTEP_LOGIN_IN_FLIGHT_PER_CLIENT", default_value_t = 2)]
    pub login_in_flight_per_client: u32,
    /// Largest request body, in bytes.
    #[arg(long, env = "TWOSTEP_BODY_LIMIT_BYTES", default_value_t = 16 * 1024)]
    pub body_limit_bytes: usize,
    /// Longest a request may take, body upload included, before it is answered 503 request_timeout.
    #[arg(long, env = "TWOSTEP_REQUEST_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_seconds: u64,
    /// Longest a client may take to send a request's line and headers (from its first byte, or from connecting) before the connection is closed.
    #[arg(long, env = "TWOSTEP_HEADER_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_seconds: u64,
    /// Longest a keep-alive connection may stay open with no request in flight before it is closed.
    #[arg(long, env = "TWOSTEP_IDLE_TIMEOUT_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_seconds: u64,
    /// Connections served at once; further clients wait to be accepted.
    #[arg(long, env = "TWOSTEP_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// On SIGTERM or SIGINT, how long requests in flight may take to finish before the service exits anyway.
    #[arg(long, env = "TWOSTEP_SHUTDOWN_TIMEOUT_SECONDS", default_value_t = 10)]
    pub shutdown_timeout_seconds: u64,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => crate::serve::run(*args),
        Command::Openapi { out } => {
            let text = format!(
                "{}\n",
                serde_json::to_string_pretty(&twostep_http::openapi())?
            );
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display())),
                None => {
                    print!("{text}");
                    Ok(())
                }
            }
        }
        Command::Projections {
            command: ProjectionsCommand::Install { store_url },
        } => crate::kurrent_projections::run(&store_url),
        Command::Schemas { out } => {
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            for (name, schema) in twostep_app::schemas::event_schemas() {
                let path = out.join(format!("{name}.json"));
                let text = format!("{}\n", serde_json::to_string_pretty(&schema)?);
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(())
        }
    }
}
