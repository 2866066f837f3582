//! The bench's results: the table of measurements, the performance targets marked met
//! or missed, and the same as JSON.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use super::build::CriterionFigures;
use super::load::LoadResult;

/// Requests/s of an example divided by its floor's must be at least this.
const MIN_THROUGHPUT_RATIO: f64 = 0.90;

/// p99 latency of an example divided by its floor's must be at most this.
const MAX_P99_RATIO: f64 = 1.5;

/// Peak RSS must stay below this many bytes (12 MB, decimal megabytes).
const MAX_PEAK_RSS_BYTES: f64 = 12e6;

/// The median cold start must stay below this.
const MAX_COLD_START: Duration = Duration::from_millis(10);

/// Verify, parse and reply in-process must take less than this many nanoseconds.
const MAX_VERIFY_PARSE_REPLY_NS: f64 = 5_000.0;

/// Generator CPU time over wall time from which the generator counts as the bottleneck.
const GENERATOR_BOTTLENECK: f64 = 0.90;

/// The kind of a measured server, which decides what it is compared with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// A bare server of a framework, the floor its example is compared with.
    Floor,
    /// An example server, compared with the named floor.
    Example { floor: String },
    /// A webhook given with `--against`, measured under load only.
    Other { url: String },
}

/// Everything measured for one server.
#[derive(Debug)]
pub struct Measurement {
    pub name: String,
    pub role: Role,
    pub load: LoadResult,
    /// The server's CPU time during the measured load, when the bench owns its process.
    pub server_cpu: Option<Duration>,
    pub peak_rss_kib: Option<u64>,
    /// Spawn to first 200, one per start; empty when not measured.
    pub cold_starts: Vec<Duration>,
}

impl Measurement {
    fn latency_micros(&self, quantile: f64) -> f64 {
        self.load.latency.value_at_quantile(quantile) as f64 / 1_000.0
    }

    fn max_latency_micros(&self) -> f64 {
        self.load.latency.max() as f64 / 1_000.0
    }

    fn peak_rss_bytes(&self) -> Option<f64> {
        self.peak_rss_kib.map(|kib| kib as f64 * 1024.0)
    }

    fn cold_start_median(&self) -> Option<Duration> {
        median(&self.cold_starts)
    }

    fn server_load(&self) -> Option<f64> {
        self.server_cpu
            .map(|cpu| cpu.as_secs_f64() / self.load.elapsed.as_secs_f64().max(f64::EPSILON))
    }

    /// Returns the server's CPU time per complete response, in microseconds.
    fn server_cpu_per_request_micros(&self) -> Option<f64> {
        self.server_cpu
            .map(|cpu| cpu.as_secs_f64() * 1e6 / (self.load.responses.max(1) as f64))
    }

    fn generator_bound(&self) -> bool {
        self.load.generator_load() >= GENERATOR_BOTTLENECK
    }
}

/// The whole run: settings, machine, measurements and the criterion figures.
#[derive(Debug)]
pub struct Report {
    pub date: String,
    pub command: String,
    pub cores: usize,
    pub cpu_model: String,
    pub duration: Duration,
    pub warm_up: Duration,
    pub connections: usize,
    pub pool_size: usize,
    pub mean_body_bytes: usize,
    pub measurements: Vec<Measurement>,
    pub criterion: Result<CriterionFigures, String>,
    pub elapsed: Duration,
}

/// Whether a target was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    NotMeasured,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::Missed => "missed",
            Self::NotMeasured => "not measured",
        }
    }

    fn from_check(value: Option<f64>, passes: impl Fn(f64) -> bool) -> Self {
        match value {
            Some(value) if passes(value) => Self::Met,
            Some(_) => Self::Missed,
            None => Self::NotMeasured,
        }
    }
}

/// One performance target checked against the run.
#[derive(Clone, Debug)]
pub struct TargetCheck {
    pub figure: String,
    pub value: Option<f64>,
    pub shown: String,
    pub target: String,
    pub verdict: Verdict,
    pub note: Option<String>,
}

