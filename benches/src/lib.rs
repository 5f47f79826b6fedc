//! Realistic inputs shared by the benchmarks (see `benches/`).
#![forbid(unsafe_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use personalize_events_core::*;

/// A fixed signing clock, so every run signs the same bytes.
pub fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_953_600)
}

/// The credentials of the AWS documentation examples.
pub fn credentials() -> Credentials {
    Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
    )
}

/// A client core for us-east-1 (event ids left as given).
pub fn client_core() -> ClientCore {
    let mut cfg = ClientConfig::for_region("us-east-1").expect("region resolves");
    cfg.fill_event_ids = false;
    ClientCore::new(cfg).expect("valid config")
}

/// One whole call through core's `Call`, answered in memory with a 200 and
/// a request id, as a transport would drive it (no IO).
pub fn whole_call<I: Operation>(core: &ClientCore, input: &I, creds: &Credentials) -> I::Output {
    let now = std::time::Instant::now();
    let mut call = core.call(input, now, 1).expect("valid");
    loop {
        match call.poll(now, wall(), creds, 0.5) {
            Poll::Send(s) => {
                std::hint::black_box(&s.request);
                let resp = http::Response::builder()
                    .status(200)
                    .header("x-amzn-requestid", "00000000-0000-4000-8000-000000000000")
                    .body(&b""[..])
                    .expect("response");
                call.handle_response(now, wall(), resp);
            }
            Poll::Wait(_) => unreachable!("a 200 is not retried"),
            Poll::Done(r) => return r.expect("ok"),
        }
    }
}

/// A realistic event: ids, a value, a small properties object, five
/// impressions and a recommendation id.
pub fn event(i: usize) -> Event {
    Event::new(
        "purchase",
        wall() - Duration::from_millis(1500 + i as u64 * 37),
    )
    .event_id(format!("5f7a3c1e-9b2d-4e8f-a6c4-{i:012}"))
    .item_id(format!("item-{:06}", 1000 + i))
    .event_value(19.99)
    .properties(format!(
        r#"{{"numberOfRatings":"{}","discount":"yes","channel":"mobile-app"}}"#,
        i % 50
    ))
    .recommendation_id(format!("RID-{:016x}", 0xabcdef00u64 + i as u64))
    .impression((0..5).map(|k| format!("item-{:06}", 1000 + i + k)))
}

/// PutEvents with `n` realistic events.
pub fn put_events(n: usize) -> PutEventsInput {
    PutEventsInput::new("5f7a3c1e-9b2d-4e8f-a6c4-0d1b2e3f4a5b", "session-4f1c2d")
        .user_id("user-000042")
        .events((0..n).map(event))
}

/// PutItems with `n` items of about 1 KB of properties each.
pub fn put_items(n: usize) -> PutItemsInput {
    let filler = "x".repeat(900);
    PutItemsInput::new("arn:aws:personalize:us-east-1:123456789012:dataset/demo/ITEMS").items(
        (0..n).map(|i| {
            Item::new(format!("item-{i:06}")).properties(format!(
                r#"{{"genre":"Action|Adventure","price":"{}.99","description":"{filler}"}}"#,
                i % 100
            ))
        }),
    )
}

