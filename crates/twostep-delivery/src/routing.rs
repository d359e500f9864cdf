//! One courier in front of two: e-mails go one way, SMS the other.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{Courier, DeliveryError, Message};

/// Hands each e-mail to one courier and each SMS to another (they may be the
/// same, e.g. a [`FileOutbox`](crate::FileOutbox) for both).
#[derive(Clone)]
pub struct ChannelRouter {
    email: Arc<dyn Courier>,
    sms: Arc<dyn Courier>,
}

impl ChannelRouter {
    /// Routes e-mails to `email` and SMS to `sms`.
    pub fn new(email: Arc<dyn Courier>, sms: Arc<dyn Courier>) -> Self {
        Self { email, sms }
    }
}

#[async_trait]
impl Courier for ChannelRouter {
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        match message {
            Message::Email(_) => self.email.deliver(message).await,
            Message::Sms(_) => self.sms.deliver(message).await,
        }
    }
}
