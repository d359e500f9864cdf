//! `twostep serve`: checks the flags, binds the address, then wires the
//! private data directory, embedded store, read models, couriers,
//! application and facade, and serves until SIGINT or SIGTERM.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use twostep_app::{AppConfig, Metrics, Twostep};
use twostep_delivery::{DeliveryConfig, build_courier};
use twostep_http::{AppState, HttpConfig, ProxyNet, TrustedProxies};
use twostep_projections::ReadModels;
use twostep_store::EventStore;

use crate::admin_tokens::{self, AdminTokens};
use crate::cli::ServeArgs;
use crate::connections::ConnectionLimits;

/// Requests queued for an argon2 verification before password steps answer 429.
const HASH_QUEUE: usize = 64;

/// How long the runtime waits for its remaining tasks once serving ended.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(1);

/// Runs the service.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    crate::logging::init(args.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let served = runtime.block_on(serve(args));
    // Connections still open after the shutdown timeout are dropped here.
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    served
}

/// What can be checked from the flags alone, before anything is touched.
fn check_flags(args: &ServeArgs) -> anyhow::Result<(AdminTokens, TrustedProxies)> {
    if let Some(secret) = &args.secret
        && secret.len() < twostep_app::crypto::MIN_SECRET_BYTES
    {
        bail!(
            "TWOSTEP_SECRET must be at least {} bytes",
            twostep_app::crypto::MIN_SECRET_BYTES
        );
    }
    args.store.require_shared_secret(args.secret.is_some())?;
    let tokens = admin_tokens::resolve(
        args.operator_token.as_deref(),
        args.auditor_token.as_deref(),
    )?;
    let trusted_proxies = args
        .trusted_proxies
        .iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.parse::<ProxyNet>().map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((tokens, TrustedProxies(trusted_proxies)))
}

/// The start banner's line for each channel: where its messages go, without
/// credentials (`email: smtp://host:port`, `sms: outbox DIR/sms.jsonl`).
fn transport_lines(args: &ServeArgs, outbox: &Path) -> [String; 2] {
    let email = match &args.smtp_url {
        Some(url) => twostep_delivery::without_secrets(url),
        None => format!("outbox {}", outbox.join("email").display()),
    };
    let sms = match &args.sms_gateway_url {
        Some(url) => twostep_delivery::without_secrets(url),
        None => format!("outbox {}", outbox.join("sms.jsonl").display()),
    };
    [format!("email: {email}"), format!("sms: {sms}")]
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let (tokens, trusted_proxies) = check_flags(&args)?;
    // Bound before the data directory is touched: a taken port fails clean.
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    crate::data_dir::create_private(&args.store.data_dir)?;
    let secret = crate::secret::load_or_create(args.secret.as_deref(), &args.store.data_dir)?;
    let store: Arc<dyn EventStore> = args.store.open().await?;
    let read_models = ReadModels::open(&args.store.data_dir.join("readmodels.sqlite3"))
        .context("opening the read models")?;
    let outbox: PathBuf = args
        .outbox
        .clone()
        .unwrap_or_else(|| args.store.data_dir.join("outbox"));
    let courier = build_courier(&DeliveryConfig {
        outbox_dir: outbox.clone(),
        smtp_url: args.smtp_url.clone(),
        sms_gateway_url: args.sms_gateway_url.clone(),
        from_address: args.mail_from.clone(),
        timeout: Duration::from_secs(10),
    })
    .context("configuring delivery")?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let config = AppConfig {
        public_url: args.public_url.clone(),
        hash_concurrency: cores,
        hash_queue: HASH_QUEUE,
    };
    let metrics = Arc::new(Metrics::default());
    let app = Arc::new(
        Twostep::new(store.clone(), courier, &secret, &config, metrics)
            .context("starting the application")?,
    );
    let _projectors = read_models.spawn(store.clone());
    let checkpoint_key = twostep_app::crypto::ServiceKey::new(&secret);
    let checkpoints = crate::audit::spawn_checkpoints(
        store.clone(),
        checkpoint_key.clone(),
        Duration::from_secs(args.checkpoint_interval_seconds),
    );

    let http = HttpConfig {
        operator_token: tokens.operator,
        auditor_token: tokens.auditor,
        trusted_proxies,
        login_rate_per_minute: args.login_rate_per_minute,
        login_in_flight_per_client: args.login_in_flight_per_client,
        body_limit_bytes: args.body_limit_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_seconds),
    };
    let router = twostep_http::router(AppState::new(app, read_models, &http), &http);
    {
        // Printed once, on stdout (not in the logs): the generated tokens,
        // where messages go, and the address.
        let mut stdout = std::io::stdout().lock();
        for line in &tokens.announced {
            writeln!(stdout, "{line}")?;
        }
        for line in transport_lines(&args, &outbox) {
            writeln!(stdout, "{line}")?;
        }
        writeln!(stdout, "listening on http://{address}")?;
        stdout.flush()?;
    }
    tracing::info!(%address, store = store.kind(), data_dir = %args.store.data_dir.display(), "twostep serving");
    let limits = ConnectionLimits {
        header_timeout: Duration::from_secs(args.header_timeout_seconds),
        idle_timeout: Duration::from_secs(args.idle_timeout_seconds),
        max_connections: args.max_connections,
        shutdown_timeout: Duration::from_secs(args.shutdown_timeout_seconds),
    };
    crate::connections::serve(listener, router, limits, shutdown()).await;
    // A last checkpoint, so a clean stop leaves no unsigned tail.
    if let Some(task) = checkpoints {
        task.abort();
        crate::audit::sign_now(store.as_ref(), &checkpoint_key).await;
    }
    tracing::info!("twostep stopped");
    Ok(())
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
