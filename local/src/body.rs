//! The response body: whole, or cut short on purpose.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// How long a truncated body waits, after its partial bytes, before it
/// fails: long enough for hyper to flush the headers and those bytes.
const TRUNCATE_FLUSH: Duration = Duration::from_millis(50);

/// A response body.
pub(crate) enum Body {
    /// The whole body (possibly empty).
    Full(Option<Bytes>),
    /// A few bytes, a pause, then an error that makes hyper close the
    /// connection short of the `Content-Length` it announced.
    Truncated {
        part: Option<Bytes>,
        pause: Pin<Box<tokio::time::Sleep>>,
    },
}

impl Body {
    pub fn full(b: impl Into<Bytes>) -> Self {
        let b = b.into();
        Body::Full((!b.is_empty()).then_some(b))
    }

    pub fn empty() -> Self {
        Body::Full(None)
    }

    pub fn truncated(part: impl Into<Bytes>) -> Self {
        Body::Truncated {
            part: Some(part.into()),
            pause: Box::pin(tokio::time::sleep(TRUNCATE_FLUSH)),
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Truncated { part, pause } => {
                if let Some(p) = part.take() {
                    return Poll::Ready(Some(Ok(Frame::data(p))));
                }
                match pause.as_mut().poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(()) => Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "response truncated on purpose (fault injection)",
                    )))),
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            // Unknown, so that hyper trusts the Content-Length header.
            Body::Truncated { .. } => SizeHint::default(),
        }
    }
}
