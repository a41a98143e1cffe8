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

/// A counter family keyed by its label values.
#[derive(Default)]
struct Family(Mutex<BTreeMap<Vec<String>, u64>>);

impl Family {
    fn inc(&self, labels: &[&str]) {
        if let Ok(mut map) = self.0.lock() {
            if let Some(v) =
                map.get_mut(&labels.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
            {
                *v += 1;
            } else {
                map.insert(labels.iter().map(|s| (*s).to_owned()).collect(), 1);
            }
        }
    }

    fn render(&self, out: &mut String, name: &str, help: &str, label_names: &[&str]) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        let Ok(map) = self.0.lock() else { return };
        for (values, count) in map.iter() {
            let labels: Vec<String> = label_names
                .iter()
                .zip(values)
                .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
                .collect();
            let _ = writeln!(out, "{name}{{{}}} {count}", labels.join(","));
        }
    }
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
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
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

/// Every metric of the gateway.
#[derive(Default)]
pub(crate) struct Metrics {
    requests: Family,
    latency: Histogram,
    verifications: Family,
    fetches: Family,
    cache: Family,
    replays: AtomicU64,
    nonce_challenges: AtomicU64,
}

impl Metrics {
    /// A request answered with `outcome` (`ok`, `public`, an OAuth error code, `bad_gateway`,
    /// `gateway_timeout`, `untrusted_proxy`) after `elapsed`.
    pub(crate) fn request(&self, outcome: &str, elapsed: Duration) {
        self.requests.inc(&[outcome]);
        self.latency.observe(elapsed);
    }

    /// The text exposition.
    pub(crate) fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        self.requests.render(
            &mut out,
            "auth0_gateway_requests_total",
            "Requests by outcome: ok, public, an OAuth error code or a gateway failure.",
            &["outcome"],
        );
        self.latency.render(
            &mut out,
            "auth0_gateway_request_duration_seconds",
            "Time to answer (proxy: until the upstream's response headers).",
        );
        self.verifications.render(
            &mut out,
            "auth0_api_verifications_total",
            "Library verifications by entry point and outcome.",
            &["entry", "outcome"],
        );
        self.fetches.render(
            &mut out,
            "auth0_api_fetches_total",
            "Discovery and JWKS loads by document, source and result.",
            &["document", "source", "result"],
        );
        self.cache.render(
            &mut out,
            "auth0_api_cache_lookups_total",
            "Cache lookups by cache and result.",
            &["cache", "result"],
        );
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
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        out
    }
}

impl Observer for Metrics {
    fn verification(&self, event: &Verification<'_>) {
        self.verifications
            .inc(&[event.entry.as_str(), event.outcome()]);
    }

    fn fetch(&self, event: &Fetch<'_>) {
        let source = match event.source {
            Source::Adapter => "adapter",
            _ => "network",
        };
        let result = if event.error.is_some() {
            "failure"
        } else {
            "ok"
        };
        self.fetches.inc(&[event.document.as_str(), source, result]);
    }

    fn cache(&self, event: &CacheLookup) {
        self.cache
            .inc(&[event.cache.as_str(), if event.hit { "hit" } else { "miss" }]);
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
    }
}
