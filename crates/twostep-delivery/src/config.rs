//! Choosing the channels from configuration.

use std::{fmt, path::PathBuf, sync::Arc, time::Duration};

use reqwest::Url;

use crate::{ChannelRouter, Courier, DeliveryError, FileOutbox, SmsGateway, SmtpCourier};

/// How long one delivery may take unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The sender of e-mails unless configured otherwise.
pub const DEFAULT_FROM_ADDRESS: &str = "twostep <no-reply@twostep.localhost>";

/// Where messages go. A channel without a transport (no `smtp_url`, no
/// `sms_gateway_url`) writes to the file outbox instead.
///
/// `Debug` shows the URLs without credentials, path or query, so the
/// configuration can be logged at start-up.
#[derive(Clone, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// Root of the file outbox, used by whatever channel has no transport.
    pub outbox_dir: PathBuf,
    /// SMTP server for e-mails, e.g. `smtp://127.0.0.1:2525`,
    /// `smtp://user:pass@mail.example.com:587?tls=required` or
    /// `smtps://mail.example.com`. See [`SmtpCourier`].
    pub smtp_url: Option<String>,
    /// HTTP gateway for SMS, e.g. `http://127.0.0.1:9000/sms`. See [`SmsGateway`].
    pub sms_gateway_url: Option<String>,
    /// Sender of e-mails, e.g. `twostep <no-reply@twostep.localhost>`.
    pub from_address: String,
    /// Longest time one delivery may take.
    pub timeout: Duration,
}

impl DeliveryConfig {
    /// Everything to the file outbox at `outbox_dir`, from
    /// [`DEFAULT_FROM_ADDRESS`], with [`DEFAULT_TIMEOUT`].
    pub fn outbox_only(outbox_dir: impl Into<PathBuf>) -> Self {
        Self {
            outbox_dir: outbox_dir.into(),
            smtp_url: None,
            sms_gateway_url: None,
            from_address: DEFAULT_FROM_ADDRESS.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Builds the courier `config` describes: e-mails over SMTP if `smtp_url` is
/// set, SMS through the gateway if `sms_gateway_url` is set, and the rest to
/// the file outbox. Checks the configuration but connects to nothing.
pub fn build_courier(config: &DeliveryConfig) -> Result<Arc<dyn Courier>, DeliveryError> {
    if config.timeout.is_zero() {
        return Err(DeliveryError::Misconfigured(
            "the delivery timeout must be more than zero".into(),
        ));
    }
    // One outbox for both channels, so that they share its SMS lock.
    let outbox: Arc<dyn Courier> =
        Arc::new(FileOutbox::new(&config.outbox_dir, &config.from_address)?);
    let email: Arc<dyn Courier> = match &config.smtp_url {
        Some(url) => Arc::new(SmtpCourier::new(url, &config.from_address, config.timeout)?),
        None => outbox.clone(),
    };
    let sms: Arc<dyn Courier> = match &config.sms_gateway_url {
        Some(url) => Arc::new(SmsGateway::new(url, config.timeout)?),
        None => outbox,
    };
    Ok(Arc::new(ChannelRouter::new(email, sms)))
}

impl fmt::Debug for DeliveryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryConfig")
            .field("outbox_dir", &self.outbox_dir)
            .field("smtp_url", &self.smtp_url.as_deref().map(without_secrets))
            .field(
                "sms_gateway_url",
                &self.sms_gateway_url.as_deref().map(without_secrets),
            )
            .field("from_address", &self.from_address)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `scheme://host:port` of a URL: what is safe to log or print. Credentials
/// may hide in the user info, the path or the query.
pub fn without_secrets(url: &str) -> String {
    match Url::parse(url) {
        Ok(url) => {
            let host = url.host_str().unwrap_or_default();
            match url.port() {
                Some(port) => format!("{}://{host}:{port}", url.scheme()),
                None => format!("{}://{host}", url.scheme()),
            }
        }
        Err(_) => "<not a URL>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials_path_or_query() {
        assert_eq!(
            without_secrets("smtps://mailer:hunter2@mail.example.com:465"),
            "smtps://mail.example.com:465"
        );
        assert_eq!(
            without_secrets("smtp://127.0.0.1:2525?tls=required"),
            "smtp://127.0.0.1:2525"
        );
        assert_eq!(
            without_secrets("https://sms.example.com/send/s3cr3t?api_key=s3cr3t#x"),
            "https://sms.example.com"
        );
        assert_eq!(
            without_secrets("https://user:p@ss@sms.example.com"),
            "https://sms.example.com"
        );
        assert_eq!(without_secrets("not a url with s3cr3t"), "<not a URL>");
    }

    #[test]
    fn debug_output_hides_credentials_in_urls() {
        let config = DeliveryConfig {
            smtp_url: Some("smtps://mailer:hunter2@mail.example.com:465".into()),
            sms_gateway_url: Some("https://sms.example.com/send?api_key=s3cr3t".into()),
            ..DeliveryConfig::outbox_only("outbox")
        };

        let shown = format!("{config:?}");

        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("smtps://mail.example.com:465"), "{shown}");
        assert!(shown.contains("https://sms.example.com"), "{shown}");
    }

    #[test]
    fn a_bad_smtp_url_is_refused_without_repeating_it() {
        let config = DeliveryConfig {
            smtp_url: Some("ftp://mailer:hunter2@mail.example.com".into()),
            ..DeliveryConfig::outbox_only("outbox")
        };

        let error = build_courier(&config).err().map(|e| e.to_string());

        let error = error.expect("an ftp URL is not an SMTP URL");
        assert!(error.contains("SMTP URL"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn a_bad_gateway_url_is_refused_without_repeating_it() {
        let config = DeliveryConfig {
            sms_gateway_url: Some("mailto:s3cr3t@example.com".into()),
            ..DeliveryConfig::outbox_only("outbox")
        };

        let error = build_courier(&config).err().map(|e| e.to_string());

        let error = error.expect("a mailto URL is not a gateway");
        assert!(!error.contains("s3cr3t"), "{error}");
    }

    #[test]
    fn a_zero_timeout_is_refused() {
        let config = DeliveryConfig {
            timeout: Duration::ZERO,
            ..DeliveryConfig::outbox_only("outbox")
        };

        assert!(matches!(
            build_courier(&config),
            Err(DeliveryError::Misconfigured(_))
        ));
    }
}
