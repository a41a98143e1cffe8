//! What [`ApiClient::verify_request`](crate::ApiClient::verify_request) needs from an HTTP
//! request: its headers, method and URL, from `http` types or plain pairs.

use std::borrow::Cow;

use http::{HeaderMap, HeaderName, HeaderValue};

/// The parts of an HTTP request that authentication reads.
///
/// ```
/// use auth0_api::VerifyRequest;
/// let headers = [("authorization", "Bearer eyJ..."), ("host", "api.example.com")];
/// let req = VerifyRequest::from_pairs(headers).method("GET").url("https://api.example.com/data");
/// assert_eq!(req.header_values("Authorization").count(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct VerifyRequest<'a> {
    pub(crate) headers: Cow<'a, HeaderMap>,
    pub(crate) method: Option<Cow<'a, str>>,
    pub(crate) url: Option<Cow<'a, str>>,
    /// The mutual-TLS client certificate (DER), for certificate-bound tokens.
    pub(crate) client_certificate: Option<Cow<'a, [u8]>>,
    pub(crate) form_body: Option<Cow<'a, [u8]>>,
}

impl<'a> VerifyRequest<'a> {
    /// From a header map (method and URL to be added).
    pub fn from_headers(headers: &'a HeaderMap) -> Self {
        Self {
            headers: Cow::Borrowed(headers),
            method: None,
            url: None,
            client_certificate: None,
            form_body: None,
        }
    }

    /// From request parts: headers and method; the URL must be added (only the server knows
    /// its public scheme and host).
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        Self {
            headers: Cow::Borrowed(&parts.headers),
            method: Some(Cow::Borrowed(parts.method.as_str())),
            url: None,
            client_certificate: None,
            form_body: None,
        }
    }

    /// From name-value pairs (names case-insensitive; repeated names kept as repeated lines).
    /// Pairs that are not valid HTTP header names or values are skipped.
    pub fn from_pairs<I, K, V>(pairs: I) -> VerifyRequest<'static>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(k.as_ref().as_bytes()),
                HeaderValue::from_str(v.as_ref()),
            ) {
                headers.append(name, value);
            }
        }
        VerifyRequest {
            headers: Cow::Owned(headers),
            method: None,
            url: None,
            client_certificate: None,
            form_body: None,
        }
    }

    /// Sets the HTTP method (needed for DPoP).
    pub fn method(mut self, method: impl Into<Cow<'a, str>>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// Sets the full request URL as the client addressed it (needed for DPoP `htu`, and given to
    /// domain resolvers).
    pub fn url(mut self, url: impl Into<Cow<'a, str>>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Sets the client certificate of the mutual-TLS connection, DER-encoded, for
    /// certificate-bound tokens (RFC 8705 section 3; see [`mtls`](crate::mtls)): the first
    /// entry of rustls' `peer_certificates()`, or what
    /// [`certificate_from_header`](crate::mtls::certificate_from_header) read from a trusted
    /// proxy's header.
    ///
    /// ```
    /// # let der: Vec<u8> = vec![0x30, 0x00];
    /// let req = auth0_api::VerifyRequest::from_pairs([("authorization", "Bearer eyJ...")])
    ///     .client_certificate(der);
    /// # let _ = req;
    /// ```
    pub fn client_certificate(mut self, der: impl Into<Cow<'a, [u8]>>) -> Self {
        self.client_certificate = Some(der.into());
        self
    }

    /// The request body, for a token in an `application/x-www-form-urlencoded` body (RFC 6750
    /// section 2.2; read only with [`TokenLocations::form_body`](crate::TokenLocations::form_body)
    /// on).
    pub fn form_body(mut self, body: impl Into<Cow<'a, [u8]>>) -> Self {
        self.form_body = Some(body.into());
        self
    }

    /// Every value of a header, as text (values that are not visible ASCII are skipped).
    pub fn header_values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}
