//! Prometheus metrics: the gateway's own counters (requests by outcome, latency) and the
//! library's, fed by an [`Observer`] (document fetches and failures, cache hits, replay
//! rejections, nonce challenges). Rendered in the text exposition format on the metrics
//! listener. Labels are bounded: outcomes are OAuth error codes or the gateway's own few.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auth0_api::observe::{CacheLookup, Fetch, Observer, Source, Verification};

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A counter family over one label, keyed by its value (a lookup allocates nothing).
#[derive(Default)]
struct Family(Mutex<BTreeMap<String, u64>>);

impl Family {
    fn inc(&self, label: &str) {
        if let Ok(mut map) = self.0.lock() {
            match map.get_mut(label) {
                Some(v) => *v += 1,
                None => {
                    map.insert(label.to_owned(), 1);
                }
            }
        }
    }

    /// One sample line per value, `fixed` (`name="value",`) before the family's label.
    fn render(&self, out: &mut String, name: &str, fixed: &str, label: &str) {
        let Ok(map) = self.0.lock() else { return };
        for (value, count) in map.iter() {
            let _ = writeln!(
                out,
                "{name}{{{fixed}{label}=\"{}\"}} {count}",
                escape(value)
            );
        }
    }
}

/// Counters over a fixed set of label combinations.
struct Fixed<const N: usize>([AtomicU64; N]);

impl<const N: usize> Default for Fixed<N> {
    fn default() -> Self {
        Self(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl<const N: usize> Fixed<N> {
    fn inc(&self, i: usize) {
        if let Some(c) = self.0.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn get(&self, i: usize) -> u64 {
        self.0.get(i).map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A latency histogram.
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        header(out, name, help, "histogram");
        let mut cumulative = 0;
        for (b, c) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// The verification entry points, in label order.
const ENTRIES: [&str; 3] = ["request", "access_token", "dpop_proof"];
/// The caches (`Cache::as_str`), in label order.
const CACHES: [&str; 3] = ["verified_token", "discovery", "jwks"];
/// The documents (`Document::as_str`), in label order.
const DOCUMENTS: [&str; 2] = ["discovery", "jwks"];

/// Every metric of the gateway.
#[derive(Default)]
pub(crate) struct Metrics {
    requests: Family,
    latency: Histogram,
    /// By entry point (`ENTRIES`), then outcome.
    verifications: [Family; 3],
    /// document x source (network, adapter) x result (ok, failure).
    fetches: Fixed<8>,
    /// cache x (hit, miss).
    cache: Fixed<6>,
    replays: AtomicU64,
    nonce_challenges: AtomicU64,
}

impl Metrics {
    /// A request answered with `outcome` (`ok`, `public`, an OAuth error code, `bad_gateway`,
    /// `gateway_timeout`, `untrusted_proxy`) after `elapsed`.
    pub(crate) fn request(&self, outcome: &str, elapsed: Duration) {
        self.requests.inc(outcome);
        self.latency.observe(elapsed);
    }

    /// The text exposition.
    pub(crate) fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let name = "auth0_gateway_requests_total";
        header(
            &mut out,
            name,
            "Requests by outcome: ok, public, an OAuth error code or a gateway failure.",
            "counter",
        );
        self.requests.render(&mut out, name, "", "outcome");
        self.latency.render(
            &mut out,
            "auth0_gateway_request_duration_seconds",
            "Time to answer (proxy: until the upstream's response headers).",
        );
        let name = "auth0_api_verifications_total";
        header(
            &mut out,
            name,
            "Library verifications by entry point and outcome.",
            "counter",
        );
        for (entry, family) in ENTRIES.iter().zip(&self.verifications) {
            family.render(&mut out, name, &format!("entry=\"{entry}\","), "outcome");
        }
        let name = "auth0_api_fetches_total";
        header(
            &mut out,
            name,
            "Discovery and JWKS loads by document, source and result.",
            "counter",
        );
        for (d, document) in DOCUMENTS.iter().enumerate() {
            for (s, source) in ["network", "adapter"].iter().enumerate() {
                for (r, result) in ["ok", "failure"].iter().enumerate() {
                    let v = self.fetches.get(d * 4 + s * 2 + r);
                    let _ = writeln!(
                        out,
                        "{name}{{document=\"{document}\",source=\"{source}\",result=\"{result}\"}} {v}"
                    );
                }
            }
        }
        let name = "auth0_api_cache_lookups_total";
        header(
            &mut out,
            name,
            "Cache lookups by cache and result.",
            "counter",
        );
        for (c, cache) in CACHES.iter().enumerate() {
            for (h, result) in ["hit", "miss"].iter().enumerate() {
                let v = self.cache.get(c * 2 + h);
                let _ = writeln!(out, "{name}{{cache=\"{cache}\",result=\"{result}\"}} {v}");
            }
        }
        for (name, help, v) in [
            (
                "auth0_api_replay_rejections_total",
                "DPoP proofs refused as replays.",
                &self.replays,
            ),
            (
                "auth0_api_nonce_challenges_total",
                "use_dpop_nonce answers.",
                &self.nonce_challenges,
            ),
        ] {
            header(&mut out, name, help, "counter");
            let _ = writeln!(out, "{name} {}", v.load(Ordering::Relaxed));
        }
        out
    }
}

impl Observer for Metrics {
    fn verification(&self, event: &Verification<'_>) {
        if let Some(i) = ENTRIES.iter().position(|e| *e == event.entry.as_str()) {
            self.verifications[i].inc(event.outcome());
        }
    }

    fn fetch(&self, event: &Fetch<'_>) {
        let d = usize::from(event.document.as_str() == "jwks");
        let s = usize::from(matches!(event.source, Source::Adapter));
        let r = usize::from(event.error.is_some());
        self.fetches.inc(d * 4 + s * 2 + r);
    }

    fn cache(&self, event: &CacheLookup) {
        if let Some(c) = CACHES.iter().position(|c| *c == event.cache.as_str()) {
            self.cache.inc(c * 2 + usize::from(!event.hit));
        }
    }

    fn replay_rejected(&self) {
        self.replays.fetch_add(1, Ordering::Relaxed);
    }

    fn nonce_challenge(&self) {
        self.nonce_challenges.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        m.request("ok", Duration::from_millis(2));
        m.request("ok", Duration::from_millis(20));
        m.request("invalid_token", Duration::from_secs(20));
        m.replay_rejected();
        let text = m.render();
        assert!(
            text.contains("auth0_gateway_requests_total{outcome=\"ok\"} 2"),
            "{text}"
        );
        assert!(text.contains("auth0_gateway_requests_total{outcome=\"invalid_token\"} 1"));
        assert!(text.contains("auth0_gateway_request_duration_seconds_bucket{le=\"0.0025\"} 1"));
        assert!(text.contains("auth0_gateway_request_duration_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("auth0_api_replay_rejections_total 1"));
        assert!(text.contains(
            "auth0_api_fetches_total{document=\"jwks\",source=\"network\",result=\"ok\"} 0"
        ));
    }
}
