//! A tokio server whose machines hold their own `Handle` (`bind_with_handles`). Every test is
//! bounded by `support::BOUND`.

mod support;

use ocpp_io_tokio::{NoPersist, Tokio};
use support::*;

/// Issue #7 (no task per connection): OCPP-J 1.6 section 4.1.1, every CALL gets its
/// CALLRESULT, sent by the server's machine from another thread through the handle its
/// factory gave it, with nobody listening to the connection's events.
#[tokio::test]
async fn a_machine_answers_calls_later_through_its_own_handle() {
    tokio::time::timeout(BOUND, async {
        let server = ocpp_io_tokio::bind_with_handles(
            "127.0.0.1:0",
            server_config(),
            SelfAnswering::new,
            |_| Box::new(NoPersist),
        )
        .await
        .unwrap();
        let client = ocpp_io_tokio::connect(client_config(server.local_addr(), "CP-1"), endpoint());
        machines_answer_through_their_own_handles(&Tokio::new(), server, client).await;
    })
    .await
    .expect("the test did not finish in time");
}
