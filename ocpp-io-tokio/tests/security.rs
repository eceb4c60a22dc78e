//! OCPP security profiles 1 to 3 on the tokio adapter, and mixed with the smol adapter (a
//! smol client against a tokio server, a tokio client against a smol server). The scenarios
//! are shared with the smol adapter's tests (`support::security`); every test is bounded by
//! `support::BOUND` and runs on 127.0.0.1.

mod support;

use ocpp_core::rpc::Endpoint;
use ocpp_io_tokio::{Client, ClientConfig, ServerConfig, Tokio, TokioConnector};
use support::security::*;
use support::{BOUND, endpoint};

struct TokioAdapter;

impl Adapter for TokioAdapter {
    type Runtime = Tokio;
    type Connector = TokioConnector;

    async fn bind(config: ServerConfig) -> ocpp_io_tokio::Server<Endpoint> {
        ocpp_io_tokio::bind("127.0.0.1:0", config, |_| endpoint())
            .await
            .unwrap()
    }
    fn connect(config: ClientConfig) -> Client<Endpoint> {
        ocpp_io_tokio::connect(config, endpoint())
    }
    fn connector() -> TokioConnector {
        TokioConnector
    }
}

async fn bounded<F: std::future::Future>(test: F) -> F::Output {
    tokio::time::timeout(BOUND, test)
        .await
        .expect("the test did not finish in time")
}

macro_rules! scenarios {
    ($($name:ident: $scenario:ident::<$($adapter:ty),+>;)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                bounded($scenario::<$($adapter),+>()).await;
            }
        )*
    };
}

scenarios! {
    tokio_profile_1_connects_with_the_right_password:
        profile_1_connects_with_the_right_password::<TokioAdapter, TokioAdapter>;
    tokio_profile_2_connects_over_tls_with_the_right_password:
        profile_2_connects_over_tls_with_the_right_password::<TokioAdapter, TokioAdapter>;
    tokio_profile_3_connects_with_a_client_certificate:
        profile_3_connects_with_a_client_certificate::<TokioAdapter, TokioAdapter>;
    tokio_a_wrong_password_is_refused_with_401_and_backoff:
        a_wrong_password_is_refused_with_401_and_backoff::<TokioAdapter, TokioAdapter>;
    tokio_missing_credentials_are_refused_with_401:
        missing_credentials_are_refused_with_401::<TokioAdapter, TokioAdapter>;
    tokio_the_user_name_must_be_the_id_of_the_path:
        the_user_name_must_be_the_id_of_the_path::<TokioAdapter>;
    tokio_an_untrusted_or_misnamed_server_certificate_is_refused:
        an_untrusted_or_misnamed_server_certificate_is_refused::<TokioAdapter, TokioAdapter>;
    tokio_a_client_certificate_of_another_station_is_refused:
        a_client_certificate_of_another_station_is_refused::<TokioAdapter, TokioAdapter>;
    tokio_a_client_certificate_from_an_unknown_ca_is_refused:
        a_client_certificate_from_an_unknown_ca_is_refused::<TokioAdapter, TokioAdapter>;
    tokio_weak_tls_versions_and_suites_are_not_negotiated:
        weak_tls_versions_and_suites_are_not_negotiated::<TokioAdapter, TokioAdapter>;
    tokio_a_url_that_contradicts_the_profile_is_a_configuration_error:
        a_url_that_contradicts_the_profile_is_a_configuration_error::<TokioAdapter, TokioAdapter>;
    tokio_reconfigure_reconnects_with_the_new_settings:
        reconfigure_reconnects_with_the_new_settings::<TokioAdapter, TokioAdapter>;
    tokio_reconfigure_cuts_a_backoff_short:
        reconfigure_cuts_a_backoff_short::<TokioAdapter, TokioAdapter>;

    // Mixed pairings: the TLS glue of one runtime against the other's.
    smol_client_tokio_server_profile_2:
        profile_2_connects_over_tls_with_the_right_password::<TokioAdapter, SmolAdapter>;
    tokio_client_smol_server_profile_3:
        profile_3_connects_with_a_client_certificate::<SmolAdapter, TokioAdapter>;
    smol_client_tokio_server_profile_3_other_station:
        a_client_certificate_of_another_station_is_refused::<TokioAdapter, SmolAdapter>;
    tokio_client_smol_server_profile_1_wrong_password:
        a_wrong_password_is_refused_with_401_and_backoff::<SmolAdapter, TokioAdapter>;
}
