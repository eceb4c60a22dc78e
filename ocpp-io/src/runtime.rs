//! What an async runtime supplies to the driver: clocks, timers and spawning.
//!
//! The driver, the client's reconnect loop and the server's accept loop are written once, on
//! `futures` traits. Everything they need from a particular runtime goes through [`Runtime`],
//! which `ocpp-io-tokio` and `ocpp-io-smol` implement (sockets come in separately, as
//! `futures-io` streams).

use std::time::Duration;

use futures_util::future::BoxFuture;
use ocpp_core::time::{Monotonic, Now};

/// Clocks, timers and spawning of one async runtime.
///
/// # Obligations
///
/// - [`Runtime::now`] reads a monotonic clock (never going backwards, unaffected by changes of
///   the system time) relative to an origin fixed when the value was created, and the wall
///   clock in UTC. Clones share the origin.
/// - [`Runtime::sleep_until`] completes once [`Runtime::now`] has reached `deadline` (at once
///   if it already has), measured on the same monotonic clock.
/// - [`Runtime::spawn`] runs the task to completion in the background, independently of the
///   caller (dropping nothing it returns cancels it).
pub trait Runtime: Clone + Send + Sync + 'static {
    /// The current time on both clocks.
    fn now(&self) -> Now;
    /// A future that completes at `deadline` on the monotonic clock of [`Runtime::now`].
    fn sleep_until(&self, deadline: Monotonic) -> BoxFuture<'static, ()>;
    /// Runs `task` in the background.
    fn spawn(&self, task: BoxFuture<'static, ()>);

    /// A future that completes `duration` from now.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.sleep_until(self.now().monotonic + duration)
    }
}
