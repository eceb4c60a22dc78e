//! Helpers shared by the conformance tests that drive machines over real connections.

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use ocpp_io_tokio::Event;

/// How long a test waits for one event.
pub(crate) const BOUND: Duration = Duration::from_secs(10);

/// The first machine event that `pick` accepts, within the bound.
pub(crate) async fn next<E, T>(
    events: &mut (impl Stream<Item = Event<E>> + Unpin),
    what: &str,
    mut pick: impl FnMut(&E) -> Option<T>,
) -> T {
    let wait = async {
        while let Some(event) = events.next().await {
            if let Event::Machine(event) = &event
                && let Some(found) = pick(event)
            {
                return found;
            }
        }
        panic!("the stream ended before {what}");
    };
    // A runtime-neutral timeout: a thread that sleeps, raced against the wait.
    let (tx, rx) = futures_channel::oneshot::channel::<()>();
    std::thread::spawn(move || {
        std::thread::sleep(BOUND);
        let _ = tx.send(());
    });
    futures_util::pin_mut!(wait);
    match futures_util::future::select(wait, rx).await {
        futures_util::future::Either::Left((found, _)) => found,
        futures_util::future::Either::Right(_) => panic!("timed out waiting for {what}"),
    }
}
