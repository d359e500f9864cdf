//! `twostep serve`: wires the embedded store, read models, couriers,
//! application and facade, and serves until SIGINT or SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rand::Rng;
use twostep_app::{AppConfig, Metrics, Twostep};
use twostep_delivery::{DeliveryConfig, build_courier};
use twostep_http::{AppState, HttpConfig, ProxyNet, TrustedProxies};
use twostep_projections::ReadModels;
use twostep_store::EventStore;
use twostep_store::sqlite::SqliteStore;

use crate::cli::ServeArgs;

/// Requests queued for an argon2 verification before password steps answer 429.
const HASH_QUEUE: usize = 64;

/// Runs the service.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    crate::logging::init(args.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(args))
}

fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}

/// The service secret: from the flag/environment, else from (or generated into) `DATA_DIR/secret.key`.
fn service_secret(args: &ServeArgs) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &args.secret {
        if secret.len() < twostep_app::crypto::MIN_SECRET_BYTES {
            bail!(
                "TWOSTEP_SECRET must be at least {} bytes",
                twostep_app::crypto::MIN_SECRET_BYTES
            );
        }
        return Ok(secret.as_bytes().to_vec());
    }
    let path = args.data_dir.join("secret.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            hex::decode(text.trim()).with_context(|| format!("{} is not hex", path.display()))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            write_private(&path, hex::encode(secret).as_bytes())?;
            Ok(secret.to_vec())
        }
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_private(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(content)?;
    file.sync_all()?;
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let secret = service_secret(&args)?;
    let store: Arc<dyn EventStore> = Arc::new(
        SqliteStore::open(&args.data_dir.join("events.sqlite3"))
            .context("opening the embedded event store")?,
    );
    let read_models = ReadModels::open(&args.data_dir.join("readmodels.sqlite3"))
        .context("opening the read models")?;
    let outbox: PathBuf = args
        .outbox
        .clone()
        .unwrap_or_else(|| args.data_dir.join("outbox"));
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

    let mut announced = Vec::new();
    let operator_token = args.operator_token.clone().unwrap_or_else(|| {
        let token = random_token("op");
        announced.push(format!("operator token: {token}"));
        token
    });
    let auditor_token = args.auditor_token.clone().unwrap_or_else(|| {
        let token = random_token("au");
        announced.push(format!("auditor token: {token}"));
        token
    });
    let trusted_proxies = args
        .trusted_proxies
        .iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.parse::<ProxyNet>().map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let http = HttpConfig {
        operator_token,
        auditor_token,
        trusted_proxies: TrustedProxies(trusted_proxies),
        login_rate_per_minute: args.login_rate_per_minute,
        body_limit_bytes: args.body_limit_bytes,
    };
    let router = twostep_http::router(
        AppState::new(app, read_models, &http),
        http.body_limit_bytes,
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    {
        // Printed once, on stdout (not in the logs): the generated tokens and the address.
        let mut stdout = std::io::stdout().lock();
        for line in &announced {
            writeln!(stdout, "{line}")?;
        }
        writeln!(stdout, "outbox: {}", outbox.display())?;
        writeln!(stdout, "listening on http://{address}")?;
        stdout.flush()?;
    }
    tracing::info!(%address, store = store.kind(), data_dir = %args.data_dir.display(), "twostep serving");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
    .context("serving")?;
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
