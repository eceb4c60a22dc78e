//! A smol server whose machines hold their own `Handle` (`bind_with_handles`). Every test is
//! bounded by `support::BOUND`.

#[path = "../../ocpp-io-tokio/tests/support/mod.rs"]
mod support;

use futures_util::future::{Either, select};
use ocpp_io::NoPersist;
use ocpp_io_smol::Smol;
use support::*;

/// Issue #7 (no task per connection): OCPP-J 1.6 section 4.1.1, every CALL gets its
/// CALLRESULT, sent by the server's machine from another thread through the handle its
/// factory gave it, with nobody listening to the connection's events.
#[test]
fn a_machine_answers_calls_later_through_its_own_handle_on_smol() {
    smol::block_on(async {
        let test = async {
            let server = ocpp_io_smol::bind_with_handles(
                Smol::new(),
                "127.0.0.1:0",
                server_config(),
                SelfAnswering::new,
                |_| Box::new(NoPersist),
            )
            .await
            .unwrap();
            let client =
                ocpp_io_smol::connect(client_config(server.local_addr(), "CP-1"), endpoint());
            machines_answer_through_their_own_handles(&Smol::new(), server, client).await;
        };
        match select(std::pin::pin!(test), smol::Timer::after(BOUND)).await {
            Either::Left(((), _)) => {}
            Either::Right(_) => panic!("the test did not finish in time"),
        }
    });
}
