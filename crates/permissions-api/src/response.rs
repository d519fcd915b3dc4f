//! A decoded body together with the response it came in.

use std::ops::{Deref, DerefMut};

use progenitor_client::ResponseValue;
use reqwest::{StatusCode, header::HeaderMap};

/// A successful answer: the decoded value, the status and the headers.
///
/// Dereferences to the value; [`request_id`](Self::request_id) gives the
/// `x-request-id` to quote when asking OpenAI about a call. Its `Debug` output
/// names the headers without their values: they are the server's, and a server
/// may echo anything in them.
pub struct ApiResponse<T> {
    // The generated client's own response value: wrapping it, rather than copying
    // its parts out, saves a copy of the headers on every call.
    inner: ResponseValue<T>,
}

impl<T> ApiResponse<T> {
    pub(crate) fn from_generated(inner: ResponseValue<T>) -> Self {
        Self { inner }
    }

    /// The decoded value.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.inner.status()
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The `x-request-id` response header, when the server sent one.
    pub fn request_id(&self) -> Option<&str> {
        crate::error::request_id(self.inner.headers())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for ApiResponse<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers().keys().map(|n| n.as_str()).collect();
        f.debug_struct("ApiResponse")
            .field("status", &self.status())
            .field("headers", &names)
            .field("value", &**self)
            .finish()
    }
}

impl<T> Deref for ApiResponse<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for ApiResponse<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}