impl Report {
    /// Checks every performance target: per example the ratios to its floor, its peak
    /// RSS and its cold start, then the criterion figure.
    pub fn checks(&self) -> Vec<TargetCheck> {
        let mut checks = Vec::new();
        for example in &self.measurements {
            let Role::Example { floor } = &example.role else {
                continue;
            };
            let floor = self
                .measurements
                .iter()
                .find(|measured| measured.name == *floor);
            let failed_requests = example.load.errors + example.load.non_200_total();
            let invalid = (failed_requests > 0).then(|| {
                format!("{failed_requests} requests failed or got a status other than 200, so the load figures are not those of the normal path")
            });

            let throughput = floor.map(|floor| {
                example.load.requests_per_second()
                    / floor.load.requests_per_second().max(f64::EPSILON)
            });
            let mut verdict =
                Verdict::from_check(throughput, |ratio| ratio >= MIN_THROUGHPUT_RATIO);
            if invalid.is_some() && verdict == Verdict::Met {
                verdict = Verdict::Missed;
            }
            checks.push(TargetCheck {
                figure: format!("{} requests/s ÷ {}", example.name, floor_name(floor)),
                value: throughput,
                shown: throughput.map_or_else(|| "-".to_owned(), |ratio| format!("{ratio:.2}")),
                target: format!("≥ {MIN_THROUGHPUT_RATIO:.2}"),
                verdict,
                note: invalid.clone(),
            });

            let p99 = floor.map(|floor| {
                example.latency_micros(0.99) / floor.latency_micros(0.99).max(f64::EPSILON)
            });
            let mut verdict = Verdict::from_check(p99, |ratio| ratio <= MAX_P99_RATIO);
            if invalid.is_some() && verdict == Verdict::Met {
                verdict = Verdict::Missed;
            }
            checks.push(TargetCheck {
                figure: format!("{} p99 ÷ {} p99", example.name, floor_name(floor)),
                value: p99,
                shown: p99.map_or_else(|| "-".to_owned(), |ratio| format!("{ratio:.2}")),
                target: format!("≤ {MAX_P99_RATIO:.1}"),
                verdict,
                note: invalid,
            });

            let rss = example.peak_rss_bytes();
            checks.push(TargetCheck {
                figure: format!("{} peak RSS after the load run", example.name),
                value: rss,
                shown: rss.map_or_else(|| "-".to_owned(), format_megabytes),
                target: format!("< {}", format_megabytes(MAX_PEAK_RSS_BYTES)),
                verdict: Verdict::from_check(rss, |bytes| bytes < MAX_PEAK_RSS_BYTES),
                note: None,
            });

            let cold = example
                .cold_start_median()
                .map(|median| median.as_secs_f64() * 1e3);
            checks.push(TargetCheck {
                figure: format!(
                    "{} start to first 200, median of {}",
                    example.name,
                    example.cold_starts.len()
                ),
                value: cold,
                shown: cold.map_or_else(|| "-".to_owned(), |millis| format!("{millis:.1} ms")),
                target: format!("< {} ms", MAX_COLD_START.as_millis()),
                verdict: Verdict::from_check(cold, |millis| {
                    millis < MAX_COLD_START.as_secs_f64() * 1e3
                }),
                note: None,
            });
        }

        let (value, note) = match &self.criterion {
            Ok(figures) => (Some(figures.verify_parse_reply_ns), None),
            Err(reason) => (None, Some(reason.clone())),
        };
        checks.push(TargetCheck {
            figure: "verify + parse + reply, in-process (criterion mean)".to_owned(),
            value,
            shown: value.map_or_else(|| "-".to_owned(), |nanos| format!("{:.2} µs", nanos / 1e3)),
            target: format!("< {:.0} µs", MAX_VERIFY_PARSE_REPLY_NS / 1e3),
            verdict: Verdict::from_check(value, |nanos| nanos < MAX_VERIFY_PARSE_REPLY_NS),
            note,
        });
        checks
    }

