//! aws-sigv4 logs the request it signs at TRACE with its query unredacted (a
//! presigned request's session token): core's presigning and the
//! emulator's verifying run it with tracing off, so a program tracing at
//! TRACE never logs a token (header values it redacts itself). A
//! presigned request (the token in its query) and a header-signed one are
//! signed and verified with a TRACE subscriber capturing everything.

mod local_wire;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use personalize_events_core::{ClientConfig, ClientCore, Credentials, Event, PutEventsInput};
use personalize_events_local::LocalServer;

const TOKEN: &str = "tok-QUIET-5ession-T0ken-FwoGZXIvYXdzE";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn signing_and_verifying_log_no_session_token_at_trace() {
    let captured = Captured::default();
    let c = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || c.clone())
        .finish();
    // Global: the emulator verifies on its own threads.
    tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
    tracing::trace!("capture works");

    let credentials = Credentials::new("AKIDQUIET", "quiet-secret", Some(TOKEN.into()));
    let server = LocalServer::builder()
        .credential(credentials.clone())
        .start_blocking()
        .expect("start the emulator");
    let mut config = ClientConfig::for_region("us-east-1").unwrap();
    config.endpoint =
        personalize_events_core::endpoint::resolve(&personalize_events_core::EndpointParams {
            region: Some("us-east-1".into()),
            endpoint: Some(server.endpoint_url()),
            ..Default::default()
        })
        .unwrap();
    let core = ClientCore::new(config).unwrap();
    let input = PutEventsInput::new("tracking-1", "session-1")
        .event(Event::new("click", SystemTime::now()).item_id("item-1"));
    let presigned = core
        .presign(
            &input,
            &credentials,
            SystemTime::now(),
            Some(Duration::from_secs(60)),
            1,
        )
        .unwrap();
    assert!(presigned
        .uri()
        .query()
        .unwrap()
        .contains("X-Amz-Security-Token"));
    let client = personalize_events_blocking::Client::builder()
        .region("us-east-1")
        .endpoint_url(server.endpoint_url())
        .credentials(credentials)
        .build()
        .unwrap();
    client.put_events(input).expect("a header-signed call");
    let r = local_wire::send(&presigned).expect("sent");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(server.records().len(), 2);

    let text = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(text.contains("capture works"), "{text}");
    assert!(!text.contains(TOKEN), "a session token was logged:\n{text}");
}
