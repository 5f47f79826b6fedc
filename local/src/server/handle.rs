//! The handling of one request: body limits, faults, then verification,
//! routing, decoding, validation and keeping, answered in the service's
//! wording.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, DATE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::body::Incoming;
use personalize_events_core::{uuid_from_seed, AnyInput, Error, OPERATIONS, SIGNING_NAME};
use serde_json::Value;

use super::required::{missing_required_members, service_validation_message};
use super::{
    stopping, Config, Shared, BODY_TIMEOUT, MAX_BODY_BYTES, TRUNCATED_LENGTH, TRUNCATED_PART,
};
use crate::body::Body;
use crate::fault::{FaultKind, Phase};
use crate::verify::{self, VerifyParams};

/// Makes hyper close the connection without an answer.
#[derive(Debug)]
pub(super) struct Aborted;

impl fmt::Display for Aborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection closed without an answer")
    }
}

impl std::error::Error for Aborted {}

enum ReadError {
    TooLarge,
    Broken,
}

async fn read_body(body: Incoming) -> Result<Bytes, ReadError> {
    let limited = Limited::new(body, MAX_BODY_BYTES);
    match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ReadError::TooLarge),
        _ => Err(ReadError::Broken),
    }
}

/// One request: numbered, refused with 503 past `max_requests`, counted,
/// answered; the last allowed request stops the server.
pub(super) async fn handle(
    shared: Arc<Shared>,
    raw: Arc<std::net::TcpStream>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Aborted> {
    let seq = shared.seq.fetch_add(1, Ordering::SeqCst) + 1;
    let request_id = uuid_from_seed(shared.instance, seq);
    if let Some(max) = shared.config.max_requests {
        if seq > max {
            return Ok(error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The emulator is stopping: it has answered its maximum number of requests.",
                &request_id,
            ));
        }
    }
    shared.store().stats.requests += 1;
    let result = answer(&shared, &raw, req, seq, &request_id).await;
    if shared.config.max_requests == Some(seq) {
        // The answer is still written: hyper finishes it before closing.
        shared.stop();
    }
    result
}

async fn answer(
    shared: &Shared,
    raw: &std::net::TcpStream,
    req: Request<Incoming>,
    seq: u64,
    request_id: &str,
) -> Result<Response<Body>, Aborted> {
    let (parts, body) = req.into_parts();
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(ReadError::TooLarge) => {
            return Ok(reject(
                shared,
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLargeException",
                &format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
                request_id,
            ))
        }
        Err(ReadError::Broken) => return Err(Aborted),
    };
    let fault = shared.config.faults.decide(seq);
    if let Some((kind, Phase::Before)) = fault {
        shared.store().fault(kind);
        if kind == FaultKind::Stall {
            stall(shared).await;
        } else {
            return inject(kind, raw, request_id);
        }
    }
    let response = process(shared, Request::from_parts(parts, body), seq, request_id);
    if let Some((kind, Phase::After)) = fault {
        shared.store().fault(kind);
        if kind == FaultKind::Stall {
            stall(shared).await;
        } else {
            return inject(kind, raw, request_id);
        }
    }
    Ok(response)
}

async fn stall(shared: &Shared) {
    let mut shutdown = shared.shutdown.subscribe();
    tokio::select! {
        _ = tokio::time::sleep(shared.config.stall) => {}
        _ = stopping(&mut shutdown) => {}
    }
}

fn inject(
    kind: FaultKind,
    raw: &std::net::TcpStream,
    request_id: &str,
) -> Result<Response<Body>, Aborted> {
    Ok(match kind {
        FaultKind::InternalError => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
            request_id,
        ),
        FaultKind::ServiceUnavailable => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
            request_id,
        ),
        FaultKind::Throttling => error_response(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Rate exceeded",
            request_id,
        ),
        FaultKind::Truncate => {
            let mut r = base_response(StatusCode::OK, request_id, Body::truncated(TRUNCATED_PART));
            r.headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(TRUNCATED_LENGTH));
            r
        }
        // Reset: a zero linger turns the close into a TCP reset.
        _ => {
            let _ = socket2::SockRef::from(raw).set_linger(Some(Duration::ZERO));
            return Err(Aborted);
        }
    })
}

fn base_response(status: StatusCode, request_id: &str, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-RequestId", v);
    }
    if let Ok(v) = HeaderValue::from_str(&crate::time::http_date(SystemTime::now())) {
        h.insert(DATE, v);
    }
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn error_response(
    status: StatusCode,
    code: &'static str,
    message: &str,
    request_id: &str,
) -> Response<Body> {
    let body = serde_json::json!({ "__type": code, "message": message }).to_string();
    let mut r = base_response(status, request_id, Body::full(body));
    r.headers_mut()
        .insert("x-amzn-ErrorType", HeaderValue::from_static(code));
    r
}

fn reject(
    shared: &Shared,
    status: StatusCode,
    code: &'static str,
    message: &str,
    request_id: &str,
) -> Response<Body> {
    shared.store().reject(code);
    error_response(status, code, message, request_id)
}