    /// Writes the report as markdown: the settings, the table of measurements, the
    /// targets and notes.
    pub fn markdown(&self, checks: &[TargetCheck]) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Run {} on {} cores ({}): `{}`; {} keep-alive connections, {} s warm-up, {} s measured per server, \
             {} distinct signed requests of {} bytes of body on average.\n",
            self.date,
            self.cores,
            self.cpu_model,
            self.command,
            self.connections,
            self.warm_up.as_secs(),
            self.duration.as_secs(),
            self.pool_size,
            self.mean_body_bytes
        );
        out.push_str(
            "| server | requests/s | p50 µs | p90 µs | p99 µs | max µs | errors | non-200 | peak RSS | cold start (median) | server CPU | server CPU per request | generator CPU |\n",
        );
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for measured in &self.measurements {
            let generator = format!(
                "{:.0} %{}",
                measured.load.generator_load() * 100.0,
                if measured.generator_bound() {
                    " (bottleneck)"
                } else {
                    ""
                }
            );
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
                measured.name,
                measured.load.requests_per_second(),
                measured.latency_micros(0.50),
                measured.latency_micros(0.90),
                measured.latency_micros(0.99),
                measured.max_latency_micros(),
                measured.load.errors,
                measured.load.non_200_total(),
                measured
                    .peak_rss_bytes()
                    .map_or_else(|| "-".to_owned(), format_megabytes),
                measured.cold_start_median().map_or_else(
                    || "-".to_owned(),
                    |median| format!("{:.1} ms", median.as_secs_f64() * 1e3)
                ),
                measured
                    .server_load()
                    .map_or_else(|| "-".to_owned(), |load| format!("{:.0} %", load * 100.0)),
                measured
                    .server_cpu_per_request_micros()
                    .map_or_else(|| "-".to_owned(), |micros| format!("{micros:.1} µs")),
                generator,
            );
        }

        out.push_str("\n| target | value | limit | result |\n|---|---:|---:|---|\n");
        for check in checks {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                check.figure,
                check.shown,
                check.target,
                check.verdict.as_str()
            );
        }

        let mut notes = Vec::new();
        let escaped = self
            .criterion
            .as_ref()
            .ok()
            .and_then(|figures| figures.verify_parse_reply_escaped_ns);
        if let Some(escaped) = escaped {
            notes.push(format!(
                "The same in-process work over a body whose text is all non-ASCII (signature over the escaped form) takes {:.2} µs.",
                escaped / 1e3
            ));
        }
        for check in checks {
            if let Some(note) = &check.note {
                notes.push(format!("{}: {note}.", check.figure));
            }
        }
        for measured in &self.measurements {
            if measured.generator_bound() {
                notes.push(format!(
                    "{}: the load generator used {:.0} % of a core, so it may have limited the rate; the figure is a lower bound.",
                    measured.name,
                    measured.load.generator_load() * 100.0
                ));
            }
            if let Some(error) = &measured.load.first_error {
                notes.push(format!("{}: first error: {error}.", measured.name));
            }
            if !measured.load.non_200.is_empty() {
                let statuses: Vec<String> = measured
                    .load
                    .non_200
                    .iter()
                    .map(|(status, count)| format!("{count} × {status}"))
                    .collect();
                notes.push(format!(
                    "{}: responses other than 200: {}.",
                    measured.name,
                    statuses.join(", ")
                ));
            }
        }
        if !notes.is_empty() {
            out.push('\n');
            for note in notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }

    /// Returns the report as JSON, with every cold start and the checks.
    pub fn to_json(&self, checks: &[TargetCheck]) -> Value {
        let servers: Vec<Value> = self
            .measurements
            .iter()
            .map(|measured| {
                let (role, compared_with, url) = match &measured.role {
                    Role::Floor => ("floor", None, None),
                    Role::Example { floor } => ("example", Some(floor.clone()), None),
                    Role::Other { url } => ("other", None, Some(url.clone())),
                };
                json!({
                    "name": measured.name,
                    "role": role,
                    "floor": compared_with,
                    "url": url,
                    "responses": measured.load.responses,
                    "requests_per_second": measured.load.requests_per_second(),
                    "latency_us": {
                        "p50": measured.latency_micros(0.50),
                        "p90": measured.latency_micros(0.90),
                        "p99": measured.latency_micros(0.99),
                        "max": measured.max_latency_micros(),
                    },
                    "errors": measured.load.errors,
                    "first_error": measured.load.first_error,
                    "non_200": measured.load.non_200.iter().map(|(status, count)| (status.to_string(), json!(count))).collect::<serde_json::Map<_, _>>(),
                    "elapsed_s": measured.load.elapsed.as_secs_f64(),
                    "peak_rss_bytes": measured.peak_rss_bytes(),
                    "cold_start_ms": measured.cold_starts.iter().map(|time| time.as_secs_f64() * 1e3).collect::<Vec<_>>(),
                    "cold_start_median_ms": measured.cold_start_median().map(|median| median.as_secs_f64() * 1e3),
                    "server_cpu_share": measured.server_load(),
                    "server_cpu_per_request_us": measured.server_cpu_per_request_micros(),
                    "generator_cpu_share": measured.load.generator_load(),
                    "generator_bound": measured.generator_bound(),
                })
            })
            .collect();
        let targets: Vec<Value> = checks
            .iter()
            .map(|check| {
                json!({
                    "figure": check.figure,
                    "value": check.value,
                    "limit": check.target,
                    "result": check.verdict.as_str(),
                    "note": check.note,
                })
            })
            .collect();
        let criterion = match &self.criterion {
            Ok(figures) => json!({
                "verify_parse_reply_ns": figures.verify_parse_reply_ns,
                "verify_parse_reply_escaped_ns": figures.verify_parse_reply_escaped_ns,
            }),
            Err(reason) => json!({ "not_measured": reason }),
        };
        json!({
            "date": self.date,
            "command": self.command,
            "machine": { "cores": self.cores, "cpu_model": self.cpu_model },
            "settings": {
                "duration_s": self.duration.as_secs_f64(),
                "warm_up_s": self.warm_up.as_secs_f64(),
                "connections": self.connections,
                "distinct_requests": self.pool_size,
                "mean_body_bytes": self.mean_body_bytes,
            },
            "servers": servers,
            "criterion": criterion,
            "targets": targets,
            "elapsed_s": self.elapsed.as_secs_f64(),
        })
    }
}

