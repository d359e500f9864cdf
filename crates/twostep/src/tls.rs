//! One rustls crypto provider for the whole binary.
//!
//! Three clients in this binary use rustls: lettre (SMTP), reqwest (the SMS
//! gateway, the KurrentDB HTTP API) and the `kurrentdb` gRPC client (tonic).
//! Each asks rustls for the process-wide default provider first, and each
//! would otherwise fall back on one of its own choosing (the `kurrentdb`
//! client even installs aws-lc-rs as the default on its first connection).
//! Installing aws-lc-rs here, before anything else runs, makes that one
//! provider the answer for all three.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// Installs aws-lc-rs as the process-wide rustls crypto provider (a no-op
/// when one is installed already) and returns the one in force.
pub fn install_crypto_provider() -> Arc<CryptoProvider> {
    // An error only says that a provider is already installed.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}
