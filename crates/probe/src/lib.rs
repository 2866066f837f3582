//! A black-box conformance suite for partner webhooks: it plays the platform.
//!
//! Given the webhook's URL, optionally its streaming URL and its secret, [`run`] sends
//! what the real platform sends (realistic payloads, signed the way the platform
//! signs them, the platform's headers and its 8 s timeout) and returns a [`Report`]:
//! one [`Check`] per named check, each with pass or fail, one line naming what was
//! sent and what came back, the latency, and the request itself so that
//! [`SentRequest::to_curl`] can reproduce a failure.
//!
//! Two levels exist. [`Level::Platform`] asks only what the platform itself relies
//! on, so any correct webhook in any language passes it. [`Level::Reference`] adds what
//! the example servers of this workspace fix on top: exact statuses and error codes,
//! `/healthz`, and the bodies of 404 and 405 answers.
//!
//! ```no_run
//! # async fn example() {
//! use webhook_probe::{Level, Target, run};
//!
//! let target = Target {
//!     url: "http://127.0.0.1:8080/".to_owned(),
//!     stream_url: Some("http://127.0.0.1:8080/stream".to_owned()),
//!     secret: Some("my-webhook-secret".to_owned()),
//! };
//! let report = run(&target, Level::Platform).await;
//! for check in report.failures() {
//!     eprintln!("{}: {}", check.name, check.detail);
//! }
//! # }
//! ```

pub mod payload;
pub mod report;
pub mod sse;
mod suite;

use std::fmt;

pub use report::{Answer, Check, Outcome, Report, SentRequest, SignatureRecipe, TimestampSource};

/// The webhook under test.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL that returns a JSON reply, such as `http://127.0.0.1:8080/`.
    pub url: String,
    /// The URL that returns a stream of server-sent events, if the webhook has one.
    pub stream_url: Option<String>,
    /// The App's secret. Without it the suite sends unsigned requests and skips the
    /// signature checks.
    pub secret: Option<String>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.url)
            .field("stream_url", &self.stream_url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The strictness of the suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// The checks the platform relies on: any correct webhook passes.
    Platform,
    /// The platform level, plus the exact statuses, error codes and routes of this
    /// workspace's example servers.
    Reference,
}

/// Runs every check of `level` against `target`, one request at a time, and returns
/// the report. Each request has the platform's 8 s budget, so a webhook that never
/// responds makes the run last about 8 s per check.
pub async fn run(target: &Target, level: Level) -> Report {
    suite::run(target, level).await
}
