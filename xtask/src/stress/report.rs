//! The summary table: one row per check, with what was measured, the limit, and
//! whether the server kept it.

use std::fmt::Write as _;

/// Whether a row is a check or only a figure for the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Breach,
    /// A figure without a limit, such as throughput.
    Info,
}

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Row {
    pub server: &'static str,
    pub scenario: &'static str,
    pub check: String,
    pub measured: String,
    pub limit: String,
    pub verdict: Verdict,
    /// Examples of what went wrong, printed under the table for a breach.
    pub evidence: Vec<String>,
}

/// The rows of one server, in the order the checks ran.
#[derive(Debug)]
pub struct Rows {
    server: &'static str,
    pub rows: Vec<Row>,
}

impl Rows {
    pub fn new(server: &'static str) -> Self {
        Self {
            server,
            rows: Vec::new(),
        }
    }

    /// Adds a check that passes when `passed` is true.
    pub fn check(
        &mut self,
        scenario: &'static str,
        check: &str,
        measured: String,
        limit: &str,
        passed: bool,
        evidence: Vec<String>,
    ) {
        let verdict = if passed {
            Verdict::Pass
        } else {
            Verdict::Breach
        };
        self.push(scenario, check, measured, limit, verdict, evidence);
    }

    /// Adds a figure for the record.
    pub fn info(&mut self, scenario: &'static str, check: &str, measured: String) {
        self.push(scenario, check, measured, "-", Verdict::Info, Vec::new());
    }

    /// Adds a breach for a scenario that could not run, with the reason.
    pub fn failed_to_run(&mut self, scenario: &'static str, error: &anyhow::Error) {
        self.push(
            scenario,
            "scenario ran",
            "no".to_owned(),
            "runs",
            Verdict::Breach,
            vec![format!("{error:#}")],
        );
    }

    fn push(
        &mut self,
        scenario: &'static str,
        check: &str,
        measured: String,
        limit: &str,
        verdict: Verdict,
        evidence: Vec<String>,
    ) {
        self.rows.push(Row {
            server: self.server,
            scenario,
            check: check.to_owned(),
            measured,
            limit: limit.to_owned(),
            verdict,
            evidence,
        });
    }
}

/// Renders the rows as a Markdown table, so it can be pasted into a document as it is.
pub fn table(rows: &[Row]) -> String {
    let header = ["server", "scenario", "check", "measured", "limit", "result"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|row| {
            [
                row.server.to_owned(),
                row.scenario.to_owned(),
                row.check.clone(),
                row.measured.clone(),
                row.limit.clone(),
                match row.verdict {
                    Verdict::Pass => "pass",
                    Verdict::Breach => "BREACH",
                    Verdict::Info => "-",
                }
                .to_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }

    let mut text = String::new();
    let render = |text: &mut String, line: &[String]| {
        text.push('|');
        for (cell, width) in line.iter().zip(widths) {
            let padding = width - cell.chars().count();
            let _ = write!(text, " {cell}{} |", " ".repeat(padding));
        }
        text.push('\n');
    };
    render(&mut text, &header.map(str::to_owned));
    text.push('|');
    for width in widths {
        let _ = write!(text, "{}|", "-".repeat(width + 2));
    }
    text.push('\n');
    for line in &cells {
        render(&mut text, line);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let mut rows = Rows::new("webhook-axum");
        rows.check("mixed", "5xx responses", "0".to_owned(), "0", true, vec![]);
        rows.info("mixed", "throughput", "12345 req/s".to_owned());
        rows.check("memory", "RSS", "9 MiB".to_owned(), "≤ 2×", false, vec![]);
        let text = table(&rows.rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        let widths: Vec<usize> = lines.iter().map(|line| line.chars().count()).collect();
        assert!(widths.iter().all(|width| *width == widths[0]), "{text}");
        assert!(lines[4].contains("BREACH"), "{text}");
        assert!(lines[3].contains("| - "), "{text}");
    }
}
