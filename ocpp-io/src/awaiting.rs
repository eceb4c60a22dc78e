//! Commands awaited for their typed outcome: `handle.call(request).await` gives the
//! response, `handle.authorize(id_tag).await` the verdict.
//!
//! A role machine answers a command at once with a key (a [`CallHandle`], an
//! [`AuthorizeHandle`]) and reports the outcome later, as an event carrying that key.
//! [`Awaiting`] is a machine wrapper that joins the two: a command run through
//! [`Handle::run_awaiting`] registers its key, and when the event that [`Completes`] it
//! passes through [`Awaiting`]'s `poll_output`, a copy goes to the waiting future. The event itself still goes on to the [`Events`](crate::Events) stream (or the
//! handler), so an application that also watches the stream loses nothing.
//!
//! The typed commands are built on that: on a Central System's handle, [`Handle::call`] for
//! every 1.6 request and those of the security white paper; on a Charge Point's,
//! [`Handle::authorize`] and [`Handle::data_transfer`]. Each gives an [`AwaitError`] when the
//! machine refused the command ([`AwaitError::Refused`]: offline, not accepted, a payload
//! breaking its schema), when the call got no usable answer ([`AwaitError::Failed`]: timeout,
//! CallError, the connection closed) or when the driver ended first ([`AwaitError::Gone`]).
//! It never waits forever: every call of the roles ends with an event (the RPC layer's call
//! timeout, or `Disconnected` when the connection closes), and whatever is still registered
//! once a disconnect has been reported, or when the driver drops the machine, ends as
//! [`AwaitError::Gone`]. A future dropped while it waits is fine: the call goes on, and its
//! outcome only reaches the event stream. Awaiting a command inside an
//! [`EventHandler`](crate::EventHandler)'s `on_event` is fine too: the outcome does not come
//! through the stream the handler is reading.
//!
//! An outcome that no command key names (the answer to a Charge Point's StartTransaction,
//! which comes as `TransactionStarted` of its transaction key) is waited for with
//! [`Awaiting::wait_for_event`] and a predicate; such a wait outlives a disconnect.
//!
//! It is generic over the wrapped machine: the commands need only [`CentralSystemCommands`]
//! or [`ChargePointCommands`] (implemented by the roles, and implementable by any wrapper of
//! them that passes their events through, such as a trace recorder), and [`Awaiting`] itself
//! only [`Completes`] on the events. Nothing here depends on a runtime.
//!
//! ```
//! use ocpp_core::central_system::{CentralSystem, CentralSystemError};
//! use ocpp_core::v16::{
//!     ConfigurationStatus, ChangeConfigurationRequest, GetConfigurationRequest,
//! };
//! use ocpp_io::{AwaitError, Awaiting, Connection};
//!
//! /// On each connection (the server's factory wraps each machine in `Awaiting::new`): read
//! /// the station's configuration, then change its heartbeat interval.
//! async fn configure(
//!     connection: Connection<Awaiting<CentralSystem>>,
//! ) -> Result<ConfigurationStatus, AwaitError<CentralSystemError>> {
//!     let handle = connection.handle;
//!     let all = handle.call(GetConfigurationRequest { key: None }).await?;
//!     println!("{} keys", all.configuration_key.unwrap_or_default().len());
//!     let change = ChangeConfigurationRequest {
//!         key: "HeartbeatInterval".into(),
//!         value: "300".into(),
//!     };
//!     Ok(handle.call(change).await?.status)
//! }
//! # fn is_send<F: Send>(_: F) {}
//! # fn check(connection: Connection<Awaiting<CentralSystem>>) { is_send(configure(connection)) }
//! ```

use std::collections::BTreeMap;
use std::fmt;

use futures_channel::oneshot;
use ocpp_core::central_system::{self, CentralSystem, CentralSystemError, TypedResponse};
use ocpp_core::charge_point::authorization::Source;
use ocpp_core::charge_point::{self, AuthorizeHandle, ChargePoint, ChargePointError};
use ocpp_core::machine::{Completes, Machine, Output};
use ocpp_core::message::OcppRequest;
use ocpp_core::rpc::{CallFailure, CallHandle};
use ocpp_core::time::{Monotonic, Now};
use ocpp_core::trace::Recorder;
use ocpp_core::v16::{self, DataTransferRequest, DataTransferResponse, IdTagInfo};