/// Verifies, routes, decodes, validates and keeps one request.
fn process(shared: &Shared, req: Request<Bytes>, seq: u64, request_id: &str) -> Response<Body> {
    let cfg = &shared.config;
    let params = VerifyParams {
        service: SIGNING_NAME,
        region: cfg.region.as_deref(),
        now: SystemTime::now(),
        max_skew: cfg.max_skew,
    };
    if let Err(e) =
        verify::verify_request_with(&req, |ak| cfg.credentials.get(ak).cloned(), &params)
    {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::FORBIDDEN);
        return reject(shared, status, e.code(), e.message(), request_id);
    }

    let path = req.uri().path();
    let operation = OPERATIONS
        .iter()
        .find(|(_, p)| *p == path)
        .filter(|_| req.method() == Method::POST);
    let Some(&(operation, _)) = operation else {
        let message = format!(
            "Unknown operation: {} {}",
            req.method(),
            path.chars().take(128).collect::<String>()
        );
        return reject(
            shared,
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            &message,
            request_id,
        );
    };

    // An absent payload is an empty structure, as in every rest-json service.
    let body: &[u8] = if req.body().iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        req.body()
    };
    let value: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return reject(
                shared,
                StatusCode::BAD_REQUEST,
                "SerializationException",
                "The request body must be a JSON object.",
                request_id,
            )
        }
        Err(e) => {
            return reject(
                shared,
                StatusCode::BAD_REQUEST,
                "SerializationException",
                &format!("The request body is not valid JSON: {e}"),
                request_id,
            )
        }
    };
    // Required members first, as the service does: they are found on the
    // JSON itself (decoding stops at the first one, without its path).
    let missing = missing_required_members(operation, &value);
    if !missing.is_empty() {
        return reject(
            shared,
            StatusCode::BAD_REQUEST,
            "InvalidInputException",
            &service_validation_message(&missing),
            request_id,
        );
    }
    let input = match AnyInput::from_json(operation, body) {
        Ok(i) => i,
        Err(Error::Validation { problem, .. }) => {
            let (code, message) = classify_decode_error(&problem);
            return reject(shared, StatusCode::BAD_REQUEST, code, &message, request_id);
        }
        Err(e) => {
            return reject(
                shared,
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalFailure",
                &e.to_string(),
                request_id,
            )
        }
    };
    let violations = input.service_violations();
    if !violations.is_empty() {
        return reject(
            shared,
            StatusCode::BAD_REQUEST,
            "InvalidInputException",
            &service_validation_message(&violations),
            request_id,
        );
    }
    if let Some(message) = missing_resource(cfg, &input) {
        return reject(
            shared,
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &message,
            request_id,
        );
    }
    shared.store().accept(input, &value, seq, request_id);
    base_response(StatusCode::OK, request_id, Body::empty())
}

/// A decoding failure of well-formed JSON: a missing required member is
/// invalid input (named in the message); a member of the wrong type is a
/// serialization error, as AWS JSON front ends answer.
fn classify_decode_error(problem: &str) -> (&'static str, String) {
    if let Some(rest) = problem.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        return (
            "InvalidInputException",
            format!(
                "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
            ),
        );
    }
    ("SerializationException", problem.to_owned())
}

fn missing_resource(cfg: &Config, input: &AnyInput) -> Option<String> {
    let tracking = |id: &str| {
        cfg.tracking_ids
            .as_ref()
            .filter(|known| !known.contains(id))
            .map(|_| format!("No event tracker with the tracking ID {id} exists."))
    };
    let dataset = |arn: &str| {
        cfg.dataset_arns
            .as_ref()
            .filter(|known| !known.contains(arn))
            .map(|_| format!("No dataset with the ARN {arn} exists."))
    };
    match input {
        AnyInput::PutEvents(i) => tracking(&i.tracking_id),
        AnyInput::PutActionInteractions(i) => tracking(&i.tracking_id),
        AnyInput::PutItems(i) => dataset(&i.dataset_arn),
        AnyInput::PutUsers(i) => dataset(&i.dataset_arn),
        AnyInput::PutActions(i) => dataset(&i.dataset_arn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalServer;

    #[test]
    fn missing_members_are_invalid_input_wrong_types_serialization() {
        let (code, msg) = classify_decode_error("missing field `sessionId` at line 1 column 20");
        assert_eq!(code, "InvalidInputException");
        assert!(msg.contains("'sessionId'"), "{msg}");
        let (code, _) = classify_decode_error("invalid type: string \"x\", expected a sequence");
        assert_eq!(code, "SerializationException");
    }

    #[test]
    fn resources_are_checked_only_when_configured() {
        let open = LocalServer::builder().config;
        let input = AnyInput::from_json(
            "PutEvents",
            br#"{"trackingId":"t","sessionId":"s","eventList":[{"eventType":"x","sentAt":1}]}"#,
        )
        .unwrap();
        assert_eq!(missing_resource(&open, &input), None);
        let closed = LocalServer::builder().tracking_ids(["other"]).config;
        assert!(missing_resource(&closed, &input)
            .unwrap()
            .contains("tracking ID t"));
        let known = LocalServer::builder().tracking_ids(["t"]).config;
        assert_eq!(missing_resource(&known, &input), None);
    }
}
