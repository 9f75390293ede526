//! Prometheus metrics: request counters and latency histograms kept in memory by the HTTP
//! layer, job durations kept by the jobs, and the text exposition format (version 0.0.4)
//! written by hand — a dozen families do not need a registry crate. The gauges read at scrape
//! time (store, index, backups) are gathered in `http::metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, seconds.
pub const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Methods kept as label values; anything else is `other` (a client must not be able to
/// create label values at will).
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// One histogram: cumulative counts are computed when rendering.
#[derive(Default, Clone)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut Exposition, name: &str, labels: &[(&str, &str)]) {
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(self.buckets) {
            cumulative += n;
            let le = bound.to_string();
            let mut l = labels.to_vec();
            l.push(("le", &le));
            out.sample(&format!("{name}_bucket"), &l, cumulative as f64);
        }
        let mut l = labels.to_vec();
        l.push(("le", "+Inf"));
        out.sample(&format!("{name}_bucket"), &l, self.count as f64);
        out.sample(&format!("{name}_sum"), labels, self.sum);
        out.sample(&format!("{name}_count"), labels, self.count as f64);
    }
}

/// Requests of one route and method.
#[derive(Default)]
struct RouteSeries {
    /// By status class: 1xx … 5xx.
    by_class: [u64; 5],
    latency: Histogram,
}

/// What the process measured since it started.
#[derive(Default)]
pub struct Metrics {
    /// Route → method → series (nested so that a known route is found without allocating).
    requests: Mutex<BTreeMap<String, BTreeMap<&'static str, RouteSeries>>>,
    jobs: Mutex<BTreeMap<&'static str, Histogram>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The label value of a method.
pub fn method_label(method: &str) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

impl Metrics {
    /// One finished request. `route` is the router's matched pattern (`/api/v1/customers/{id}`)
    /// or `unmatched`, never the raw path: ids must not become label values.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let class = usize::from((status / 100).clamp(1, 5)) - 1;
        let method = method_label(method);
        let mut map = lock(&self.requests);
        let by_method = match map.get_mut(route) {
            Some(m) => m,
            None => map.entry(route.to_string()).or_default(),
        };
        let series = by_method.entry(method).or_default();
        series.by_class[class] += 1;
        series.latency.observe(elapsed.as_secs_f64());
    }

    /// One run of a background job (`sweep`, `import`).
    pub fn observe_job(&self, job: &'static str, elapsed: Duration) {
        lock(&self.jobs)
            .entry(job)
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// Writes the request and job families.
    pub fn render(&self, out: &mut Exposition) {
        let requests = lock(&self.requests);
        out.family(
            "zhudai_http_requests_total",
            "counter",
            "HTTP requests answered, by matched route, method and status class",
        );
        for (route, method, s) in requests
            .iter()
            .flat_map(|(r, m)| m.iter().map(move |(method, s)| (r, method, s)))
        {
            for (i, n) in s.by_class.iter().enumerate() {
                if *n > 0 {
                    let class = format!("{}xx", i + 1);
                    out.sample(
                        "zhudai_http_requests_total",
                        &[("route", route), ("method", method), ("status", &class)],
                        *n as f64,
                    );
                }
            }
        }
        out.family(
            "zhudai_http_request_duration_seconds",
            "histogram",
            "Time from receiving a request to its response head, by matched route and method",
        );
        for (route, method, s) in requests
            .iter()
            .flat_map(|(r, m)| m.iter().map(move |(method, s)| (r, method, s)))
        {
            s.latency.render(
                out,
                "zhudai_http_request_duration_seconds",
                &[("route", route), ("method", method)],
            );
        }
        drop(requests);
        out.family(
            "zhudai_job_duration_seconds",
            "histogram",
            "Duration of background job runs since start: pool recall sweeps and imports",
        );
        for (job, h) in lock(&self.jobs).iter() {
            h.render(out, "zhudai_job_duration_seconds", &[("job", job)]);
        }
    }
}

/// A text exposition being written: `family` (HELP and TYPE) before its samples.
#[derive(Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.text, "{k}=\"{v}\"");
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", format_value(value));
    }

    /// A family with one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    pub fn finish(self) -> String {
        self.text
    }
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_render_as_counters_and_cumulative_histograms() {
        let m = Metrics::default();
        m.observe_request(
            "/api/v1/customers/{id}",
            "GET",
            200,
            Duration::from_millis(3),
        );
        m.observe_request(
            "/api/v1/customers/{id}",
            "GET",
            404,
            Duration::from_millis(70),
        );
        m.observe_request("unmatched", "BREW", 404, Duration::from_secs(100));
        let mut out = Exposition::default();
        m.render(&mut out);
        let text = out.finish();
        assert!(text.contains(
            "zhudai_http_requests_total{route=\"/api/v1/customers/{id}\",method=\"GET\",status=\"2xx\"} 1\n"
        ));
        assert!(text.contains(
            "zhudai_http_requests_total{route=\"unmatched\",method=\"other\",status=\"4xx\"} 1\n"
        ));
        // 3 ms falls in le=0.005, 70 ms in le=0.1: cumulative 1 then 2.
        assert!(text.contains("route=\"/api/v1/customers/{id}\",method=\"GET\",le=\"0.005\"} 1\n"));
        assert!(text.contains("route=\"/api/v1/customers/{id}\",method=\"GET\",le=\"0.1\"} 2\n"));
        // 100 s is above every bound: only +Inf and the count hold it.
        assert!(text.contains("route=\"unmatched\",method=\"other\",le=\"30\"} 0\n"));
        assert!(text.contains("route=\"unmatched\",method=\"other\",le=\"+Inf\"} 1\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut out = Exposition::default();
        out.sample("x", &[("a", "q\"b\\c\nd")], 1.0);
        assert_eq!(out.finish(), "x{a=\"q\\\"b\\\\c\\nd\"} 1\n");
    }
}
