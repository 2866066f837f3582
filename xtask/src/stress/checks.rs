//! The rows each scenario adds to the summary table, from its measured result.

use std::time::Duration;

use super::flood::FloodResult;
use super::oversized::OversizedResult;
use super::report::Rows;
use super::requests::Kind;
use super::shutdown::ShutdownResult;
use super::slow::{PacedResult, SlowOutcome};
use super::{GRACE, OVERSIZED_UPLOADS, REQUESTS_IN_FLIGHT, STREAMS_IN_FLIGHT};

/// Adds the rows of a mixed-traffic run. `full` adds the figures for the record.
pub(super) fn check_flood(
    rows: &mut Rows,
    scenario: &'static str,
    result: &FloodResult,
    planned: u64,
    full: bool,
) {
    let exact = result.exact_total();
    let good = result.exact.get(&Kind::Good).copied().unwrap_or(0);
    let bad = exact - good;
    rows.check(
        scenario,
        "exact echo or exact error",
        format!("{exact} of {planned} ({good} good, {bad} bad)"),
        "all",
        exact == planned && result.sent == planned,
        result.examples.clone(),
    );

    rows.check(
        scenario,
        "5xx responses",
        result.server_errors.to_string(),
        "0",
        result.server_errors == 0,
        Vec::new(),
    );
    rows.check(
        scenario,
        "connection resets",
        result.resets.to_string(),
        "0",
        result.resets == 0,
        Vec::new(),
    );
    if full {
        check_flood_failures(rows, scenario, result);
    }
}

/// Adds the check of timeouts and early closes and the figures for the record.
pub(super) fn check_flood_failures(rows: &mut Rows, scenario: &'static str, result: &FloodResult) {
    rows.check(
        scenario,
        "timeouts and early closes",
        format!(
            "{} timeouts, {} closes, {} other",
            result.timeouts, result.closed, result.other_failures
        ),
        "0",
        result.timeouts + result.closed + result.other_failures == 0,
        Vec::new(),
    );

    let per_kind: Vec<String> = Kind::BAD
        .iter()
        .map(|kind| {
            let count = result.exact.get(kind).copied().unwrap_or(0);
            format!("{} {count}", kind.name())
        })
        .collect();
    rows.info(scenario, "bad requests by kind", per_kind.join(", "));
    rows.info(
        scenario,
        "throughput",
        format!(
            "{:.0} req/s over {:.1} s, {} connections opened",
            result.requests_per_second(),
            result.elapsed.as_secs_f64(),
            result.connects
        ),
    );
    let latency = &result.latency;
    rows.info(
        scenario,
        "good-request latency",
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            latency.value_at_quantile(0.5) as f64 / 1000.0,
            latency.value_at_quantile(0.99) as f64 / 1000.0,
            latency.max() as f64 / 1000.0
        ),
    );
}

pub(super) fn check_uploads(rows: &mut Rows, result: &OversizedResult) {
    rows.check(
        "oversized upload",
        "1 MiB + 1 byte sent in full: exact 413",
        format!(
            "{} of {OVERSIZED_UPLOADS}, {} resets, {} writes cut after the 413",
            result.exact, result.resets, result.writes_cut
        ),
        "all, 0 resets",
        result.exact == OVERSIZED_UPLOADS && result.resets == 0,
        result.examples.clone(),
    );
}

pub(super) fn check_paced(rows: &mut Rows, scenario: &'static str, result: &PacedResult) {
    rows.check(
        scenario,
        "paced requests answered exactly",
        format!(
            "{} of {}",
            result.exact,
            result.exact + result.mismatches + result.failures
        ),
        "all",
        result.mismatches + result.failures == 0 && result.exact > 0,
        result.examples.clone(),
    );
    rows.info(
        scenario,
        "paced latency",
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} requests)",
            result.quantile_ms(0.5),
            result.quantile_ms(0.99),
            result.latency.max() as f64 / 1000.0,
            result.latency.len()
        ),
    );
}

/// Formats the shortest and longest of `durations` in seconds.
pub(super) fn span(durations: impl Iterator<Item = Duration>) -> String {
    let seconds: Vec<f64> = durations.map(|duration| duration.as_secs_f64()).collect();
    if seconds.is_empty() {
        return "none ended".to_owned();
    }
    let low = seconds.iter().copied().fold(f64::INFINITY, f64::min);
    let high = seconds.iter().copied().fold(0.0, f64::max);
    format!("{low:.1}-{high:.1} s")
}

/// Counts how the connections ended, as `closed 200` or `reset 3, still open 1`.
pub(super) fn endings(outcomes: &[SlowOutcome]) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for outcome in outcomes {
        let answered = outcome.response.as_ref().map(|response| response.status);
        let label = match answered {
            Some(status) => format!("{status} then {}", outcome.ending),
            None => format!("no response, {}", outcome.ending),
        };
        *counts.entry(label).or_insert(0) += 1;
    }
    counts
        .iter()
        .map(|(label, count)| format!("{label} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn check_shutdown(rows: &mut Rows, result: &ShutdownResult) {
    rows.check(
        "SIGTERM in flight",
        "streams finished exactly, ending with done",
        format!("{} of {STREAMS_IN_FLIGHT}", result.streams_complete),
        "all",
        result.streams_complete == STREAMS_IN_FLIGHT,
        result.examples.clone(),
    );
    rows.check(
        "SIGTERM in flight",
        "half-sent requests answered with their echo",
        format!("{} of {REQUESTS_IN_FLIGHT}", result.requests_complete),
        "all",
        result.requests_complete == REQUESTS_IN_FLIGHT,
        Vec::new(),
    );
    let measured = match (result.exit_after, result.exit_code) {
        (Some(after), Some(code)) => format!("code {code} after {:.2} s", after.as_secs_f64()),
        (Some(after), None) => format!("killed by a signal after {:.2} s", after.as_secs_f64()),
        (None, _) => format!("still running {} s after SIGTERM", GRACE.as_secs() + 5),
    };
    let passed =
        result.exit_code == Some(0) && result.exit_after.is_some_and(|after| after <= GRACE);
    rows.check(
        "SIGTERM in flight",
        "process exit",
        measured,
        "code 0 within 10 s",
        passed,
        Vec::new(),
    );
}
