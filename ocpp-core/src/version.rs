//! The OCPP versions this stack speaks, and their WebSocket subprotocol names.

use std::fmt;
use std::str::FromStr;

/// An OCPP protocol version carried over OCPP-J (JSON over WebSocket).
///
/// The version decides the message set, the schemas a payload is validated against and the
/// spelling of CallError codes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// OCPP 1.6 edition 2 with the OCPP-J 1.6 transport, the security white paper messages and
    /// the ISO 15118 Plug & Charge DataTransfer extension.
    V16,
    /// OCPP 2.0.1 edition 3.
    V201,
}

impl Version {
    /// Every supported version, oldest first.
    pub const ALL: [Version; 2] = [Version::V16, Version::V201];

    /// The WebSocket subprotocol name negotiated in the handshake (`Sec-WebSocket-Protocol`).
    pub const fn subprotocol(self) -> &'static str {
        match self {
            Version::V16 => "ocpp1.6",
            Version::V201 => "ocpp2.0.1",
        }
    }

    /// The version for a WebSocket subprotocol name, if it is one this stack speaks.
    pub fn from_subprotocol(name: &str) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.subprotocol() == name)
    }

    /// The short human-readable form used on the command line: `1.6` or `2.0.1`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::V16 => "1.6",
            Version::V201 => "2.0.1",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`Version`] from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown OCPP version {0:?}: expected 1.6 or 2.0.1")]
pub struct UnknownVersion(pub String);

impl FromStr for Version {
    type Err = UnknownVersion;

    /// Accepts `1.6`, `16`, `2.0.1`, `201` and the subprotocol names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "1.6" | "16" | "ocpp1.6" => Ok(Version::V16),
            "2.0.1" | "201" | "ocpp2.0.1" => Ok(Version::V201),
            other => Err(UnknownVersion(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subprotocol_names_round_trip() {
        for v in Version::ALL {
            assert_eq!(Version::from_subprotocol(v.subprotocol()), Some(v));
            assert_eq!(v.as_str().parse::<Version>(), Ok(v));
        }
        assert_eq!(Version::from_subprotocol("ocpp2.0"), None);
        assert!("2.1".parse::<Version>().is_err());
    }
}
