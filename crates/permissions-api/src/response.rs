//! A decoded body together with the response it came in.

use std::ops::Deref;

use reqwest::{StatusCode, header::HeaderMap};

/// A successful answer: the decoded value, the status and the headers.
///
/// Dereferences to the value; [`request_id`](Self::request_id) gives the
/// `x-request-id` to quote when asking OpenAI about a call.
#[derive(Clone, Debug)]
pub struct ApiResponse<T> {
    value: T,
    status: StatusCode,
    headers: HeaderMap,
}

impl<T> ApiResponse<T> {
    pub(crate) fn from_generated(response: progenitor_client::ResponseValue<T>) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        Self {
            value: response.into_inner(),
            status,
            headers,
        }
    }

    pub(crate) fn value_mut(&mut self) -> &mut T {
        &mut self.value
    }

    /// The decoded value.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The `x-request-id` response header, when the server sent one.
    pub fn request_id(&self) -> Option<&str> {
        crate::error::request_id(&self.headers)
    }
}

impl<T> Deref for ApiResponse<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}
