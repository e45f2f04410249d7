//! Secrets: never in code, never in logs (invariant 7 in docs/architecture.md).

use std::fmt;

/// A secret value. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for signing and comparing only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented value.
    pub fn matches(&self, presented: &str) -> bool {
        ct_eq(self.0.as_bytes(), presented.as_bytes())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a secret in the configuration file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `ssm:/path/to/parameter` — read from SSM Parameter Store (SecureString decrypted).
    Ssm(String),
    /// `env:NAME` — read from the environment variable NAME.
    Env(String),
    /// Any other string: the value itself (fine for local configuration, not for production).
    Literal(Secret),
}

impl SecretRef {
    pub fn parse(text: &str) -> Self {
        if let Some(name) = text.strip_prefix("ssm:") {
            SecretRef::Ssm(name.to_owned())
        } else if let Some(name) = text.strip_prefix("env:") {
            SecretRef::Env(name.to_owned())
        } else {
            SecretRef::Literal(Secret::new(text))
        }
    }
}

/// Compares in time independent of where the values differ. Hashing first makes the
/// comparison length-independent too, so a token's length does not leak either.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    Sha256::digest(a).ct_eq(&Sha256::digest(b)).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_their_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert!(s.matches("hunter2"));
        assert!(!s.matches("hunter"));
        assert!(!s.matches(""));
    }

    #[test]
    fn secret_references_name_their_store() {
        assert_eq!(SecretRef::parse("ssm:/a/b"), SecretRef::Ssm("/a/b".into()));
        assert_eq!(SecretRef::parse("env:X"), SecretRef::Env("X".into()));
        assert_eq!(
            SecretRef::parse("plain"),
            SecretRef::Literal(Secret::new("plain"))
        );
    }
}