use crate::driver::{Gone, Handle};

/// The key of a command of the machine `M`.
type Key<M> = <<M as Machine>::Event as Completes>::Key;

/// A wait registered by [`Awaiting::wait_for_event`]: which event, and where it goes.
type EventWait<E> = (Box<dyn FnMut(&E) -> bool + Send>, oneshot::Sender<E>);

/// A machine wrapper that hands the outcome of a command to the future waiting for it; see
/// the [module docs](self).
///
/// It is a [`Machine`] like the one it wraps, with the same events; reading and commanding
/// the wrapped machine go through [`Deref`](std::ops::Deref) and
/// [`DerefMut`](std::ops::DerefMut), so `handle.run(|cs, now| cs.reply(..))` works unchanged.
pub struct Awaiting<M: Machine<Event: Completes>> {
    machine: M,
    waiters: BTreeMap<Key<M>, oneshot::Sender<M::Event>>,
    /// Waits for an event that no command key names, in the order they were registered.
    event_waits: Vec<EventWait<M::Event>>,
    /// A disconnect was reported and its outputs are being drained.
    disconnected: bool,
}

impl<M: Machine<Event: Completes>> Awaiting<M> {
    /// Wraps `machine`; nobody waits yet.
    pub fn new(machine: M) -> Awaiting<M> {
        Awaiting {
            machine,
            waiters: BTreeMap::new(),
            event_waits: Vec::new(),
            disconnected: false,
        }
    }

    /// The wrapped machine, given back; whoever still waits gets [`AwaitError::Gone`].
    pub fn into_inner(self) -> M {
        self.machine
    }

    /// How many commands are waited for.
    pub fn waiting(&self) -> usize {
        self.waiters.len()
    }

    /// Registers a wait for the event that completes `key`: the receiver gets a copy of it.
    ///
    /// Call it in the same command as the one that returned `key` (as
    /// [`Handle::run_awaiting`] does), so that an outcome among that command's own outputs
    /// (a verdict of the Local Authorization List) is not missed.
    pub fn wait_for(&mut self, key: Key<M>) -> oneshot::Receiver<M::Event> {
        // Forget the waits whose futures were dropped.
        self.waiters.retain(|_, waiter| !waiter.is_canceled());
        let (tx, rx) = oneshot::channel();
        self.waiters.insert(key, tx);
        rx
    }

    /// Registers a wait for the next event that `accepts` takes: the receiver gets a copy of
    /// it. For outcomes that [`Completes`] gives no key, such as the answer to a Charge
    /// Point's StartTransaction (`Event::TransactionStarted` of the transaction key that
    /// `start_transaction` returned).
    ///
    /// Unlike a command's wait, this one survives a disconnect: what it waits for may come
    /// on a later connection (the role resends a transaction message after a reconnect), so
    /// the waiter bounds its own wait. It ends when the event comes, when the driver drops
    /// the machine ([`AwaitError::Gone`] for whoever awaits it), or, once its receiver is
    /// dropped, at the next registration. As with [`Awaiting::wait_for`], register it in the
    /// same command as the one whose outcome it is.
    pub fn wait_for_event(
        &mut self,
        accepts: impl FnMut(&M::Event) -> bool + Send + 'static,
    ) -> oneshot::Receiver<M::Event> {
        self.event_waits.retain(|(_, waiter)| !waiter.is_canceled());
        let (tx, rx) = oneshot::channel();
        self.event_waits.push((Box::new(accepts), tx));
        rx
    }
}

impl<M: Machine<Event: Completes>> std::ops::Deref for Awaiting<M> {
    type Target = M;

    fn deref(&self) -> &M {
        &self.machine
    }
}

impl<M: Machine<Event: Completes>> std::ops::DerefMut for Awaiting<M> {
    fn deref_mut(&mut self) -> &mut M {
        &mut self.machine
    }
}

impl<M: Machine<Event: Completes> + fmt::Debug> fmt::Debug for Awaiting<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Awaiting")
            .field("machine", &self.machine)
            .field("waiting", &self.waiters.len())
            .finish()
    }
}

