//! Credentials that expire within core's `SIGNING_MARGIN` are asked for
//! again before an attempt signs with them, by both clients: a provider
//! that first hands out nearly expired keys and then fresh ones gets its
//! call signed with the fresh ones. The emulator on 127.0.0.1 accepts only
//! the fresh pair, so a request signed with the old one would be refused.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use personalize_events_core::{Credentials, Error, Event, PutEventsInput};
use personalize_events_local::LocalServer;

/// Hands out `OLDKEY` (expiring in 30 s, inside the margin) first, then
/// `NEWKEY` (valid for an hour); counts how often it is asked.
#[derive(Clone, Default)]
struct Rotating {
    asked: Arc<AtomicU32>,
}

impl fmt::Debug for Rotating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rotating")
    }
}

impl Rotating {
    fn next(&self) -> Result<Credentials, Error> {
        let now = SystemTime::now();
        Ok(match self.asked.fetch_add(1, Ordering::SeqCst) {
            0 => Credentials::new("OLDKEY", "old-secret", Some("old-token".into()))
                .with_expiry(now + Duration::from_secs(30)),
            _ => Credentials::new("NEWKEY", "new-secret", Some("new-token".into()))
                .with_expiry(now + Duration::from_secs(3600)),
        })
    }

    fn asked(&self) -> u32 {
        self.asked.load(Ordering::SeqCst)
    }
}

impl personalize_events_hyper::ProvideCredentials for Rotating {
    fn provide(&self) -> personalize_events_hyper::ProvideCredentialsFuture<'_> {
        Box::pin(std::future::ready(self.next()))
    }
}

fn server() -> LocalServer {
    LocalServer::builder()
        .credential(Credentials::new(
            "NEWKEY",
            "new-secret",
            Some("new-token".into()),
        ))
        .start_blocking()
        .expect("start the emulator")
}

fn input() -> PutEventsInput {
    PutEventsInput::new("tracking-1", "session-1")
        .event(Event::new("click", SystemTime::now()).item_id("item-1"))
}

#[test]
fn blocking_client_asks_again_for_credentials_about_to_expire() {
    let server = server();
    let provider = Rotating::default();
    let p = provider.clone();
    let client = personalize_events_blocking::Client::builder()
        .region("us-east-1")
        .endpoint_url(server.endpoint_url())
        .credentials_provider(move || p.next())
        .build()
        .unwrap();
    client
        .put_events(input())
        .expect("signed with the fresh keys");
    assert_eq!(provider.asked(), 2);
    assert_eq!(server.records().len(), 1);
}

#[test]
fn async_client_asks_again_for_credentials_about_to_expire() {
    let server = server();
    let provider = Rotating::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = personalize_events_hyper::Client::builder()
            .region("us-east-1")
            .endpoint_url(server.endpoint_url())
            .credentials_provider(provider.clone())
            .build()
            .unwrap();
        client
            .put_events(input())
            .await
            .expect("signed with the fresh keys");
    });
    assert_eq!(provider.asked(), 2);
    assert_eq!(server.records().len(), 1);
}
