//! `cargo xtask smoke`: both example servers as real processes, the whole black-box
//! suite and the field cases against each, and their answers compared case by case.
//!
//! Per server, the run starts one instance with the test secret on its fixed port
//! and one without a secret on a free port (read back from its start line), then runs
//! concurrently: the fast checks (the minimal `hello` message, the suite at reference
//! level against both instances, every one-request field case, the oversized body),
//! the half-sent request head, and two start-ups with an invalid `PORT`. Last, the
//! instance without a secret gets SIGTERM, and the main instance gets SIGTERM in the
//! middle of an upload; both must exit 0 within 10 s.

mod field_cases;
mod process_cases;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use tokio::time::Instant;
use webhook_contract::Secret;
use webhook_probe::{Check, Level, Outcome, Target};

use crate::process::{self, ServerProcess};
use field_cases::Instance;

/// The secret both servers are started with.
const TEST_SECRET: &str = "smoke-test-secret-5d1b";

/// How long a server may take to answer `/healthz` after it is started.
const START_LIMIT: Duration = Duration::from_secs(20);

/// An example server and the port the smoke run gives it.
struct ServerSpec {
    name: &'static str,
    port: u16,
}

const SERVERS: [ServerSpec; 2] = [
    ServerSpec {
        name: "webhook-axum",
        port: 15980,
    },
    ServerSpec {
        name: "webhook-actix",
        port: 15981,
    },
];

/// Runs the smoke test; fails with a summary when any check fails or the servers
/// disagree.
pub async fn run() -> Result<()> {
    let started = Instant::now();
    let names: Vec<&str> = SERVERS.iter().map(|server| server.name).collect();
    eprintln!("smoke: building {}", names.join(" and "));
    let binaries = process::build(&names).await?;
    for server in &SERVERS {
        process::ensure_port_free(server.name, server.port)?;
    }

    let (first, second) = tokio::join!(
        exercise(&SERVERS[0], &binaries[0]),
        exercise(&SERVERS[1], &binaries[1])
    );
    let results = [first?, second?];

    let mut failures = Vec::new();
    for (server, checks) in SERVERS.iter().zip(&results) {
        print_table(server, checks);
        for check in checks.iter().filter(|check| check.failed()) {
            failures.push(format!(
                "FAIL {} {}: {}",
                server.name, check.name, check.detail
            ));
            if let Some(request) = &check.request {
                failures.push(format!("     reproduce: {}", request.to_curl()));
            }
        }
    }
    let differences = compare(&results[0], &results[1]);

    eprintln!();
    for line in failures.iter().chain(&differences) {
        eprintln!("{line}");
    }
    let failed = failures
        .iter()
        .filter(|line| line.starts_with("FAIL"))
        .count();
    let elapsed = started.elapsed().as_secs_f64();
    if failed > 0 || !differences.is_empty() {
        bail!(
            "smoke failed after {elapsed:.1} s: {failed} failed checks, {} differences between the servers",
            differences.len()
        );
    }
    eprintln!(
        "smoke: passed in {elapsed:.1} s: {} checks per server, both servers answered alike",
        results[0].len()
    );
    Ok(())
}

/// Starts the instances of one server, runs every check against them and stops them.
async fn exercise(spec: &ServerSpec, binary: &PathBuf) -> Result<Vec<Check>> {
    let port = spec.port.to_string();
    let mut main = ServerProcess::spawn(
        spec.name,
        binary,
        &[
            ("HOST", "127.0.0.1"),
            ("PORT", &port),
            ("WEBHOOK_SECRET", TEST_SECRET),
            ("STREAM_DELAY_MS", "0"),
        ],
    )?;
    let main_address = SocketAddr::from(([127, 0, 0, 1], spec.port));
    main.wait_healthy(main_address, START_LIMIT).await?;
    main.address = main_address.to_string();

    let mut unsigned = ServerProcess::spawn(
        spec.name,
        binary,
        &[
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("STREAM_DELAY_MS", "0"),
        ],
    )?;
    let listening = unsigned.wait_for_listening(START_LIMIT).await?;
    let unsigned_address = SocketAddr::from(([127, 0, 0, 1], listening.port()));
    unsigned.wait_healthy(unsigned_address, START_LIMIT).await?;
    unsigned.address = unsigned_address.to_string();
    eprintln!(
        "{}: listening on {} (secret) and {} (no secret)",
        spec.name, main.address, unsigned.address
    );

    let secret = Secret::new(TEST_SECRET);
    let fast = fast_checks(&main.address, &unsigned.address, &secret);
    let slow = process_cases::half_sent_head_case(&main.address, &secret);
    let startups = async {
        tokio::join!(
            process_cases::invalid_port_case("port_not_a_number", binary, "80a"),
            process_cases::invalid_port_case("port_out_of_range", binary, "70000"),
        )
    };
    let (mut checks, slow_check, (not_a_number, out_of_range)) = tokio::join!(fast, slow, startups);
    checks.extend([slow_check, not_a_number, out_of_range]);

    checks.push(stop_unsigned(&mut unsigned).await);
    eprintln!("{}: sending SIGTERM during an upload", spec.name);
    checks.push(process_cases::sigterm_during_upload_case(&mut main, &secret).await);
    Ok(checks)
}