impl<M> Machine for Awaiting<M>
where
    M: Machine<Event: Completes + Clone>,
{
    type Event = M::Event;

    fn handle_connected(&mut self, now: Now) {
        self.machine.handle_connected(now);
    }

    fn handle_disconnected(&mut self, now: Now) {
        self.machine.handle_disconnected(now);
        self.disconnected = true;
    }

    fn handle_message(&mut self, now: Now, text: &str) {
        self.machine.handle_message(now, text);
    }

    fn handle_timeout(&mut self, now: Now) {
        self.machine.handle_timeout(now);
    }

    fn poll_output(&mut self) -> Option<Output<M::Event>> {
        match self.machine.poll_output() {
            Some(Output::Event(event)) => {
                if let Some(key) = event.completes()
                    && let Some(waiter) = self.waiters.remove(&key)
                {
                    // A waiter that stopped waiting is no error: the event goes on anyway.
                    let _ = waiter.send(event.clone());
                    if self.waiters.is_empty() {
                        // An emptied map keeps its node: given back, so that an idle
                        // connection does not keep it after a call.
                        self.waiters = BTreeMap::new();
                    }
                }
                if !self.event_waits.is_empty() {
                    for (_, waiter) in self
                        .event_waits
                        .extract_if(.., |(accepts, _)| accepts(&event))
                    {
                        let _ = waiter.send(event.clone());
                    }
                }
                Some(Output::Event(event))
            }
            Some(output) => Some(output),
            None => {
                // The roles end every call at a disconnect; a wait left over would never end.
                if std::mem::take(&mut self.disconnected) {
                    self.waiters.clear();
                }
                None
            }
        }
    }

    fn poll_timeout(&self) -> Option<Monotonic> {
        self.machine.poll_timeout()
    }
}

/// Why an awaited command has no outcome of the type asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum AwaitError<E> {
    /// The machine refused the command: nothing was sent.
    Refused(E),
    /// The call was sent and got no usable answer: timeout, CallError, the connection closed
    /// ([`CallFailure::Disconnected`]), an answer breaking its schema.
    Failed(CallFailure),
    /// The driver ended (or the connection closed) before the outcome came.
    Gone,
    /// The event that ended the command is not of the kind the command expects: the wrapped
    /// machine's [`Completes`] and its commands disagree (the roles of `ocpp-core` never do).
    Mismatch(String),
}

impl<E: fmt::Display> fmt::Display for AwaitError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AwaitError::Refused(error) => write!(f, "the command was refused: {error}"),
            AwaitError::Failed(failure) => write!(f, "the call failed: {failure:?}"),
            AwaitError::Gone => f.write_str("the connection's driver ended before the outcome"),
            AwaitError::Mismatch(what) => write!(f, "unexpected outcome: {what}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for AwaitError<E> {}

impl<E> From<Gone> for AwaitError<E> {
    fn from(Gone: Gone) -> AwaitError<E> {
        AwaitError::Gone
    }
}

impl<M> Handle<Awaiting<M>>
where
    M: Machine<Event: Completes<Key: Send> + Clone + Send + 'static> + Send + 'static,
{
    /// Runs `command` on the wrapped machine and waits for the event that completes the key
    /// it returns; the building block of the typed commands, for any machine and command.
    ///
    /// `Err(e)` from `command` comes back as [`AwaitError::Refused`].
    pub async fn run_awaiting<E, F>(&self, command: F) -> Result<M::Event, AwaitError<E>>
    where
        F: FnOnce(&mut M, Now) -> Result<Key<M>, E> + Send + 'static,
        E: Send + 'static,
    {
        let waiting = self
            .run(move |awaiting: &mut Awaiting<M>, now| {
                let key = command(&mut awaiting.machine, now)?;
                Ok(awaiting.wait_for(key))
            })
            .await?;
        let outcome = waiting.map_err(AwaitError::Refused)?;
        outcome.await.map_err(|_| AwaitError::Gone)
    }
}

/// The Central System's typed call, for [`Handle::call`]: implemented by [`CentralSystem`],
/// and to be implemented by any wrapper of it that passes its events through.
pub trait CentralSystemCommands: Machine<Event = central_system::Event> {
    /// Sends `request` (see [`CentralSystem::call`]).
    fn call<R: OcppRequest<Action = v16::Action>>(
        &mut self,
        now: Now,
        request: &R,
    ) -> Result<CallHandle, CentralSystemError>;
}

impl CentralSystemCommands for CentralSystem {
    fn call<R: OcppRequest<Action = v16::Action>>(
        &mut self,
        now: Now,
        request: &R,
    ) -> Result<CallHandle, CentralSystemError> {
        CentralSystem::call(self, now, request)
    }
}

/// A recorded Central System's calls go through the recorder, so the trace holds them.
impl CentralSystemCommands for Recorder<CentralSystem> {
    fn call<R: OcppRequest<Action = v16::Action>>(
        &mut self,
        now: Now,
        request: &R,
    ) -> Result<CallHandle, CentralSystemError> {
        Recorder::<CentralSystem>::call(self, now, request)
    }
}

impl<M> Handle<Awaiting<M>>
where
    M: CentralSystemCommands + Send + 'static,
{
    /// Sends `request` to the Charge Point and waits for its typed answer, e.g.
    /// `handle.call(ResetRequest { kind: ResetType::Soft }).await?.status`.
    ///
    /// Works for every Central System request of 1.6 and of the security white paper. The
    /// answer (or failure) is also reported on the event stream as
    /// [`Event::CallCompleted`](central_system::Event::CallCompleted).
    pub async fn call<R>(&self, request: R) -> Result<R::Response, AwaitError<CentralSystemError>>
    where
        R: OcppRequest<Action = v16::Action> + Send + 'static,
        R::Response: TypedResponse,
    {
        let event = self
            .run_awaiting(move |machine: &mut M, now| machine.call(now, &request))
            .await?;
        let central_system::Event::CallCompleted(completed) = event else {
            return Err(AwaitError::Mismatch(format!("{event:?}")));
        };
        completed.response().map_err(|error| match error {
            central_system::OutcomeError::Failed(failure) => AwaitError::Failed(failure),
            wrong => AwaitError::Mismatch(wrong.to_string()),
        })
    }
}

/// The verdict on an id tag, as [`Handle::authorize`] gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    /// The verdict: only `status: Accepted` authorizes.
    pub id_tag_info: IdTagInfo,
    /// Where a local verdict comes from (Local Authorization List, Authorization Cache,
    /// unknown offline); `None` when the Central System decided.
    pub source: Option<Source>,
}

