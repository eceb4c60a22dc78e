//! Where the driver makes a machine's [`StoreOp`]s durable.
//!
//! A machine emits [`Output::Persist`](ocpp_core::machine::Output::Persist) ops among the
//! outputs of one input. The driver collects **all** of them and hands them to
//! [`Persister::persist`] as one batch **before** it sends any frame of that input; the
//! persister must apply the batch atomically (one store transaction) and return only once it
//! is durable. If it fails, nothing of that input is sent: the connection is closed with code
//! 1011 and the failure is reported as [`Disconnect::PersistFailed`](crate::Disconnect).

use std::fmt;

use ocpp_core::persist::StoreOp;

/// Makes batches of store ops durable.
pub trait Persister: Send {
    /// Applies `ops` in order, all or nothing, and returns once they are durable.
    ///
    /// Called with every op of one machine input; never called with an empty batch.
    fn persist(&mut self, ops: &[StoreOp]) -> Result<(), PersistError>;
}

/// Persists nothing: for machines that emit no ops (the bare RPC endpoint) and for tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPersist;

impl Persister for NoPersist {
    fn persist(&mut self, _ops: &[StoreOp]) -> Result<(), PersistError> {
        Ok(())
    }
}

/// Any closure over a batch is a persister.
impl<F> Persister for F
where
    F: FnMut(&[StoreOp]) -> Result<(), PersistError> + Send,
{
    fn persist(&mut self, ops: &[StoreOp]) -> Result<(), PersistError> {
        self(ops)
    }
}

/// Why a batch could not be made durable.
#[derive(Debug)]
pub struct PersistError(Box<dyn std::error::Error + Send + Sync>);

impl PersistError {
    /// Wraps the store's error.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> PersistError {
        PersistError(error.into())
    }
}

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "persisting failed: {}", self.0)
    }
}

impl std::error::Error for PersistError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}
