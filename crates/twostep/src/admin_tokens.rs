//! The operator and auditor bearer tokens: the configured ones, checked, or
//! fresh random ones to announce once at start.

use anyhow::bail;
use rand::Rng;

/// Fewest characters a configured operator or auditor token may have.
pub const MIN_TOKEN_CHARS: usize = 32;

/// The two admin tokens the service runs with.
#[derive(Clone)]
pub struct AdminTokens {
    /// Bearer token of operators.
    pub operator: String,
    /// Bearer token of auditors.
    pub auditor: String,
    /// Lines to print once on stdout for the tokens that were generated.
    pub announced: Vec<String>,
}

impl std::fmt::Debug for AdminTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminTokens { .. }")
    }
}

/// Takes the configured tokens (refusing one shorter than
/// [`MIN_TOKEN_CHARS`], or the same token for both roles) and generates the
/// missing ones. Errors name the variable, never the value.
pub fn resolve(operator: Option<&str>, auditor: Option<&str>) -> anyhow::Result<AdminTokens> {
    let mut announced = Vec::new();
    let mut take = |configured: Option<&str>, variable: &str, role: &str, prefix: &str| {
        match configured {
            Some(token) if token.chars().count() < MIN_TOKEN_CHARS => bail!(
                "{variable} is too short: an {role} token needs at least {MIN_TOKEN_CHARS} characters \
                 (unset it to have one generated)"
            ),
            Some(token) => Ok(token.to_owned()),
            None => {
                let token = random_token(prefix);
                announced.push(format!("{role} token: {token}"));
                Ok(token)
            }
        }
    };
    let operator = take(operator, "TWOSTEP_OPERATOR_TOKEN", "operator", "op")?;
    let auditor = take(auditor, "TWOSTEP_AUDITOR_TOKEN", "auditor", "au")?;
    if operator == auditor {
        bail!(
            "TWOSTEP_OPERATOR_TOKEN and TWOSTEP_AUDITOR_TOKEN are the same: \
             an auditor would hold the operator's rights"
        );
    }
    Ok(AdminTokens {
        operator,
        auditor,
        announced,
    })
}

fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG_OPERATOR: &str = "an-operator-token-of-36-characters!!";
    const LONG_AUDITOR: &str = "an-auditor-token-of-35-characters!!";

    fn refusal(operator: Option<&str>, auditor: Option<&str>) -> String {
        resolve(operator, auditor)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default()
    }

    #[test]
    fn configured_tokens_are_taken_as_they_are() {
        let tokens = resolve(Some(LONG_OPERATOR), Some(LONG_AUDITOR));
        assert!(tokens.is_ok_and(|t| t.operator == LONG_OPERATOR
            && t.auditor == LONG_AUDITOR
            && t.announced.is_empty()));
    }

    #[test]
    fn a_short_token_is_refused_naming_the_variable_not_the_value() {
        let error = refusal(Some("hunter2-operator"), Some(LONG_AUDITOR));
        assert!(error.contains("TWOSTEP_OPERATOR_TOKEN"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");

        let error = refusal(Some(LONG_OPERATOR), Some("hunter2-auditor"));
        assert!(error.contains("TWOSTEP_AUDITOR_TOKEN"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn thirty_one_characters_are_too_few_thirty_two_enough() {
        let short = "x".repeat(MIN_TOKEN_CHARS - 1);
        assert!(resolve(Some(&short), None).is_err());
        let enough = "é".repeat(MIN_TOKEN_CHARS);
        assert!(
            resolve(Some(&enough), None).is_ok(),
            "characters, not bytes"
        );
    }

    #[test]
    fn one_token_for_both_roles_is_refused() {
        let error = refusal(Some(LONG_OPERATOR), Some(LONG_OPERATOR));
        assert!(error.contains("are the same"), "{error}");
        assert!(!error.contains(LONG_OPERATOR), "{error}");
    }

    #[test]
    fn missing_tokens_are_generated_distinct_and_announced() {
        let tokens = resolve(None, None);
        assert!(tokens.is_ok_and(|t| t.operator.starts_with("op_")
            && t.auditor.starts_with("au_")
            && t.operator.len() >= MIN_TOKEN_CHARS
            && t.announced
                == [
                    format!("operator token: {}", t.operator),
                    format!("auditor token: {}", t.auditor)
                ]));
    }
}
