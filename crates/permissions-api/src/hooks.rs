//! Hand-written functions that the generated code calls (see `permissions_codegen::settings`).

/// Runs on every request the generated client builds, before it is sent.
///
/// progenitor adds an `api-version` header carrying the spec's `info.version`; the
/// OpenAI API does not define it, and the official SDKs do not send it.
pub(crate) fn pre_request(request: &mut reqwest::Request) {
    request.headers_mut().remove("api-version");
}
