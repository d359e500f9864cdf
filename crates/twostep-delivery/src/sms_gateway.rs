//! SMS through an HTTP gateway: `POST {"to": …, "body": …}` as JSON.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Client, Url, redirect};
use serde::Serialize;

use crate::{
    Courier, DeliveryError, Message, Sms,
    message::{Channel, is_e164},
};

/// Posts each SMS as JSON `{"to": "+32…", "body": "…"}` to a gateway URL. Any
/// 2xx answer means the gateway took the message; anything else is an error
/// carrying the status code.
///
/// `user:password@` in the URL is sent as HTTP Basic authentication. Redirects
/// are not followed: the body holds a secret and goes to the configured URL
/// only.
#[derive(Clone)]
pub struct SmsGateway {
    client: Client,
    url: Url,
    timeout: Duration,
}

/// What the gateway receives.
#[derive(Serialize)]
struct SmsRequest<'a> {
    to: &'a str,
    body: &'a str,
}

impl SmsGateway {
    /// A gateway at `url` (`http` or `https`), giving up on a message after
    /// `timeout`. Does not connect yet.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, DeliveryError> {
        let url = Url::parse(url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
            .ok_or_else(|| {
                DeliveryError::Misconfigured("the SMS gateway URL is not an http(s) URL".into())
            })?;
        let client = Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(redirect::Policy::none())
            .user_agent(concat!("twostep/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| {
                DeliveryError::Misconfigured(format!(
                    "the HTTP client for the SMS gateway could not be built ({})",
                    error.without_url()
                ))
            })?;
        Ok(Self {
            client,
            url,
            timeout,
        })
    }

    /// Posts `sms` to the gateway.
    pub async fn send_sms(&self, sms: &Sms) -> Result<(), DeliveryError> {
        if !is_e164(&sms.to) {
            return Err(DeliveryError::InvalidRecipient(Channel::Sms));
        }
        let request = SmsRequest {
            to: &sms.to,
            body: &sms.body,
        };
        let response = self
            .client
            .post(self.url.clone())
            .json(&request)
            .send()
            .await
            .map_err(|error| DeliveryError::from_gateway(error, self.timeout))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(DeliveryError::GatewayStatus {
                status: status.as_u16(),
            })
        }
    }
}

#[async_trait]
impl Courier for SmsGateway {
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        match message {
            Message::Sms(sms) => self.send_sms(sms).await,
            Message::Email(_) => Err(DeliveryError::UnsupportedChannel(Channel::Email)),
        }
    }
}
