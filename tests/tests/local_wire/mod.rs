//! Shared by the `local_*` tests: a tiny HTTP/1.1 client on `std::net`
//! (the transports are tested elsewhere) and helpers that build signed
//! requests with the core's `ClientCore`.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderValue, Method, Request};
use personalize_events_core::endpoint::{self, EndpointParams};
use personalize_events_core::sign::{self, SigningCache, SigningParams};
use personalize_events_core::{ClientConfig, ClientCore, Credentials, Operation, Poll};
use serde_json::Value;

pub const AK: &str = "AKIDEXAMPLE";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const REGION: &str = "us-east-1";
pub const DATASET: &str = "arn:aws:personalize:us-east-1:123456789012:dataset/demo/ITEMS";

/// The emulator's default credentials.
pub fn creds() -> Credentials {
    Credentials::new(AK, SECRET, None)
}

/// A client core sending to `url` (region us-east-1).
pub fn client(url: &str) -> ClientCore {
    let ep = endpoint::resolve(&EndpointParams {
        endpoint: Some(url.to_owned()),
        ..Default::default()
    })
    .expect("endpoint");
    ClientCore::new(ClientConfig::new(REGION, ep)).expect("client core")
}

/// The signed request of the first attempt of `input`, signed at `wall`.
pub fn signed_at<I: Operation>(
    url: &str,
    input: I,
    credentials: &Credentials,
    wall: SystemTime,
) -> Request<Vec<u8>> {
    let core = client(url);
    let mut call = core.call(&input, Instant::now(), 42).expect("valid input");
    match call.poll(Instant::now(), wall, credentials, 0.0) {
        Poll::Send(s) => s.request.map(Vec::from),
        other => panic!("expected a request to send, got {other:?}"),
    }
}

/// The signed request of `input` with the default credentials, signed now.
pub fn signed<I: Operation>(url: &str, input: I) -> Request<Vec<u8>> {
    signed_at(url, input, &creds(), SystemTime::now())
}

/// Any method, path and body, signed by hand (to send what the client's
/// validation would never let through).
pub fn sign_raw_with(
    url: &str,
    method: Method,
    path: &str,
    body: impl Into<Vec<u8>>,
    credentials: &Credentials,
    service: &str,
    wall: SystemTime,
) -> Request<Vec<u8>> {
    let authority = url.trim_start_matches("http://").trim_end_matches('/');
    let mut req = Request::builder()
        .method(method)
        .uri(format!("{url}{path}"))
        .header("host", authority)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap();
    let params = SigningParams {
        credentials,
        region: REGION,
        service,
        time: wall,
    };
    sign::sign_request(&mut req, &params, &SigningCache::new()).expect("sign");
    req
}

/// A POST of `body` to `path`, signed correctly now.
pub fn sign_raw(url: &str, path: &str, body: impl Into<Vec<u8>>) -> Request<Vec<u8>> {
    sign_raw_with(
        url,
        Method::POST,
        path,
        body,
        &creds(),
        "personalize",
        SystemTime::now(),
    )
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `X-Amzn-ErrorType` header.
    pub fn error_type(&self) -> Option<&str> {
        self.header("x-amzn-errortype")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts an AWS error answer: status, `X-Amzn-ErrorType`, body
    /// `__type`, a message, a request id and a date. Returns the message.
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(
            self.status,
            status,
            "status of {code}: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.error_type(), Some(code), "{self:?}");
        let body = self.json();
        assert_eq!(body["__type"], code, "{body}");
        let message = body["message"].as_str().expect("a message").to_owned();
        assert!(!message.is_empty());
        self.assert_common_headers();
        message
    }

    /// Every answer has a uuid-looking request id and an IMF-fixdate `Date`.
    pub fn assert_common_headers(&self) {
        let id = self.header("x-amzn-requestid").expect("x-amzn-RequestId");
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(id.matches('-').count(), 4, "{id}");
        let date = self.header("date").expect("Date");
        assert!(
            personalize_events_tests::time::parse_http_date(date).is_some(),
            "{date}"
        );
        assert!(date.ends_with(" GMT"), "{date}");
    }
}

/// Connects to the request's authority with bounded timeouts.
pub fn connect<B>(req: &Request<B>) -> io::Result<TcpStream> {
    let authority = req.uri().authority().expect("absolute URI").as_str();
    let stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(stream)
}

/// Writes `req` as HTTP/1.1 (origin-form target, its own headers plus
/// `content-length` and `connection: close`).
pub fn write_request<B: AsRef<[u8]>>(stream: &mut TcpStream, req: &Request<B>) -> io::Result<()> {
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut head = format!("{} {target} HTTP/1.1\r\n", req.method());
    let mut headers = req.headers().clone();
    headers.insert(
        "content-length",
        HeaderValue::from(req.body().as_ref().len()),
    );
    headers.insert("connection", HeaderValue::from_static("close"));
    for (k, v) in &headers {
        head.push_str(k.as_str());
        head.push_str(": ");
        head.push_str(v.to_str().expect("ASCII header"));
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(req.body().as_ref());
    stream.write_all(&bytes)?;
    stream.flush()
}

/// Reads one response: the head, then exactly `content-length` bytes (an
/// `UnexpectedEof` error when the connection ends before).
pub fn read_response(stream: &mut TcpStream) -> io::Result<RawResponse> {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before any answer",
        ));
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, format!("status line {line:?}"))
        })?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the head",
            ));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').expect("header line");
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse::<usize>().expect("content-length"));
    let mut body = Vec::new();
    match len {
        Some(n) => {
            body.resize(n, 0);
            let mut got = 0;
            while got < n {
                match r.read(&mut body[got..])? {
                    0 => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("body cut at {got} of {n} bytes"),
                        ))
                    }
                    k => got += k,
                }
            }
        }
        None => {
            r.read_to_end(&mut body)?;
        }
    }
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

/// Sends `req` on a new connection and reads the answer.
pub fn send<B: AsRef<[u8]>>(req: &Request<B>) -> io::Result<RawResponse> {
    let mut stream = connect(req)?;
    write_request(&mut stream, req)?;
    read_response(&mut stream)
}

/// Sends `req` and reads every byte until the server closes (or resets)
/// the connection: the raw bytes and how reading ended.
pub fn send_raw<B: AsRef<[u8]>>(req: &Request<B>) -> (Vec<u8>, io::Result<()>) {
    let mut stream = connect(req).expect("connect");
    write_request(&mut stream, req).expect("write");
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (bytes, Ok(())),
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) => return (bytes, Err(e)),
        }
    }
}
