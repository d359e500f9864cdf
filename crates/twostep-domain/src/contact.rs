//! Where codes and messages go: e-mail addresses, mobile numbers, the
//! licence-wide channel, and the masked form shown to clients and auditors.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The channel every one-time code of a licence is sent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A text message to the user's mobile number.
    Sms,
    /// An e-mail to the user's address.
    Email,
}

impl Channel {
    /// The wire name (`sms` or `email`).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }
}

/// Why an e-mail address or a mobile number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    /// Not a deliverable-looking address (`local@domain.tld`).
    #[error("is not a valid e-mail address")]
    InvalidEmail,
    /// Not an E.164 number starting with `+`.
    #[error("must be an E.164 number starting with + and the country code")]
    NotE164,
    /// A well-formed number the numbering plan does not know.
    #[error("is not a valid phone number")]
    InvalidNumber,
    /// A valid number that is not a mobile number (fixed line, toll free…).
    #[error("is not a mobile number")]
    NotMobile,
}

/// A validated e-mail address, kept as given (trimmed).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Validates an address: one `@`, a dotted domain, at most 254 bytes.
    pub fn parse(raw: &str) -> Result<Self, ContactError> {
        let trimmed = raw.trim();
        let options = email_address::Options::default()
            .with_minimum_sub_domains(2)
            .without_domain_literal();
        let options = email_address::Options {
            allow_display_text: false,
            ..options
        };
        if trimmed.len() > 254 || trimmed.chars().any(char::is_whitespace) {
            return Err(ContactError::InvalidEmail);
        }
        email_address::EmailAddress::parse_with_options(trimmed, options)
            .map(|_| Self(trimmed.to_owned()))
            .map_err(|_| ContactError::InvalidEmail)
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `a***@example.com`: first character of the local part, then the domain.
    pub fn masked(&self) -> String {
        match self.0.rsplit_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".to_owned(),
        }
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.masked())
    }
}

/// A validated mobile number in E.164 form (`+32470123456`).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct MobileNumber(String);

impl MobileNumber {
    /// Validates a number with the libphonenumber metadata: it must be E.164,
    /// valid, and of mobile type (or "fixed line or mobile" where the plan
    /// cannot tell them apart, as in North America).
    pub fn parse(raw: &str) -> Result<Self, ContactError> {
        let trimmed = raw.trim();
        if !trimmed.starts_with('+') || trimmed.len() > 32 {
            return Err(ContactError::NotE164);
        }
        let compact: String = trimmed
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        if !compact[1..].chars().all(|c| c.is_ascii_digit()) || compact.len() < 8 {
            return Err(ContactError::NotE164);
        }
        let number = phonenumber::parse(None, &compact).map_err(|_| ContactError::InvalidNumber)?;
        if !number.is_valid() {
            return Err(ContactError::InvalidNumber);
        }
        match number.number_type(&phonenumber::metadata::DATABASE) {
            phonenumber::Type::Mobile | phonenumber::Type::FixedLineOrMobile => {}
            _ => return Err(ContactError::NotMobile),
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// The number in E.164 form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `+3247*****56`: the country code and first digits, then the last two.
    pub fn masked(&self) -> String {
        let digits: Vec<char> = self.0.chars().collect();
        let keep_head = 5.min(digits.len());
        let keep_tail = 2.min(digits.len().saturating_sub(keep_head));
        let hidden = digits.len() - keep_head - keep_tail;
        let head: String = digits[..keep_head].iter().collect();
        let tail: String = digits[digits.len() - keep_tail..].iter().collect();
        format!("{head}{}{tail}", "*".repeat(hidden))
    }
}

impl fmt::Debug for MobileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MobileNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_mobile_numbers_in_e164() {
        assert_eq!(
            MobileNumber::parse("+32470123456").map(|m| m.as_str().to_owned()),
            Ok("+32470123456".into())
        );
        assert_eq!(
            MobileNumber::parse(" +32 470 12 34 56 ").map(|m| m.as_str().to_owned()),
            Ok("+32470123456".into())
        );
        assert!(MobileNumber::parse("+447911123456").is_ok());
        assert!(
            MobileNumber::parse("+12015550123").is_ok(),
            "North American numbers are fixed-line-or-mobile"
        );
    }

    #[test]
    fn refuses_fixed_lines_and_garbage() {
        assert_eq!(
            MobileNumber::parse("+3222345678"),
            Err(ContactError::NotMobile),
            "Brussels fixed line"
        );
        assert_eq!(
            MobileNumber::parse("0470123456"),
            Err(ContactError::NotE164)
        );
        assert_eq!(MobileNumber::parse("+32abc"), Err(ContactError::NotE164));
        assert_eq!(
            MobileNumber::parse("+999123456789"),
            Err(ContactError::InvalidNumber)
        );
    }

    #[test]
    fn masks_numbers_and_addresses() {
        let mobile = MobileNumber::parse("+32470123456").map(|m| m.masked());
        assert_eq!(mobile.as_deref(), Ok("+3247*****56"));
        let email = EmailAddress::parse("alice@example.com").map(|e| e.masked());
        assert_eq!(email.as_deref(), Ok("a***@example.com"));
    }

    #[test]
    fn validates_email_addresses() {
        assert!(EmailAddress::parse("alice@example.com").is_ok());
        assert_eq!(
            EmailAddress::parse("alice"),
            Err(ContactError::InvalidEmail)
        );
        assert_eq!(
            EmailAddress::parse("alice@localhost"),
            Err(ContactError::InvalidEmail)
        );
        assert_eq!(
            EmailAddress::parse("Alice <alice@example.com>"),
            Err(ContactError::InvalidEmail)
        );
        assert_eq!(
            EmailAddress::parse("a b@example.com"),
            Err(ContactError::InvalidEmail)
        );
    }
}
