//! The text of every message twostep sends. Each message that carries a code
//! says what an unrequested code means and carries a report link.

use twostep_delivery::{Email, Message, Sms};
use twostep_domain::{Channel, OneTimeCode, Timestamp};

use crate::tokens::SecretToken;

/// Builds messages; links start with the public URL of the application.
#[derive(Debug, Clone)]
pub struct Templates {
    public_url: String,
}

/// A code on its way out.
pub struct CodeMessage<'a> {
    /// Licence name.
    pub licence: &'a str,
    /// Channel.
    pub channel: Channel,
    /// Full destination.
    pub to: &'a str,
    /// The code.
    pub code: &'a OneTimeCode,
    /// Its lifetime.
    pub ttl_seconds: u64,
    /// When it expires.
    pub expires_at: Timestamp,
    /// The report token.
    pub report: &'a SecretToken,
}

/// `2026-12-03 15:25` (UTC): what a person reads in a message.
fn clock_time(at: Timestamp) -> String {
    let at = at.instant();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

fn minutes(seconds: u64) -> String {
    match seconds {
        s if s % 60 == 0 && s >= 60 => {
            format!("{} minute{}", s / 60, if s == 60 { "" } else { "s" })
        }
        s => format!("{s} second{}", if s == 1 { "" } else { "s" }),
    }
}

impl Templates {
    /// Templates whose links start with `public_url` (no trailing slash needed).
    pub fn new(public_url: &str) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The link that reports an unrequested code.
    pub fn report_link(&self, report: &SecretToken) -> String {
        format!(
            "{}/security/unrequested-code?report={}",
            self.public_url,
            report.encode()
        )
    }

    /// The message carrying a one-time code.
    pub fn code(&self, m: &CodeMessage<'_>) -> Message {
        let validity = minutes(m.ttl_seconds);
        let report = self.report_link(m.report);
        match m.channel {
            Channel::Email => Message::Email(Email {
                to: m.to.to_owned(),
                subject: format!("Your login code for {}", m.licence),
                text: format!(
                    "Your login code for the licence {licence} is:\n\n    {code}\n\n\
                     It is valid for {validity} (until {expires} UTC), and only the most recent code works.\n\n\
                     Did you not just try to log in? Then someone else knows your password.\n\
                     Do not share this code. Report it with the link below, then change your password:\n\
                     {report}\n",
                    licence = m.licence,
                    code = m.code.as_str(),
                    expires = clock_time(m.expires_at),
                ),
            }),
            Channel::Sms => Message::Sms(Sms {
                to: m.to.to_owned(),
                body: format!(
                    "{code} is your {licence} login code, valid {validity}. Not you? Someone knows your password: report it at {report}",
                    code = m.code.as_str(),
                    licence = m.licence,
                ),
            }),
        }
    }

    /// The access confirmation e-mail of a new user.
    pub fn access_confirmation(
        &self,
        licence: &str,
        login: &str,
        to: &str,
        token: &SecretToken,
    ) -> Message {
        Message::Email(Email {
            to: to.to_owned(),
            subject: format!("Your access to {licence}"),
            text: format!(
                "An account with the login {login} was created for you on the licence {licence}.\n\n\
                 Choose your password here (the link works once, for 7 days):\n\
                 {url}/access/confirm?token={token}\n\n\
                 If you did not expect this e-mail, you can ignore it.\n",
                url = self.public_url,
                token = token.encode(),
            ),
        })
    }

    /// The password reminder e-mail.
    pub fn password_reset(
        &self,
        licence: &str,
        login: &str,
        to: &str,
        token: &SecretToken,
    ) -> Message {
        Message::Email(Email {
            to: to.to_owned(),
            subject: format!("Reset your password for {licence}"),
            text: format!(
                "Someone asked to reset the password of {login} on the licence {licence}.\n\n\
                 Choose a new password here (the link works once, for 1 hour):\n\
                 {url}/password/reset?token={token}\n\n\
                 If it was not you, ignore this e-mail: your password stays as it is.\n",
                url = self.public_url,
                token = token.encode(),
            ),
        })
    }

    /// The notice sent after a password was changed with a reset link.
    pub fn password_changed(&self, licence: &str, login: &str, to: &str) -> Message {
        Message::Email(Email {
            to: to.to_owned(),
            subject: format!("Your password for {licence} was changed"),
            text: format!(
                "The password of {login} on the licence {licence} was just changed with a password reset link, \
                 and every open session was ended.\n\n\
                 If it was not you, someone can read this mailbox or had the link: ask for a password \
                 reminder at once and contact your licence administrator.\n"
            ),
        })
    }

    /// The notice sent to an old address or number when it is replaced.
    pub fn contact_changed(
        &self,
        licence: &str,
        login: &str,
        channel: Channel,
        to: &str,
    ) -> Message {
        let what = match channel {
            Channel::Email => "e-mail address",
            Channel::Sms => "mobile number",
        };
        let text = format!(
            "The {what} of {login} on the licence {licence} was changed: messages no longer come here. \
             If you did not ask for this, contact your licence administrator at once."
        );
        match channel {
            Channel::Email => Message::Email(Email {
                to: to.to_owned(),
                subject: format!("Your {what} for {licence} was changed"),
                text,
            }),
            Channel::Sms => Message::Sms(Sms {
                to: to.to_owned(),
                body: text,
            }),
        }
    }
}
