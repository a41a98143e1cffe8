//! [`DevTenant`], its builder and shared state.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::faults::{Endpoint, Fault};
use crate::jwe::JweEncrypter;
use crate::jwt::{TokenBuilder, infallible};
use crate::keys::{KeyEntry, KeyStore};
use crate::{Error, server, tls};

/// Maps an external subject token to a user id (`sub`) for a custom RFC 8693
/// exchange profile; `None` rejects the token with `invalid_grant`.
pub type ExchangeProfile = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Locks a mutex, ignoring poisoning (state stays usable after a panic).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Read-locks an `RwLock`, ignoring poisoning.
pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Write-locks an `RwLock`, ignoring poisoning.
pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A registered confidential client.
#[derive(Debug, Clone)]
pub(crate) struct ClientConfig {
    pub(crate) id: String,
    /// Shared secret (`client_secret_basic` / `client_secret_post`).
    pub(crate) secret: Option<String>,
    /// Public JWK for `private_key_jwt`.
    pub(crate) jwk: Option<Value>,
    /// Audiences the client may get tokens for.
    pub(crate) audiences: Vec<String>,
}

/// Request counters per endpoint; see [`DevTenant::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests to `/.well-known/openid-configuration`.
    pub discovery: u64,
    /// Requests to `/.well-known/jwks.json`.
    pub jwks: u64,
    /// Requests to `/oauth/token`.
    pub token: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    discovery: AtomicU64,
    jwks: AtomicU64,
    token: AtomicU64,
}

impl Counters {
    pub(crate) fn hit(&self, endpoint: Endpoint) {
        self.counter(endpoint).fetch_add(1, Ordering::SeqCst);
    }

    fn counter(&self, endpoint: Endpoint) -> &AtomicU64 {
        match endpoint {
            Endpoint::Discovery => &self.discovery,
            Endpoint::Jwks => &self.jwks,
            Endpoint::Token => &self.token,
        }
    }
}

/// The last request received by the token endpoint, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequestRecord {
    /// Form fields in body order (decoded).
    pub form: Vec<(String, String)>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The `DPoP` header, if any.
    pub dpop: Option<String>,
}

impl TokenRequestRecord {
    /// The first value of form field `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// State shared by the server tasks and the [`DevTenant`] handle.
pub(crate) struct State {
    pub(crate) issuer: String,
    pub(crate) token_endpoint: String,
    pub(crate) jwks_uri: String,
    pub(crate) clients: Vec<ClientConfig>,
    pub(crate) max_age: Option<u64>,
    pub(crate) connections: Vec<(String, String)>,
    pub(crate) profiles: Vec<(String, ExchangeProfile)>,
    pub(crate) keys: RwLock<KeyStore>,
    pub(crate) faults: Mutex<HashMap<Endpoint, Fault>>,
    pub(crate) discovery_overrides: Mutex<Map<String, Value>>,
    pub(crate) counters: Counters,
    pub(crate) last_token_request: Mutex<Option<TokenRequestRecord>>,
    /// Refresh tokens issued by custom exchanges: token -> `sub`.
    pub(crate) refresh_tokens: Mutex<HashMap<String, String>>,
    /// Organizations, as `(org_id, org_name)`.
    pub(crate) organizations: Vec<(String, String)>,
    /// APIs whose access tokens are encrypted: audience and the API's public key.
    pub(crate) encryption: Vec<(String, JweEncrypter)>,
    /// Clients whose tokens are certificate-bound: client id and `x5t#S256`.
    pub(crate) certificate_bindings: Vec<(String, String)>,
}

impl State {
    /// The first registered audience, or `https://api.example.com`.
    pub(crate) fn default_audience(&self) -> String {
        self.clients
            .iter()
            .flat_map(|c| c.audiences.iter())
            .next()
            .cloned()
            .unwrap_or_else(|| "https://api.example.com".to_owned())
    }

    pub(crate) fn client(&self, id: &str) -> Option<&ClientConfig> {
        self.clients.iter().find(|c| c.id == id)
    }

    pub(crate) fn fault(&self, endpoint: Endpoint) -> Option<Fault> {
        lock(&self.faults).get(&endpoint).cloned()
    }
}

/// Configures and starts a [`DevTenant`]; see [`DevTenant::builder`].
#[must_use = "a builder does nothing until started"]
#[derive(Debug)]
pub struct DevTenantBuilder {
    clients: Vec<ClientConfig>,
    host: String,
    port: u16,
    max_age: Option<u64>,
    connections: Vec<(String, String)>,
    profiles: Profiles,
    organizations: Vec<(String, String)>,
    encryption: Vec<(String, String)>,
    certificate_bindings: Vec<(String, String)>,
}

/// The registered exchange profiles, shown by their subject token types (the mappings are
/// closures).
#[derive(Default)]
struct Profiles(Vec<(String, ExchangeProfile)>);

impl std::fmt::Debug for Profiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(t, _)| t))
            .finish()
    }
}