/// The Charge Point's commands answered later, for [`Handle::authorize`] and
/// [`Handle::data_transfer`]: implemented by [`ChargePoint`], and to be implemented by any
/// wrapper of it that passes its events through.
pub trait ChargePointCommands: Machine<Event = charge_point::Event> {
    /// Asks for a verdict on `id_tag` (see [`ChargePoint::authorize`]).
    fn authorize(&mut self, now: Now, id_tag: String) -> Result<AuthorizeHandle, ChargePointError>;

    /// Sends vendor-specific data (see [`ChargePoint::data_transfer`]).
    fn data_transfer(
        &mut self,
        now: Now,
        request: DataTransferRequest,
    ) -> Result<CallHandle, ChargePointError>;
}

/// A recorded Charge Point's commands go through the recorder, so the trace holds them.
impl ChargePointCommands for Recorder<ChargePoint> {
    fn authorize(&mut self, now: Now, id_tag: String) -> Result<AuthorizeHandle, ChargePointError> {
        Recorder::<ChargePoint>::authorize(self, now, id_tag)
    }

    fn data_transfer(
        &mut self,
        now: Now,
        request: DataTransferRequest,
    ) -> Result<CallHandle, ChargePointError> {
        Recorder::<ChargePoint>::data_transfer(self, now, request)
    }
}

impl ChargePointCommands for ChargePoint {
    fn authorize(&mut self, now: Now, id_tag: String) -> Result<AuthorizeHandle, ChargePointError> {
        ChargePoint::authorize(self, now, id_tag)
    }

    fn data_transfer(
        &mut self,
        now: Now,
        request: DataTransferRequest,
    ) -> Result<CallHandle, ChargePointError> {
        ChargePoint::data_transfer(self, now, request)
    }
}

