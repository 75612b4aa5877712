//! Measurement, progress, the results table and the JSON report.

use std::io::Write;
use std::time::{Duration, Instant};

/// Whether a larger value is better (rates) or a smaller one (latencies).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One measured value of one subject in one scenario.
pub struct Record {
    pub suite: &'static str,
    pub scenario: String,
    pub subject: String,
    pub metric: &'static str,
    pub unit: &'static str,
    pub value: f64,
    pub better: Better,
}

/// Collects records, prints progress while a suite runs.
pub struct Report {
    pub quick: bool,
    pub records: Vec<Record>,
    /// Only subjects whose name contains this run (`--only`).
    pub only: Option<String>,
}

impl Report {
    pub fn new(quick: bool) -> Self {
        Report {
            quick,
            records: Vec::new(),
            only: None,
        }
    }

    /// `true` when `subject` passes the `--only` filter.
    pub fn wants(&self, subject: &str) -> bool {
        self.only.as_deref().is_none_or(|f| subject.contains(f))
    }

    /// How long to measure one subject in one scenario.
    pub fn budget(&self) -> Duration {
        if self.quick {
            Duration::from_millis(250)
        } else {
            Duration::from_millis(1500)
        }
    }

    pub fn progress(&self, suite: &str, scenario: &str, subject: &str) {
        eprint!("[{suite}] {scenario} / {subject} ... ");
        let _ = std::io::stderr().flush();
    }

    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        suite: &'static str,
        scenario: &str,
        subject: &str,
        metric: &'static str,
        unit: &'static str,
        value: f64,
        better: Better,
    ) {
        eprintln!("{value:.1} {unit}");
        self.records.push(Record {
            suite,
            scenario: scenario.to_owned(),
            subject: subject.to_owned(),
            metric,
            unit,
            value,
            better,
        });
    }

    /// Prints one table per scenario: every subject, its value, and how many times
    /// better strait's best subject is (> 1: strait ahead).
    pub fn print_table(&self) {
        let mut scenarios: Vec<(&str, &str)> = Vec::new();
        for r in &self.records {
            if !scenarios.contains(&(r.suite, r.scenario.as_str())) {
                scenarios.push((r.suite, r.scenario.as_str()));
            }
        }
        println!();
        println!("ratio = how many times better strait is than the subject (> 1: strait ahead)");
        for (suite, scenario) in scenarios {
            let rows: Vec<&Record> = self
                .records
                .iter()
                .filter(|r| r.suite == suite && r.scenario == scenario)
                .collect();
            let strait = rows
                .iter()
                .filter(|r| r.subject.starts_with("strait-"))
                .map(|r| r.value)
                .reduce(|a, b| match rows[0].better {
                    Better::Higher => a.max(b),
                    Better::Lower => a.min(b),
                });
            println!(
                "\n{suite} / {scenario} ({}, {})",
                rows[0].metric, rows[0].unit
            );
            println!("  {:<34} {:>16} {:>8}", "subject", "value", "ratio");
            for r in rows {
                let ratio = strait.map(|s| match r.better {
                    Better::Higher => s / r.value,
                    Better::Lower => r.value / s,
                });
                let ratio = ratio.map_or_else(|| "-".to_owned(), |x| format!("{x:.2}"));
                println!("  {:<34} {:>16.1} {:>8}", r.subject, r.value, ratio);
            }
        }
    }

    pub fn write_json(&self, path: &str) -> std::io::Result<()> {
        let records: Vec<serde_json::Value> = self
            .records
            .iter()
            .map(|r| {
                serde_json::json!({
                    "suite": r.suite,
                    "scenario": r.scenario,
                    "subject": r.subject,
                    "metric": r.metric,
                    "unit": r.unit,
                    "value": r.value,
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&serde_json::Value::Array(records))?;
        std::fs::write(path, text)
    }
}

/// Runs `round` (which returns how many items it processed) until `budget` has passed,
/// after a short warm-up; returns items per second.
pub fn rate(budget: Duration, mut round: impl FnMut() -> u64) -> f64 {
    let warm = Instant::now();
    while warm.elapsed() < budget / 10 {
        round();
    }
    let start = Instant::now();
    let mut items = 0;
    while start.elapsed() < budget {
        items += round();
    }
    items as f64 / start.elapsed().as_secs_f64()
}

/// Runs `round` (which does `per_round` operations) until `budget` has passed; returns
/// nanoseconds per operation.
pub fn ns_per_op(budget: Duration, per_round: u64, round: impl FnMut()) -> f64 {
    let mut round = round;
    1e9 / rate(budget, || {
        round();
        per_round
    })
}
