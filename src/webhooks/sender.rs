//! One HTTP attempt at a receiver: signed headers, no redirects, a deadline,
//! addresses checked after DNS, and only the start of the answer kept.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_TYPE, HeaderValue};

use super::address::{AddressPolicy, Refusal};
use super::schedule::Answer;
use super::signing::{SigningSecret, signature_header};

/// Bytes of a receiver's answer kept in the delivery log.
pub const RESPONSE_EXCERPT_BYTES: usize = 512;

/// How one attempt went.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status: Option<u16>,
    pub latency: Duration,
    /// Why there is no 2xx, in the service's words; `None` on success.
    pub error: Option<String>,
    /// The start of the receiver's body, as text.
    pub response: Option<String>,
}

impl Attempt {
    /// Whether the receiver answered 2xx.
    pub fn succeeded(&self) -> bool {
        Answer::from_status(self.status) == Answer::Success
    }

    /// The latency in whole milliseconds, as stored and shown.
    pub fn latency_ms(&self) -> i32 {
        i32::try_from(self.latency.as_millis()).unwrap_or(i32::MAX)
    }
}

/// What is sent: the message and the secrets that sign it.
pub struct Message<'a> {
    pub url: &'a str,
    pub webhook_id: &'a str,
    pub body: &'a str,
    pub secrets: &'a [&'a SigningSecret],
}

/// The HTTP client every delivery shares (connections are pooled per host).
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    policy: AddressPolicy,
}

impl Sender {
    pub fn new(policy: AddressPolicy, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("Attune-Webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(CheckedResolver { policy }))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self { http, policy })
    }

    pub fn policy(&self) -> AddressPolicy {
        self.policy
    }

    /// Sends `message` once, signed at `timestamp` (unix seconds).
    pub async fn send(&self, message: &Message<'_>, timestamp: i64) -> Attempt {
        let started = Instant::now();
        let failed =
            |error: String| Attempt { status: None, latency: started.elapsed(), error: Some(error), response: None };
        let url = match Url::parse(message.url) {
            Ok(url) => url,
            Err(_) => return failed("the endpoint URL does not parse".to_owned()),
        };
        // Literal addresses never reach the resolver, so they are checked here.
        if let Err(refusal) = self.policy.check_url(&url) {
            return failed(format!("refused: {refusal}"));
        }
        let signature = signature_header(message.secrets, message.webhook_id, timestamp, message.body);
        let request = self
            .http
            .post(url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("webhook-id", message.webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(message.body.to_owned());
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(err) => return failed(describe(&err)),
        };
        let status = response.status();
        let excerpt = read_excerpt(&mut response).await;
        Attempt {
            status: Some(status.as_u16()),
            latency: started.elapsed(),
            error: (!status.is_success()).then(|| format!("the receiver answered {status}")),
            response: excerpt,
        }
    }
}

/// Reads at most [`RESPONSE_EXCERPT_BYTES`] of the body, then lets it go.
async fn read_excerpt(response: &mut reqwest::Response) -> Option<String> {
    let mut kept = Vec::new();
    while kept.len() < RESPONSE_EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    kept.truncate(RESPONSE_EXCERPT_BYTES);
    (!kept.is_empty()).then(|| String::from_utf8_lossy(&kept).into_owned())
}

/// A transport error in words, without the URL (it may carry a token).
fn describe(err: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(inner) = source {
        if let Some(refusal) = inner.downcast_ref::<Refusal>() {
            return format!("refused: {refusal}");
        }
        source = inner.source();
    }
    if err.is_timeout() {
        "no answer within the time limit".to_owned()
    } else if err.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    }
}

/// Resolves names, then refuses any answer holding an internal address.
struct CheckedResolver {
    policy: AddressPolicy,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let ips: Vec<IpAddr> = found.iter().map(SocketAddr::ip).collect();
            policy.check_resolved(&ips)?;
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// Resolves `host` and checks it as a delivery would, for registration.
pub async fn check_host(policy: AddressPolicy, url: &Url) -> Result<(), Refusal> {
    policy.check_url(url)?;
    let Some(url::Host::Domain(name)) = url.host() else { return Ok(()) };
    let found = tokio::net::lookup_host((name, 0)).await.map_err(|_| Refusal::Unresolved)?;
    let ips: Vec<IpAddr> = found.map(|addr| addr.ip()).collect();
    policy.check_resolved(&ips)
}
