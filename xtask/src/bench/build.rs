//! Release builds of the servers under test, and the criterion run of the contract
//! crate's per-request work.
//!
//! The examples are built in one `cargo build --release` of their own and the floors in
//! another. Cargo unifies the features of the packages built together, so this keeps
//! the features of xtask's dependencies out of the example binaries, which are then
//! the ones `cargo build --release -p <example>` makes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

/// Criterion's name for the realistic request's verify, parse and reply.
pub const VERIFY_PARSE_REPLY: &str = "verify_parse_reply";

/// Criterion's name for the same work when every character of the text is non-ASCII.
pub const VERIFY_PARSE_REPLY_ESCAPED: &str = "verify_parse_reply_escaped";

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Returns cargo's target directory for this workspace.
pub fn target_directory() -> Result<PathBuf> {
    let output = Command::new(cargo())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("could not run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed ({})", output.status);
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata printed invalid JSON")?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata reported no target_directory")
}

/// Builds the example servers and the floors in release mode and returns each binary
/// by name: `webhook-axum`, `webhook-actix`, `floor-axum`, `floor-actix`.
pub fn release_binaries() -> Result<BTreeMap<String, PathBuf>> {
    let mut binaries = build(
        &["-p", "webhook-axum", "-p", "webhook-actix"],
        &["webhook-axum", "webhook-actix"],
    )?;
    binaries.extend(build(
        &[
            "-p",
            "xtask",
            "--features",
            "floors",
            "--bin",
            "floor-axum",
            "--bin",
            "floor-actix",
        ],
        &["floor-axum", "floor-actix"],
    )?);
    Ok(binaries)
}

/// Builds xtask itself and the floors in release mode and returns the path of the
/// release `xtask` binary.
pub fn release_xtask() -> Result<PathBuf> {
    let mut binaries = build(
        &["-p", "xtask", "--features", "floors", "--bins"],
        &["xtask"],
    )?;
    binaries
        .remove("xtask")
        .context("cargo build reported no binary for xtask")
}

/// Runs `cargo build --release` with `arguments` and returns the executables of the
/// binary targets named `names`.
fn build(arguments: &[&str], names: &[&str]) -> Result<BTreeMap<String, PathBuf>> {
    let output = Command::new(cargo())
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
        ])
        .args(arguments)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("could not run cargo build")?;
    if !output.status.success() {
        bail!(
            "cargo build --release {} failed ({})",
            arguments.join(" "),
            output.status
        );
    }

    // Each compiled binary appears as a `compiler-artifact` message with its path.
    let messages: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|message: &serde_json::Value| message["reason"] == "compiler-artifact")
        .collect();
    let mut binaries = BTreeMap::new();
    for name in names {
        let executable = messages
            .iter()
            .filter(|message| message["target"]["name"] == *name)
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .with_context(|| format!("cargo build reported no binary for {name}"))?;
        binaries.insert((*name).to_owned(), executable);
    }
    Ok(binaries)
}

/// Mean times in nanoseconds of the criterion benchmarks the report uses.
#[derive(Clone, Debug)]
pub struct CriterionFigures {
    pub verify_parse_reply_ns: f64,
    pub verify_parse_reply_escaped_ns: Option<f64>,
}

/// Runs the contract crate's `verify_parse_reply` benchmarks (3 s of measurement
/// each) with cargo's output sent to stderr, and reads criterion's estimates.
pub fn run_criterion(target_directory: &Path) -> Result<CriterionFigures> {
    let started = SystemTime::now();
    let status = Command::new(cargo())
        .args([
            "bench",
            "-p",
            "webhook-contract",
            "--bench",
            "contract",
            "--",
        ])
        .args([
            VERIFY_PARSE_REPLY,
            "--warm-up-time",
            "1",
            "--measurement-time",
            "3",
        ])
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .stderr(Stdio::inherit())
        .status()
        .context("could not run cargo bench")?;
    if !status.success() {
        bail!("cargo bench -p webhook-contract --bench contract failed ({status})");
    }
    let criterion = target_directory.join("criterion");
    Ok(CriterionFigures {
        verify_parse_reply_ns: mean_estimate(&criterion, VERIFY_PARSE_REPLY, started)?,
        verify_parse_reply_escaped_ns: mean_estimate(
            &criterion,
            VERIFY_PARSE_REPLY_ESCAPED,
            started,
        )
        .ok(),
    })
}

/// Reads the mean of benchmark `name` from criterion's `estimates.json`, which must
/// have been written after `since`.
fn mean_estimate(criterion: &Path, name: &str, since: SystemTime) -> Result<f64> {
    let path = criterion.join(name).join("new").join("estimates.json");
    let modified = std::fs::metadata(&path)
        .and_then(|metadata| metadata.modified())
        .with_context(|| format!("could not read {}", path.display()))?;
    if modified < since {
        bail!("{} is from an earlier run", path.display());
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("could not read {}", path.display()))?;
    let estimates: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    estimates["mean"]["point_estimate"]
        .as_f64()
        .with_context(|| format!("{} has no mean.point_estimate", path.display()))
}