impl Default for DevTenantBuilder {
    fn default() -> Self {
        DevTenantBuilder {
            clients: Vec::new(),
            host: "127.0.0.1".to_owned(),
            port: 0,
            max_age: None,
            connections: Vec::new(),
            profiles: Profiles::default(),
            organizations: Vec::new(),
            encryption: Vec::new(),
            certificate_bindings: Vec::new(),
        }
    }
}

impl DevTenantBuilder {
    /// Registers a confidential client authenticating with a shared secret
    /// (HTTP Basic or form fields), allowed to get tokens for `audiences`.
    pub fn client<A, S>(
        self,
        id: impl Into<String>,
        secret: impl Into<String>,
        audiences: A,
    ) -> Self
    where
        A: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.register(id.into(), Some(secret.into()), None, audiences)
    }

    /// Registers a client authenticating with `private_key_jwt` (RFC 7523):
    /// `public_jwk` is an RSA (RS256) or EC P-256 (ES256) public JWK.
    pub fn client_with_jwk<A, S>(
        self,
        id: impl Into<String>,
        public_jwk: Value,
        audiences: A,
    ) -> Self
    where
        A: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.register(id.into(), None, Some(public_jwk), audiences)
    }

    /// Registers a client with one of its credentials.
    fn register<A, S>(
        mut self,
        id: String,
        secret: Option<String>,
        jwk: Option<Value>,
        audiences: A,
    ) -> Self
    where
        A: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.clients.push(ClientConfig {
            id,
            secret,
            jwk,
            audiences: audiences.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// The issuer host name: `127.0.0.1` (default) or `localhost`. The
    /// server always listens on 127.0.0.1.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The port to listen on (default 0: a random free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// `Cache-Control: public, max-age=N` on discovery and JWKS responses
    /// (`None`, the default, sends no such header).
    pub fn max_age(mut self, max_age: Option<u64>) -> Self {
        self.max_age = max_age;
        self
    }

    /// Registers a federated connection whose token exchange returns
    /// `upstream_token` as the access token.
    pub fn connection(
        mut self,
        name: impl Into<String>,
        upstream_token: impl Into<String>,
    ) -> Self {
        self.connections.push((name.into(), upstream_token.into()));
        self
    }

    /// Accepts `subject_token_type` in RFC 8693 token exchange, mapping the
    /// subject token to a `sub` with `map` (`None` -> `invalid_grant`).
    pub fn exchange_profile<F>(mut self, subject_token_type: impl Into<String>, map: F) -> Self
    where
        F: Fn(&str) -> Option<String> + Send + Sync + 'static,
    {
        self.profiles
            .0
            .push((subject_token_type.into(), Arc::new(map)));
        self
    }

    /// Registers an Auth0 Organization (`id` like `org_abc`, `name` lower case). A
    /// `client_credentials` or token-exchange request with `organization=<id or name>` gets a
    /// token with `org_id` and `org_name`; an unknown organization is `400 invalid_request`.
    pub fn organization(mut self, id: impl Into<String>, name: impl Into<String>) -> Self {
        self.organizations.push((id.into(), name.into()));
        self
    }

    /// Binds every access token the token endpoint issues to `client_id` to this client
    /// certificate (DER): `cnf.x5t#S256` (RFC 8705 section 3), next to `cnf.jkt` for a DPoP
    /// request, as Auth0 binds the tokens of a client that authenticates with mutual TLS.
    pub fn bind_client_tokens_to_certificate(
        mut self,
        client_id: impl Into<String>,
        certificate_der: &[u8],
    ) -> Self {
        self.certificate_bindings
            .push((client_id.into(), crate::mtls::x5t_s256(certificate_der)));
        self
    }

    /// Encrypts every access token the token endpoint issues for `audience` to this RSA public
    /// key (SPKI PEM), as Auth0's access token encryption does: a nested JWT in a compact JWE,
    /// `RSA-OAEP-256` + `A256GCM` ([`crate::jwe`]). Checked in [`start`](Self::start).
    pub fn encrypt_access_tokens(
        mut self,
        audience: impl Into<String>,
        public_key_pem: impl Into<String>,
    ) -> Self {
        self.encryption
            .push((audience.into(), public_key_pem.into()));
        self
    }

    /// Generates keys and certificates, binds `127.0.0.1:port`, writes the CA
    /// PEM to a temporary file and starts serving.
    ///
    /// # Errors
    /// If binding, certificate or key generation, or writing the CA fails.
    pub async fn start(self) -> Result<DevTenant, Error> {
        if self.host.is_empty() || self.host.contains(['/', ':', '@', '?', '#', ' ']) {
            return Err(Error::Config(format!("invalid host {:?}", self.host)));
        }
        let encryption = self
            .encryption
            .iter()
            .map(|(aud, pem)| Ok((aud.clone(), JweEncrypter::from_public_key_pem(pem)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        let tls_material = tls::generate(&self.host)?;
        let keys = KeyStore::new()?;
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await?;
        let addr = listener.local_addr()?;
        let domain = format!("{}:{}", self.host, addr.port());
        let issuer = format!("https://{domain}/");

        let dir = std::env::temp_dir().join(format!(
            "auth0-api-dev-tenant-{}-{}",
            std::process::id(),
            addr.port()
        ));
        std::fs::create_dir_all(&dir)?;
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, &tls_material.ca_pem)?;

        let state = Arc::new(State {
            token_endpoint: format!("{issuer}oauth/token"),
            jwks_uri: format!("{issuer}.well-known/jwks.json"),
            issuer,
            clients: self.clients,
            max_age: self.max_age,
            connections: self.connections,
            profiles: self.profiles.0,
            keys: RwLock::new(keys),
            faults: Mutex::new(HashMap::new()),
            discovery_overrides: Mutex::new(Map::new()),
            counters: Counters::default(),
            last_token_request: Mutex::new(None),
            refresh_tokens: Mutex::new(HashMap::new()),
            organizations: self.organizations,
            encryption,
            certificate_bindings: self.certificate_bindings,
        });
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let acceptor = tokio_rustls::TlsAcceptor::from(tls_material.server_config);
        let task = server::spawn(listener, acceptor, Arc::clone(&state), shutdown_rx);
        tracing::debug!(issuer = %state.issuer, "dev tenant started");
        Ok(DevTenant {
            state,
            addr,
            domain,
            ca_pem: tls_material.ca_pem,
            ca_dir: dir,
            ca_path,
            shutdown: shutdown_tx,
            task: Mutex::new(Some(task)),
        })
    }
}

/// A running local Auth0-compatible tenant (HTTPS on 127.0.0.1).
///
/// Stops on [`stop`](Self::stop) or when dropped (the server task is
/// aborted and the CA temp directory removed).
///
/// ```no_run
/// # async fn demo() -> Result<(), auth0_api_dev_tenant::Error> {
/// use auth0_api_dev_tenant::{DevTenant, Endpoint, Fault};
/// use serde_json::json;
///
/// let tenant = DevTenant::builder()
///     .client("mcp-server", "mcp-secret", ["https://calendar-api.example.com"])
///     .max_age(Some(600))
///     .connection("google-oauth2", "upstream-google-token")
///     .exchange_profile("urn:acme:legacy-token", |t: &str| {
///         t.strip_prefix("legacy:").map(str::to_owned)
///     })
///     .start()
///     .await?;
///
/// // A token signed by the active key, with extra claims.
/// let token = tenant.mint().sub("user_1").claim("scope", json!("read")).sign();
///
/// // Rotate keys.
/// let next = tenant.add_key();
/// tenant.activate_key(&next);
///
/// // Make the JWKS endpoint fail.
/// tenant.set_fault(Endpoint::Jwks, Some(Fault::Status(503)));
/// # let _ = token;
/// tenant.stop().await;
/// # Ok(())
/// # }
/// ```
pub struct DevTenant {
    state: Arc<State>,
    addr: SocketAddr,
    domain: String,
    ca_pem: String,
    ca_dir: PathBuf,
    ca_path: PathBuf,
    shutdown: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for DevTenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevTenant")
            .field("issuer", &self.state.issuer)
            .field("addr", &self.addr)
            .field("ca_path", &self.ca_path)
            .finish()
    }
}

impl DevTenant {
    /// A builder with no clients, host `127.0.0.1`, a random port and no
    /// `Cache-Control` header.
    pub fn builder() -> DevTenantBuilder {
        DevTenantBuilder::default()
    }

    /// The issuer URL, `https://HOST:PORT/` (with the trailing slash, as Auth0).
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The Auth0 "domain": `HOST:PORT`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The socket address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA certificate (PEM) that signed the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Path of a temporary file holding [`ca_pem`](Self::ca_pem).
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// `https://HOST:PORT/oauth/token`.
    pub fn token_endpoint(&self) -> &str {
        &self.state.token_endpoint
    }

    /// `https://HOST:PORT/.well-known/jwks.json`.
    pub fn jwks_uri(&self) -> &str {
        &self.state.jwks_uri
    }

    /// `https://HOST:PORT/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}.well-known/openid-configuration", self.state.issuer)
    }

    /// The discovery document as currently served (overrides applied).
    pub fn discovery_document(&self) -> Value {
        server::discovery_document(&self.state)
    }

    /// The JWKS as currently served.
    pub fn jwks(&self) -> Value {
        crate::tenant::read(&self.state.keys).jwks()
    }

    /// Request counts since start or the last [`reset_stats`](Self::reset_stats).
    pub fn stats(&self) -> Stats {
        let c = &self.state.counters;
        Stats {
            discovery: c.discovery.load(Ordering::SeqCst),
            jwks: c.jwks.load(Ordering::SeqCst),
            token: c.token.load(Ordering::SeqCst),
        }
    }

    /// Sets all request counts to zero.
    pub fn reset_stats(&self) {
        let c = &self.state.counters;
        c.discovery.store(0, Ordering::SeqCst);
        c.jwks.store(0, Ordering::SeqCst);
        c.token.store(0, Ordering::SeqCst);
    }

    /// The `kid` of the key that signs issued and minted tokens.
    pub fn active_kid(&self) -> String {
        read(&self.state.keys).active_kid().to_owned()
    }

    /// The public key `kid` as PEM (`PUBLIC KEY`), for static-key configurations; `None` for
    /// an unknown `kid` or the fixed 1024-bit test key.
    pub fn public_key_pem(&self, kid: &str) -> Option<String> {
        read(&self.state.keys).get(kid)?.public_key_pem()
    }

    /// A self-signed certificate of key `kid` as PEM (`CERTIFICATE`), as the Auth0 dashboard
    /// offers its signing certificate; `None` for an unknown `kid` or the fixed test key.
    pub fn signing_certificate_pem(&self, kid: &str) -> Option<String> {
        read(&self.state.keys)
            .get(kid)?
            .certificate_pem(&self.state.issuer)
    }

    /// Generates an RSA-2048 key, publishes it in the JWKS (not active) and
    /// returns its `kid`.
    ///
    /// # Panics
    /// If key generation fails (see [`add_key_with_bits`](Self::add_key_with_bits)).
    pub fn add_key(&self) -> String {
        infallible(self.add_key_with_bits(2048))
    }

    /// Like [`add_key`](Self::add_key) with another size: 2048, 3072, 4096
    /// or 8192 bits are generated by aws-lc-rs; 1024 bits (refused by
    /// aws-lc-rs) uses a fixed, publicly known test key under a fresh `kid`,
    /// so a correctly signed token under an undersized key can be made.
    ///
    /// # Errors
    /// [`Error::UnsupportedKeySize`] for other sizes, [`Error::Crypto`] if
    /// generation fails.
    pub fn add_key_with_bits(&self, bits: usize) -> Result<String, Error> {
        let entry = KeyEntry::generate(bits)?;
        Ok(write(&self.state.keys).add(entry))
    }

    /// Makes `kid` the signing key for issued and minted tokens. Returns
    /// false (and changes nothing) if no such key exists.
    pub fn activate_key(&self, kid: &str) -> bool {
        write(&self.state.keys).activate(kid)
    }

    /// Removes `kid` from the JWKS (also raw JWKs published with that `kid`).
    /// The key can still sign via [`TokenBuilder::signing_kid`], and stays
    /// the signing key if it was active. Returns false if nothing matched.
    pub fn retire_key(&self, kid: &str) -> bool {
        write(&self.state.keys).retire(kid)
    }

    /// Adds an arbitrary JWK object to the JWKS (for attack tests).
    pub fn publish_raw_jwk(&self, jwk: Value) {
        write(&self.state.keys).publish_raw(jwk);
    }

    /// Makes `endpoint` misbehave (`None` restores normal behavior).
    pub fn set_fault(&self, endpoint: Endpoint, fault: Option<Fault>) {
        let mut faults = lock(&self.state.faults);
        match fault {
            Some(f) => {
                faults.insert(endpoint, f);
            }
            None => {
                faults.remove(&endpoint);
            }
        }
    }

    /// Merges `overrides` over the normal discovery document: a member
    /// replaces the normal value, `Value::Null` deletes the member. Replaces
    /// earlier overrides; an empty map restores the normal document.
    pub fn set_discovery_overrides(&self, overrides: Map<String, Value>) {
        *lock(&self.state.discovery_overrides) = overrides;
    }

    /// The last request received by the token endpoint.
    pub fn last_token_request(&self) -> Option<TokenRequestRecord> {
        lock(&self.state.last_token_request).clone()
    }

    /// Starts minting a token; see [`TokenBuilder`].
    pub fn mint(&self) -> TokenBuilder {
        TokenBuilder::new(Arc::clone(&self.state))
    }

    /// Stops accepting connections, lets in-flight requests finish (at most
    /// 2 s) and waits for the server task. Idempotent.
    pub async fn stop(&self) {
        let _ = self.shutdown.send(true);
        let task = lock(&self.task).take();
        if let Some(task) = task {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for DevTenant {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
        let _ = std::fs::remove_dir_all(&self.ca_dir);
    }
}