/// The floors. Physical: the least work any client must do for one call —
/// `serde_json::to_vec` of the same document, SHA-256 of the body, SHA-256 of
/// a canonical request, and one HMAC of the string to sign with an already
/// derived key (the key changes once a day). The design's: the same
/// document through `serde_json::to_vec`, and the `http::Request` signed by
/// `aws_sigv4::http_request::sign` (which derives the key every time) with
/// the signature applied to it.
pub mod floor {
    use personalize_events_core::{PutEventsInput, PutItemsInput};
    use serde::Serialize;
    use std::sync::OnceLock;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Body<'a> {
        tracking_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        user_id: Option<&'a str>,
        session_id: &'a str,
        event_list: Vec<Ev<'a>>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Ev<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        event_id: Option<&'a str>,
        event_type: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        event_value: Option<f32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        item_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        properties: Option<&'a str>,
        sent_at: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        recommendation_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        impression: Option<&'a [String]>,
    }

    fn key() -> &'static ring::hmac::Key {
        static KEY: OnceLock<ring::hmac::Key> = OnceLock::new();
        KEY.get_or_init(|| ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[7u8; 32]))
    }

    fn hex(d: &[u8]) -> [u8; 64] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (i, b) in d.iter().take(32).enumerate() {
            out[2 * i] = HEX[(b >> 4) as usize];
            out[2 * i + 1] = HEX[(b & 15) as usize];
        }
        out
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ItemsBody<'a> {
        dataset_arn: &'a str,
        items: Vec<It<'a>>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct It<'a> {
        item_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        properties: Option<&'a str>,
    }

    /// `serde_json::to_vec` of the PutEvents document.
    pub fn put_events_body(input: &PutEventsInput) -> Vec<u8> {
        let body = Body {
            tracking_id: &input.tracking_id,
            user_id: input.user_id.as_deref(),
            session_id: &input.session_id,
            event_list: input
                .event_list
                .iter()
                .map(|e| Ev {
                    event_id: e.event_id.as_deref(),
                    event_type: &e.event_type,
                    event_value: e.event_value,
                    item_id: e.item_id.as_deref(),
                    properties: e.properties.as_ref().map(|p| p.as_str()),
                    sent_at: e
                        .sent_at
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs_f64())
                        .unwrap_or(0.0),
                    recommendation_id: e.recommendation_id.as_deref(),
                    impression: e.impression.as_deref(),
                })
                .collect(),
        };
        serde_json::to_vec(&body).expect("serializes")
    }

    /// `serde_json::to_vec` of the PutItems document.
    pub fn put_items_body(input: &PutItemsInput) -> Vec<u8> {
        let body = ItemsBody {
            dataset_arn: &input.dataset_arn,
            items: input
                .items
                .iter()
                .map(|i| It {
                    item_id: &i.item_id,
                    properties: i.properties.as_ref().map(|p| p.as_str()),
                })
                .collect(),
        };
        serde_json::to_vec(&body).expect("serializes")
    }

    /// The physical floor of signing `body`: SHA-256(body) + SHA-256(canonical
    /// request) + one HMAC with an already derived key.
    pub fn sign_floor(body: &[u8], path: &str) -> [u8; 32] {
        let body_hash = ring::digest::digest(&ring::digest::SHA256, body);
        let mut canonical = Vec::with_capacity(256);
        canonical.extend_from_slice(b"POST\n");
        canonical.extend_from_slice(path.as_bytes());
        canonical.extend_from_slice(b"\n\ncontent-type:application/json\nhost:personalize-events.us-east-1.amazonaws.com\nx-amz-date:20261129T120000Z\n\ncontent-type;host;x-amz-date\n");
        canonical.extend_from_slice(&hex(body_hash.as_ref()));
        let creq_hash = ring::digest::digest(&ring::digest::SHA256, &canonical);
        let mut sts = Vec::with_capacity(160);
        sts.extend_from_slice(
            b"AWS4-HMAC-SHA256\n20261129T120000Z\n20261129/us-east-1/personalize/aws4_request\n",
        );
        sts.extend_from_slice(&hex(creq_hash.as_ref()));
        let tag = ring::hmac::sign(key(), &sts);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// The physical floor of PutEvents: serialize + SHA-256(body) +
    /// SHA-256(canonical request) + HMAC.
    pub fn put_events_floor(input: &PutEventsInput) -> [u8; 32] {
        sign_floor(&put_events_body(input), "/events")
    }

    /// The physical floor of PutItems.
    pub fn put_items_floor(input: &PutItemsInput) -> [u8; 32] {
        sign_floor(&put_items_body(input), "/items")
    }

    fn identity() -> &'static aws_smithy_runtime_api::client::identity::Identity {
        static ID: OnceLock<aws_smithy_runtime_api::client::identity::Identity> = OnceLock::new();
        ID.get_or_init(|| {
            let c = super::credentials();
            aws_credential_types::Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                None,
                None,
                "bench",
            )
            .into()
        })
    }

    /// The request a client built on the design's packages sends to `path`,
    /// ready to go: the `http::Request` (a URI parsed once and cloned, the
    /// `host` and `content-type` headers) with `body`, signed by
    /// `aws_sigv4::http_request::sign` and the signature applied to it with
    /// aws-sigv4's own `apply_to_request_http1x`. The identity is built once,
    /// as a client holds its credentials.
    pub fn aws_sigv4_sign(body: Vec<u8>, path: &str) -> http::Request<Vec<u8>> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        static URIS: OnceLock<[http::Uri; 2]> = OnceLock::new();
        let uris = URIS.get_or_init(|| {
            ["/events", "/items"].map(|p| {
                format!("https://personalize-events.us-east-1.amazonaws.com{p}")
                    .parse()
                    .expect("uri")
            })
        });
        let uri = if path == "/events" {
            &uris[0]
        } else {
            &uris[1]
        };
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(identity())
            .region("us-east-1")
            .name("personalize")
            .time(super::wall())
            .settings(SigningSettings::default())
            .build()
            .expect("params")
            .into();
        let mut req = http::Request::new(body);
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = uri.clone();
        let h = req.headers_mut();
        h.insert(
            http::header::HOST,
            http::HeaderValue::from_static("personalize-events.us-east-1.amazonaws.com"),
        );
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        let signable = SignableRequest::new(
            req.method().as_str(),
            req.uri().to_string(),
            (req.headers().iter()).map(|(k, v)| (k.as_str(), v.to_str().expect("ascii"))),
            SignableBody::Bytes(req.body()),
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("signs").into_parts();
        instructions.apply_to_request_http1x(&mut req);
        req
    }

    /// The design's floor of PutEvents: `serde_json::to_vec` + aws-sigv4.
    pub fn put_events_design_floor(input: &PutEventsInput) -> http::Request<Vec<u8>> {
        aws_sigv4_sign(put_events_body(input), "/events")
    }

    /// The design's floor of PutItems.
    pub fn put_items_design_floor(input: &PutItemsInput) -> http::Request<Vec<u8>> {
        aws_sigv4_sign(put_items_body(input), "/items")
    }
}

