//! One rustls crypto provider for the whole binary: after
//! `install_crypto_provider` (the first thing `twostep::main` does), building
//! every TLS client of the binary — lettre (SMTP), reqwest (SMS gateway) and
//! the kurrentdb gRPC client — leaves that one provider as the process default.

use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;

fn suites(provider: &CryptoProvider) -> Vec<rustls::CipherSuite> {
    provider.cipher_suites.iter().map(|s| s.suite()).collect()
}

#[tokio::test]
async fn every_tls_client_keeps_the_one_installed_provider() {
    let installed = twostep::tls::install_crypto_provider();
    assert_eq!(
        suites(&installed),
        suites(&rustls::crypto::aws_lc_rs::default_provider()),
        "the installed provider is aws-lc-rs"
    );

    twostep_delivery::SmtpCourier::new(
        "smtps://127.0.0.1:465",
        "twostep <no-reply@twostep.localhost>",
        Duration::from_secs(1),
    )
    .expect("the SMTP client (TLS) builds");
    twostep_delivery::SmsGateway::new("https://127.0.0.1:9/sms", Duration::from_secs(1))
        .expect("the SMS gateway client builds");
    let settings = "kurrentdb://127.0.0.1:9?tls=true"
        .parse::<kurrentdb::ClientSettings>()
        .expect("a connection string");
    let client = kurrentdb::Client::new(settings).expect("the kurrentdb client builds");
    // The client connects lazily: ask it for something so that its TLS
    // set-up (which installs aws-lc-rs unless a provider is installed) runs.
    let _ = tokio::time::timeout(Duration::from_secs(2), client.server_info()).await;

    let after = CryptoProvider::get_default().expect("a process-wide provider");
    assert!(
        Arc::ptr_eq(&installed, after),
        "a client replaced the process-wide provider"
    );
    assert_eq!(
        twostep::tls::install_crypto_provider().as_ref() as *const CryptoProvider,
        Arc::as_ptr(&installed),
        "installing again keeps the first"
    );
}
