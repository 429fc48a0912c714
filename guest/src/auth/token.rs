//! Newtypes for credentials and tokens.
//!
//! Each wraps a `String` whose `Debug` prints `Name([redacted])` and which has
//! no `Display`, so a value cannot end up in a log line or an error message by
//! accident: the only way to the text is the explicit [`expose`] method,
//! called where the value goes on the wire.
//!
//! [`expose`]: Secret::expose

use std::fmt;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The value itself, for the one place that puts it on the wire.
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// True when the value is empty or only whitespace.
            pub fn is_blank(&self) -> bool {
                self.0.trim().is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// A client secret or password revealed by the host.
    Secret
);
secret_type!(
    /// An OAuth bearer token for EWS.
    AccessToken
);
secret_type!(
    /// An OAuth refresh token (delegated sign-in).
    RefreshToken
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("Qx8Q~client-secret-value");
        let access = AccessToken::new("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.payload.sig");
        let refresh = RefreshToken::new("0.AXEA-refresh");
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        assert_eq!(format!("{access:?}"), "AccessToken([redacted])");
        assert_eq!(format!("{refresh:?}"), "RefreshToken([redacted])");
        let nested = format!("{:?}", Some((secret.clone(), vec![access.clone()])));
        assert!(!nested.contains("client-secret-value"), "{nested}");
        assert!(!nested.contains("eyJ0eXAi"), "{nested}");
    }

    #[test]
    fn expose_returns_the_value() {
        assert_eq!(Secret::new("p@ss").expose(), "p@ss");
        assert!(Secret::new("  ").is_blank());
        assert!(!Secret::new("x").is_blank());
    }
}