fn floor_name(floor: Option<&Measurement>) -> &str {
    floor.map_or("its floor", |floor| floor.name.as_str())
}

/// Formats bytes as decimal megabytes.
fn format_megabytes(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1e6)
}

/// Returns the median of `times`, or `None` when there are none.
fn median(times: &[Duration]) -> Option<Duration> {
    let mut sorted = times.to_vec();
    sorted.sort();
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        length if length % 2 == 1 => Some(sorted[middle]),
        _ => Some((sorted[middle - 1] + sorted[middle]) / 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        let millis = |values: &[u64]| {
            values
                .iter()
                .map(|&value| Duration::from_millis(value))
                .collect::<Vec<_>>()
        };
        assert_eq!(median(&millis(&[])), None);
        assert_eq!(median(&millis(&[7, 1, 3])), Some(Duration::from_millis(3)));
        assert_eq!(
            median(&millis(&[4, 1, 3, 8])),
            Some(Duration::from_micros(3_500))
        );
    }

    #[test]
    fn verdict_from_value() {
        assert_eq!(
            Verdict::from_check(Some(0.95), |ratio| ratio >= 0.9),
            Verdict::Met
        );
        assert_eq!(
            Verdict::from_check(Some(0.85), |ratio| ratio >= 0.9),
            Verdict::Missed
        );
        assert_eq!(
            Verdict::from_check(None, |ratio| ratio >= 0.9),
            Verdict::NotMeasured
        );
    }
}
