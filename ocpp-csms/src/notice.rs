//! What the ledger did that an operator may want to read: registrations, verdicts,
//! transactions and the retransmissions it recognised. The ledger only reports them; the
//! application decides whether and where to write them ([`crate::LedgerConfig::notices`]).

use std::fmt;

use ocpp_core::v16::AuthorizationStatus;

/// One thing the ledger did, as it happened; borrowed from the request, so that building one
/// costs nothing when nobody listens. Its `Display` is one line without a timestamp.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Notice<'a> {
    /// A station booted and was accepted.
    Booted {
        /// Its charge point id.
        station: &'a str,
        /// The vendor it reported.
        vendor: &'a str,
        /// The model it reported.
        model: &'a str,
    },
    /// An Authorize was decided.
    Authorized {
        /// The charge point id.
        station: &'a str,
        /// The id tag.
        id_tag: &'a str,
        /// The verdict.
        status: AuthorizationStatus,
    },
    /// A new transaction started.
    Started {
        /// The charge point id.
        station: &'a str,
        /// The id it was given.
        transaction: i32,
        /// Its connector.
        connector: i32,
        /// The id tag that started it.
        id_tag: &'a str,
        /// The meter reading at the start, Wh.
        meter_start: i32,
        /// The verdict on its id tag.
        status: AuthorizationStatus,
    },
    /// A StartTransaction was recognised as a retransmission: it got its first id again.
    RepeatedStart {
        /// The charge point id.
        station: &'a str,
        /// The id given the first time.
        transaction: i32,
    },
    /// A transaction stopped.
    Stopped {
        /// The charge point id.
        station: &'a str,
        /// The transaction.
        transaction: i32,
        /// meterStop - meterStart, Wh.
        energy_wh: i64,
        /// The reason, as spelled on the wire.
        reason: &'a str,
    },
    /// A StopTransaction of a transaction stopped already: acknowledged, not applied again.
    RepeatedStop {
        /// The charge point id.
        station: &'a str,
        /// The transaction.
        transaction: i32,
    },
    /// A StopTransaction of a transaction this central system does not know (-1 from a
    /// station whose StartTransaction never got through): acknowledged (section 4.10), not
    /// recorded.
    UnknownStop {
        /// The charge point id.
        station: &'a str,
        /// The transaction id it sent.
        transaction: i32,
    },
}

impl fmt::Display for Notice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Notice::Booted {
                station,
                vendor,
                model,
            } => write!(f, "{station} booted: {vendor} {model}"),
            Notice::Authorized {
                station,
                id_tag,
                status,
            } => write!(f, "{station} Authorize {id_tag}: {status:?}"),
            Notice::Started {
                station,
                transaction,
                connector,
                id_tag,
                meter_start,
                status,
            } => write!(
                f,
                "{station} transaction {transaction} started on connector {connector} \
                 (idTag {id_tag}, meter {meter_start} Wh): {status:?}"
            ),
            Notice::RepeatedStart {
                station,
                transaction,
            } => write!(
                f,
                "{station} StartTransaction repeated: transaction {transaction} again"
            ),
            Notice::Stopped {
                station,
                transaction,
                energy_wh,
                reason,
            } => write!(
                f,
                "{station} transaction {transaction} stopped: {energy_wh} Wh, reason {reason}"
            ),
            Notice::RepeatedStop {
                station,
                transaction,
            } => write!(
                f,
                "{station} StopTransaction repeated: transaction {transaction} was stopped already"
            ),
            Notice::UnknownStop {
                station,
                transaction,
            } => write!(
                f,
                "{station} StopTransaction of unknown transaction {transaction} acknowledged"
            ),
        }
    }
}