impl<M> Handle<Awaiting<M>>
where
    M: ChargePointCommands + Send + 'static,
{
    /// Decides whether `id_tag` may charge (sections 3.5 and 4.1) and waits for the verdict:
    /// at once when the Local Authorization List or the Authorization Cache decides,
    /// otherwise when the Central System answers the Authorize. Also reported on the event
    /// stream as [`Event::Authorized`](charge_point::Event::Authorized).
    ///
    /// ```
    /// use ocpp_core::charge_point::ChargePoint;
    /// use ocpp_core::v16::AuthorizationStatus;
    /// use ocpp_io::{Awaiting, Handle};
    ///
    /// /// Whether the card presented may start charging (the client was started with
    /// /// `Awaiting::new(charge_point)` as its machine).
    /// async fn may_charge(station: &Handle<Awaiting<ChargePoint>>, card: &str) -> bool {
    ///     match station.authorize(card).await {
    ///         Ok(verdict) => verdict.id_tag_info.status == AuthorizationStatus::Accepted,
    ///         // Refused (offline and nothing local decides), timed out, disconnected.
    ///         Err(_) => false,
    ///     }
    /// }
    /// ```
    pub async fn authorize(
        &self,
        id_tag: impl Into<String>,
    ) -> Result<Authorization, AwaitError<ChargePointError>> {
        let id_tag = id_tag.into();
        let event = self
            .run_awaiting(move |machine: &mut M, now| {
                machine
                    .authorize(now, id_tag)
                    .map(charge_point::Completion::Authorize)
            })
            .await?;
        match event {
            charge_point::Event::Authorized { result, source, .. } => result
                .map(|id_tag_info| Authorization {
                    id_tag_info,
                    source,
                })
                .map_err(AwaitError::Failed),
            other => Err(AwaitError::Mismatch(format!("{other:?}"))),
        }
    }

    /// Sends vendor-specific data to the Central System (section 4.3) and waits for its
    /// answer. Also reported on the event stream as
    /// [`Event::DataTransferAnswered`](charge_point::Event::DataTransferAnswered).
    pub async fn data_transfer(
        &self,
        request: DataTransferRequest,
    ) -> Result<DataTransferResponse, AwaitError<ChargePointError>> {
        let event = self
            .run_awaiting(move |machine: &mut M, now| {
                machine
                    .data_transfer(now, request)
                    .map(charge_point::Completion::DataTransfer)
            })
            .await?;
        match event {
            charge_point::Event::DataTransferAnswered { result, .. } => {
                result.map_err(AwaitError::Failed)
            }
            other => Err(AwaitError::Mismatch(format!("{other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use ocpp_core::rpc::{CounterIds, Endpoint, EndpointConfig, RpcEvent};
    use serde_json::json;
    use time::OffsetDateTime;

    use super::*;

    fn now() -> Now {
        Now::new(Monotonic::ZERO, OffsetDateTime::UNIX_EPOCH)
    }

    /// A connected endpoint, wrapped; counter ids, so the first call's id is "1".
    fn connected() -> Awaiting<Endpoint> {
        let endpoint = Endpoint::new(EndpointConfig::v16(), Box::new(CounterIds::default()));
        let mut awaiting = Awaiting::new(endpoint);
        awaiting.handle_connected(now());
        drain(&mut awaiting);
        awaiting
    }

    fn drain(awaiting: &mut Awaiting<Endpoint>) -> Vec<Output<RpcEvent>> {
        std::iter::from_fn(|| awaiting.poll_output()).collect()
    }

    fn heartbeat(awaiting: &mut Awaiting<Endpoint>) -> CallHandle {
        let handle = awaiting
            .call(now(), ocpp_core::v16::Action::Heartbeat, json!({}))
            .unwrap();
        drain(awaiting);
        handle
    }

    #[test]
    fn the_completing_event_reaches_the_waiter_and_the_stream() {
        let mut awaiting = connected();
        let handle = heartbeat(&mut awaiting);
        let mut waiter = awaiting.wait_for(handle);
        awaiting.handle_message(now(), r#"[3,"1",{"currentTime":"2025-01-01T00:00:00Z"}]"#);
        let outputs = drain(&mut awaiting);
        let [Output::Event(streamed)] = outputs.as_slice() else {
            panic!("one event expected, got {outputs:?}");
        };
        assert_eq!(streamed.completes(), Some(handle));
        assert_eq!(waiter.try_recv().unwrap().as_ref(), Some(streamed));
        assert_eq!(awaiting.waiting(), 0);
    }

    #[test]
    fn a_disconnect_fails_the_call_and_ends_every_wait_left() {
        let mut awaiting = connected();
        let answered = heartbeat(&mut awaiting);
        awaiting.handle_message(now(), r#"[3,"1",{"currentTime":"2025-01-01T00:00:00Z"}]"#);
        drain(&mut awaiting);
        let in_flight = heartbeat(&mut awaiting);
        let mut call = awaiting.wait_for(in_flight);
        // A key whose outcome has passed already: nothing will ever complete it.
        let mut stale = awaiting.wait_for(answered);
        awaiting.handle_disconnected(now());
        drain(&mut awaiting);
        let Ok(Some(RpcEvent::Completed { outcome, .. })) = call.try_recv() else {
            panic!("the call in flight was not completed");
        };
        assert_eq!(outcome, Err(CallFailure::Disconnected));
        assert!(stale.try_recv().is_err(), "the stale wait must end");
        assert_eq!(awaiting.waiting(), 0);
    }

    /// OCPP-J 1.6 section 4.1.1 and 4.2.3: a call unanswered in time, and one answered with
    /// a CALLERROR, end the wait with the failure.
    #[test]
    fn a_timeout_and_a_call_error_end_the_wait_with_the_failure() {
        let mut awaiting = connected();
        let rejected = heartbeat(&mut awaiting);
        let timed_out = heartbeat(&mut awaiting);
        let mut rejected_wait = awaiting.wait_for(rejected);
        let mut timed_out_wait = awaiting.wait_for(timed_out);
        awaiting.handle_message(now(), r#"[4,"1","NotImplemented","no",{}]"#);
        drain(&mut awaiting);
        let Ok(Some(RpcEvent::Completed { outcome, .. })) = rejected_wait.try_recv() else {
            panic!("the rejected call was not completed");
        };
        assert!(matches!(outcome, Err(CallFailure::CallError(e)) if e.code == "NotImplemented"));
        let deadline = awaiting
            .poll_timeout()
            .expect("the second call is in flight");
        awaiting.handle_timeout(Now::new(deadline, OffsetDateTime::UNIX_EPOCH));
        drain(&mut awaiting);
        let Ok(Some(RpcEvent::Completed { outcome, .. })) = timed_out_wait.try_recv() else {
            panic!("the timed out call was not completed");
        };
        assert_eq!(outcome, Err(CallFailure::Timeout));
    }

    #[test]
    fn waits_given_up_are_forgotten() {
        let mut awaiting = connected();
        let handle = heartbeat(&mut awaiting);
        drop(awaiting.wait_for(handle));
        let second = heartbeat(&mut awaiting);
        let _waiter = awaiting.wait_for(second);
        assert_eq!(awaiting.waiting(), 1);
        // Its outcome still goes to the stream.
        awaiting.handle_message(now(), r#"[3,"1",{"currentTime":"2025-01-01T00:00:00Z"}]"#);
        let completed = drain(&mut awaiting)
            .into_iter()
            .find_map(|output| match output {
                Output::Event(event) => event.completes(),
                _ => None,
            });
        assert_eq!(completed, Some(handle));
        assert_eq!(awaiting.waiting(), 1);
    }
    /// A wait for an event is not a command's wait: a disconnect does not end it, and it
    /// gets the first event it accepts, here an answer on the next connection.
    #[test]
    fn a_wait_for_an_event_outlives_a_disconnect_and_takes_the_first_it_accepts() {
        let mut awaiting = connected();
        let answered =
            |event: &RpcEvent| matches!(event, RpcEvent::Completed { outcome: Ok(_), .. });
        let mut answer = awaiting.wait_for_event(answered);
        let lost = heartbeat(&mut awaiting);
        awaiting.handle_disconnected(now());
        let failed = drain(&mut awaiting);
        assert!(
            failed.iter().any(|output| matches!(
                output,
                Output::Event(event) if event.completes() == Some(lost)
            )),
            "the call in flight fails at the disconnect: {failed:?}"
        );
        assert!(matches!(answer.try_recv(), Ok(None)), "not an answer");
        awaiting.handle_connected(now());
        drain(&mut awaiting);
        let next = heartbeat(&mut awaiting);
        awaiting.handle_message(now(), r#"[3,"2",{"currentTime":"2025-01-01T00:00:00Z"}]"#);
        drain(&mut awaiting);
        let Ok(Some(event)) = answer.try_recv() else {
            panic!("the answer on the next connection was not handed over");
        };
        assert_eq!(event.completes(), Some(next));
    }
}