/// Runs the checks that take a second or less each, one after another.
async fn fast_checks(signed: &str, unsigned: &str, secret: &Secret) -> Vec<Check> {
    let mut checks = vec![minimal_hello(signed, secret).await];

    let target = Target {
        url: format!("http://{signed}/"),
        stream_url: Some(format!("http://{signed}/stream")),
        secret: Some(TEST_SECRET.to_owned()),
    };
    checks.extend(webhook_probe::run(&target, Level::Reference).await.checks);

    let target = Target {
        url: format!("http://{unsigned}/"),
        stream_url: Some(format!("http://{unsigned}/stream")),
        secret: None,
    };
    let unsigned_report = webhook_probe::run(&target, Level::Reference).await;
    checks.extend(
        unsigned_report
            .checks
            .into_iter()
            .filter(|check| check.outcome != Outcome::Skip)
            .map(|mut check| {
                check.name = format!("no_secret.{}", check.name);
                check
            }),
    );

    for case in field_cases::all() {
        let address = match case.instance {
            Instance::Signed => signed,
            Instance::Unsigned => unsigned,
        };
        checks.push(field_cases::run(&case, address, secret).await);
    }
    checks.push(process_cases::oversized_body_case(signed, secret).await);
    checks
}

/// Runs the original examples' smoke test: the smallest valid payload with content
/// `hello` gets 200 and the reply `Echo: hello`.
async fn minimal_hello(address: &str, secret: &Secret) -> Check {
    let mut case = field_cases::baseline();
    case.body =
        r#"{"version":"1.0","event":"message_received","message":{"content":"hello"}}"#.to_owned();
    let mut check = field_cases::run(&case, address, secret).await;
    check.name = "minimal_hello".to_owned();
    check.detail = check.detail.replacen(
        "the baseline signed message with content hello",
        "the minimal signed payload with content hello",
        1,
    );
    check
}

/// Sends SIGTERM to the instance without a secret, which has nothing in flight, and
/// expects exit status 0 within 10 s.
async fn stop_unsigned(server: &mut ServerProcess) -> Check {
    let name = "no_secret.sigterm_when_idle";
    let started = Instant::now();
    let exit = match server.terminate() {
        Ok(()) => server.wait_exit(process_cases::EXIT_LIMIT).await,
        Err(error) => Err(error),
    };
    let mut check = match exit {
        Ok(Some(status)) if status.code() == Some(0) => Check::new(
            name,
            Outcome::Pass,
            format!(
                "sent SIGTERM to the idle instance; it exited with {} after {:.2} s",
                process_cases::exit_code_text(status),
                started.elapsed().as_secs_f64()
            ),
        ),
        Ok(Some(status)) => Check::new(
            name,
            Outcome::Fail,
            format!(
                "sent SIGTERM to the idle instance; expected exit status 0, got {}",
                process_cases::exit_code_text(status)
            ),
        ),
        Ok(None) => Check::new(
            name,
            Outcome::Fail,
            format!(
                "sent SIGTERM to the idle instance; it was still running after {} s",
                process_cases::EXIT_LIMIT.as_secs()
            ),
        ),
        Err(error) => Check::new(name, Outcome::Fail, format!("{error:#}")),
    };
    check.latency = Some(started.elapsed());
    check
}

/// Prints one server's checks as a table on stderr.
fn print_table(server: &ServerSpec, checks: &[Check]) {
    let count = |outcome| {
        checks
            .iter()
            .filter(|check| check.outcome == outcome)
            .count()
    };
    eprintln!();
    eprintln!(
        "== {} (port {}): {} passed, {} failed, {} skipped",
        server.name,
        server.port,
        count(Outcome::Pass),
        count(Outcome::Fail),
        count(Outcome::Skip)
    );
    let width = checks
        .iter()
        .map(|check| check.name.len())
        .max()
        .unwrap_or(0);
    for check in checks {
        let latency = check
            .latency
            .map(|latency| format!("{:>9.1} ms", latency.as_secs_f64() * 1000.0))
            .unwrap_or_else(|| " ".repeat(12));
        let detail = check.detail.lines().next().unwrap_or_default();
        eprintln!(
            "{} {latency}  {:<width$}  {detail}",
            check.outcome, check.name
        );
    }
}

/// Compares the two servers' answers check by check and returns one line per
/// difference.
fn compare(first: &[Check], second: &[Check]) -> Vec<String> {
    let index = |checks: &[Check]| -> BTreeMap<String, String> {
        checks
            .iter()
            .map(|check| (check.name.clone(), comparable(check)))
            .collect()
    };
    let (first_answers, second_answers) = (index(first), index(second));
    let mut differences = Vec::new();
    for (name, first_answer) in &first_answers {
        let second_answer = second_answers
            .get(name)
            .map(String::as_str)
            .unwrap_or("(check not run)");
        if first_answer != second_answer {
            differences.push(format!(
                "DIFF {name}: {} answered {first_answer}, {} answered {second_answer}",
                SERVERS[0].name, SERVERS[1].name
            ));
        }
    }
    for name in second_answers
        .keys()
        .filter(|name| !first_answers.contains_key(*name))
    {
        differences.push(format!("DIFF {name}: only {} ran it", SERVERS[1].name));
    }
    differences
}

/// Returns what two agreeing servers have in common for a check: the answer when
/// there is one, and the outcome.
fn comparable(check: &Check) -> String {
    match &check.answer {
        Some(answer) => format!("{} ({})", answer, check.outcome),
        None => format!("no answer ({})", check.outcome),
    }
}
