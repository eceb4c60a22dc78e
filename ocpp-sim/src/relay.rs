//! The network between a station and its central system, as a TCP relay in this process
//! that can be cut: a station that loses its network keeps running, and sees its connection
//! drop without a close frame and its reconnection attempts fail until the network is back.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A TCP relay to one target. Dropping it stops accepting; connections relayed already end
/// with their station's.
pub(crate) struct Relay {
    addr: SocketAddr,
    online: watch::Sender<bool>,
    accepting: JoinHandle<()>,
}

impl Relay {
    /// Listens on a free loopback port and relays every connection to `target`
    /// (`HOST:PORT`), online.
    pub(crate) async fn start(target: String) -> std::io::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (online, _) = watch::channel(true);
        let switch = online.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !*switch.borrow() {
                    // Offline: the connection attempt fails.
                    continue;
                }
                let mut cut = switch.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.wait_for(|online| !*online) => {}
                    }
                });
            }
        });
        Ok(Relay {
            addr,
            online,
            accepting,
        })
    }

    /// The address stations connect to.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the network is up.
    pub(crate) fn is_online(&self) -> bool {
        *self.online.borrow()
    }

    /// Restores the network, or cuts it: every relayed connection drops at once.
    pub(crate) fn set_online(&self, online: bool) {
        self.online.send_replace(online);
    }

    /// Stops accepting connections.
    pub(crate) fn stop(&self) {
        self.accepting.abort();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `ws://HOST:PORT/PATH` as `(HOST:PORT, /PATH)`; `None` for other schemes.
pub(crate) fn split_ws_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("ws://")?;
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok() && !port.contains(']'));
    let target = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Some((target, path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_urls_split_into_the_relay_target_and_the_path() {
        assert_eq!(
            split_ws_url("ws://127.0.0.1:9000/ocpp"),
            Some(("127.0.0.1:9000".to_owned(), "/ocpp".to_owned()))
        );
        assert_eq!(
            split_ws_url("ws://csms.example"),
            Some(("csms.example:80".to_owned(), String::new()))
        );
        assert_eq!(
            split_ws_url("ws://[::1]:9000/"),
            Some(("[::1]:9000".to_owned(), "/".to_owned()))
        );
        assert_eq!(split_ws_url("wss://csms.example/ocpp"), None);
    }
}
