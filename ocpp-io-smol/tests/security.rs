//! OCPP security profiles 1 to 3 on the smol adapter (futures-rustls). The scenarios are the
//! tokio adapter's (`support::security`, shared via `#[path]`); every test is bounded by
//! `support::BOUND` and runs on 127.0.0.1.

#[path = "../../ocpp-io-tokio/tests/support/mod.rs"]
mod support;

use futures_util::future::{Either, select};
use support::BOUND;
use support::security::*;

fn bounded<F: std::future::Future>(test: F) -> F::Output {
    smol::block_on(async {
        match select(std::pin::pin!(test), smol::Timer::after(BOUND)).await {
            Either::Left((output, _)) => output,
            Either::Right(_) => panic!("the test did not finish in time"),
        }
    })
}

macro_rules! scenarios {
    ($($name:ident: $scenario:ident::<$($adapter:ty),+>;)*) => {
        $(
            #[test]
            fn $name() {
                bounded($scenario::<$($adapter),+>());
            }
        )*
    };
}

scenarios! {
    smol_profile_1_connects_with_the_right_password:
        profile_1_connects_with_the_right_password::<SmolAdapter, SmolAdapter>;
    smol_profile_2_connects_over_tls_with_the_right_password:
        profile_2_connects_over_tls_with_the_right_password::<SmolAdapter, SmolAdapter>;
    smol_profile_3_connects_with_a_client_certificate:
        profile_3_connects_with_a_client_certificate::<SmolAdapter, SmolAdapter>;
    smol_a_wrong_password_is_refused_with_401_and_backoff:
        a_wrong_password_is_refused_with_401_and_backoff::<SmolAdapter, SmolAdapter>;
    smol_missing_credentials_are_refused_with_401:
        missing_credentials_are_refused_with_401::<SmolAdapter, SmolAdapter>;
    smol_the_user_name_must_be_the_id_of_the_path:
        the_user_name_must_be_the_id_of_the_path::<SmolAdapter>;
    smol_an_untrusted_or_misnamed_server_certificate_is_refused:
        an_untrusted_or_misnamed_server_certificate_is_refused::<SmolAdapter, SmolAdapter>;
    smol_a_client_certificate_of_another_station_is_refused:
        a_client_certificate_of_another_station_is_refused::<SmolAdapter, SmolAdapter>;
    smol_a_client_certificate_from_an_unknown_ca_is_refused:
        a_client_certificate_from_an_unknown_ca_is_refused::<SmolAdapter, SmolAdapter>;
    smol_weak_tls_versions_and_suites_are_not_negotiated:
        weak_tls_versions_and_suites_are_not_negotiated::<SmolAdapter, SmolAdapter>;
    smol_a_url_that_contradicts_the_profile_is_a_configuration_error:
        a_url_that_contradicts_the_profile_is_a_configuration_error::<SmolAdapter, SmolAdapter>;
    smol_reconfigure_reconnects_with_the_new_settings:
        reconfigure_reconnects_with_the_new_settings::<SmolAdapter, SmolAdapter>;
    smol_reconfigure_cuts_a_backoff_short:
        reconfigure_cuts_a_backoff_short::<SmolAdapter, SmolAdapter>;
}