/// The official `aws-sdk-personalizeevents` through its in-memory HTTP client
/// (`infallible_client_fn` answering 200), for side-by-side numbers.
#[cfg(feature = "official-sdk")]
pub mod official {
    use aws_sdk_personalizeevents as pe;
    use std::time::Duration;

    /// A client of the official SDK on a current-thread runtime.
    pub struct Official {
        rt: tokio::runtime::Runtime,
        client: pe::Client,
    }

    /// The same events as [`put_events`](crate::put_events), in the SDK's types.
    pub fn events(n: usize) -> Vec<pe::types::Event> {
        (0..n)
            .map(|i| {
                let e = crate::event(i);
                pe::types::Event::builder()
                    .event_id(e.event_id.unwrap())
                    .event_type(e.event_type)
                    .event_value(e.event_value.unwrap())
                    .item_id(e.item_id.unwrap())
                    .properties(e.properties.unwrap().into_string())
                    .sent_at(aws_smithy_types::DateTime::from(e.sent_at))
                    .recommendation_id(e.recommendation_id.unwrap())
                    .set_impression(e.impression)
                    .build()
                    .expect("valid event")
            })
            .collect()
    }

    impl Default for Official {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Official {
        /// A client whose HTTP client answers every request with 200.
        pub fn new() -> Self {
            let http = aws_smithy_http_client::test_util::infallible_client_fn(|_req| {
                http::Response::builder()
                    .status(200)
                    .header("x-amzn-requestid", "00000000-0000-4000-8000-000000000000")
                    .body(aws_smithy_types::body::SdkBody::empty())
                    .expect("response")
            });
            let config = pe::Config::builder()
                .behavior_version(pe::config::BehaviorVersion::latest())
                .region(pe::config::Region::new("us-east-1"))
                .credentials_provider(pe::config::Credentials::new(
                    "AKIDEXAMPLE",
                    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                    None,
                    None,
                    "bench",
                ))
                .http_client(http)
                .timeout_config(
                    pe::config::timeout::TimeoutConfig::builder()
                        .operation_timeout(Duration::from_secs(30))
                        .build(),
                )
                .build();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            Official {
                rt,
                client: pe::Client::from_conf(config),
            }
        }

        /// One whole `PutEvents` call (the events of [`events`]).
        pub fn put_events(
            &self,
            events: Vec<pe::types::Event>,
        ) -> pe::operation::put_events::PutEventsOutput {
            self.rt.block_on(put_events(&self.client, events))
        }
    }

    /// The same `PutEvents` as ours sends, through `client`: the one
    /// request the benches make of the official SDK.
    pub async fn put_events(
        client: &pe::Client,
        events: Vec<pe::types::Event>,
    ) -> pe::operation::put_events::PutEventsOutput {
        client
            .put_events()
            .tracking_id("5f7a3c1e-9b2d-4e8f-a6c4-0d1b2e3f4a5b")
            .session_id("session-4f1c2d")
            .user_id("user-000042")
            .set_event_list(Some(events))
            .send()
            .await
            .expect("the official call succeeds")
    }
}
