//! Measurement, progress, the results table and the JSON report.
//!
//! A row (one scenario of one suite) declares its subjects and the like-for-like pairs
//! to compare (strait subject, peer). Subjects are measured in interleaved rounds
//! (A B C A B C …) so drift of the machine hits every subject alike; a subject's value
//! is the median of its rounds and the table prints the min–max beside it. A pair whose
//! ranges overlap is a tie: its ratio is within the noise, whichever side it favours.

use std::io::Write;
use std::time::{Duration, Instant};

/// Whether a larger value is better (rates) or a smaller one (latencies).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One measured subject of one scenario: every round's value.
pub struct Record {
    pub suite: &'static str,
    pub scenario: String,
    pub subject: String,
    pub metric: &'static str,
    pub unit: &'static str,
    pub rounds: Vec<f64>,
    pub better: Better,
}

impl Record {
    pub fn median(&self) -> f64 {
        let mut v = self.rounds.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }

    pub fn min(&self) -> f64 {
        self.rounds.iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub fn max(&self) -> f64 {
        self.rounds
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

/// A declared like-for-like comparison within a scenario.
pub struct Pair {
    pub suite: &'static str,
    pub scenario: String,
    pub strait: String,
    pub peer: String,
}

/// How a pair came out.
pub struct Verdict {
    /// How many times better strait is (> 1: strait ahead), from the medians.
    pub ratio: f64,
    /// The two subjects' min–max ranges overlap: the ratio is within the noise.
    pub tie: bool,
}

/// Collects records and pairs, prints progress while a suite runs.
pub struct Report {
    pub quick: bool,
    pub records: Vec<Record>,
    pub pairs: Vec<Pair>,
    /// Only subjects whose name contains this run (`--only`).
    pub only: Option<String>,
}

/// Settings tuned against this suite, printed with every result.
pub const SETTINGS: &[(&str, &str)] = &[(
    "strait-native inline budget (operations per task poll)",
    "512",
)];

impl Report {
    pub fn new(quick: bool) -> Self {
        Report {
            quick,
            records: Vec::new(),
            pairs: Vec::new(),
            only: None,
        }
    }

    /// `true` when `subject` passes the `--only` filter.
    pub fn wants(&self, subject: &str) -> bool {
        self.only.as_deref().is_none_or(|f| subject.contains(f))
    }

    /// Interleaved rounds per row.
    pub fn rounds(&self) -> usize {
        if self.quick {
            3
        } else {
            5
        }
    }

    /// How long to measure one subject in one round.
    pub fn budget(&self) -> Duration {
        if self.quick {
            Duration::from_millis(100)
        } else {
            Duration::from_millis(300)
        }
    }

    /// Progress line for a measurement that is not a [`Row`] subject.
    pub fn progress(&self, suite: &str, scenario: &str, subject: &str) {
        eprint!("[{suite}] {scenario} / {subject} ... ");
        let _ = std::io::stderr().flush();
    }

    /// Records a subject measured outside a [`Row`] (several values from one run).
    #[allow(clippy::too_many_arguments)]
    pub fn push_rounds(
        &mut self,
        suite: &'static str,
        scenario: &str,
        subject: &str,
        metric: &'static str,
        unit: &'static str,
        better: Better,
        rounds: Vec<f64>,
    ) {
        self.records.push(Record {
            suite,
            scenario: scenario.to_owned(),
            subject: subject.to_owned(),
            metric,
            unit,
            rounds,
            better,
        });
    }

    /// Declares a pair outside a [`Row`].
    pub fn add_pair(&mut self, suite: &'static str, scenario: &str, strait: &str, peer: &str) {
        self.pairs.push(Pair {
            suite,
            scenario: scenario.to_owned(),
            strait: strait.to_owned(),
            peer: peer.to_owned(),
        });
    }

    /// Starts a row of `scenario`; add subjects and pairs, then [`Row::run`] it.
    pub fn row<'a>(
        &self,
        suite: &'static str,
        scenario: &str,
        metric: &'static str,
        unit: &'static str,
        better: Better,
    ) -> Row<'a> {
        Row {
            suite,
            scenario: scenario.to_owned(),
            metric,
            unit,
            better,
            subjects: Vec::new(),
            pairs: Vec::new(),
        }
    }

    /// Prints, per scenario, every subject (median and min–max over its rounds), then
    /// every declared pair with its ratio, or "tie" when the ranges overlap.
    pub fn print_table(&self) {
        let mut scenarios: Vec<(&str, &str)> = Vec::new();
        for r in &self.records {
            if !scenarios.contains(&(r.suite, r.scenario.as_str())) {
                scenarios.push((r.suite, r.scenario.as_str()));
            }
        }
        println!();
        println!("settings tuned against this suite:");
        for (name, value) in SETTINGS {
            println!("  {name}: {value}");
        }
        println!(
            "values: median of {} interleaved rounds [min – max]; ratio = how many times \
             better strait is than the peer (> 1: strait ahead), `tie` when the ranges overlap",
            self.rounds()
        );
        for (suite, scenario) in scenarios {
            let rows: Vec<&Record> = self
                .records
                .iter()
                .filter(|r| r.suite == suite && r.scenario == scenario)
                .collect();
            println!(
                "\n{suite} / {scenario} ({}, {})",
                rows[0].metric, rows[0].unit
            );
            for r in &rows {
                println!(
                    "  {:<36} {:>14.1}  [{:.1} – {:.1}]",
                    r.subject,
                    r.median(),
                    r.min(),
                    r.max()
                );
            }
            for pair in self
                .pairs
                .iter()
                .filter(|p| p.suite == suite && p.scenario == scenario)
            {
                if let Some(v) = self.verdict(pair) {
                    let verdict = if v.tie { "  tie" } else { "" };
                    println!(
                        "    {} ÷ {}: {:.2}{verdict}",
                        pair.strait, pair.peer, v.ratio
                    );
                }
            }
        }
    }

    fn find(&self, suite: &str, scenario: &str, subject: &str) -> Option<&Record> {
        self.records
            .iter()
            .find(|r| r.suite == suite && r.scenario == scenario && r.subject == subject)
    }

    /// The ratio and tie verdict of `pair` (both subjects measured).
    pub fn verdict(&self, pair: &Pair) -> Option<Verdict> {
        let s = self.find(pair.suite, &pair.scenario, &pair.strait)?;
        let p = self.find(pair.suite, &pair.scenario, &pair.peer)?;
        let ratio = match s.better {
            Better::Higher => s.median() / p.median(),
            Better::Lower => p.median() / s.median(),
        };
        let tie = s.min() <= p.max() && p.min() <= s.max();
        Some(Verdict { ratio, tie })
    }

    /// The JSON report: `{"settings": {..}, "records": [{suite, scenario, subject,
    /// metric, unit, value (median), min, max, rounds: [..]}], "pairs": [{suite,
    /// scenario, strait, peer, ratio, tie}]}`.
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
                    "value": r.median(),
                    "min": r.min(),
                    "max": r.max(),
                    "rounds": r.rounds,
                })
            })
            .collect();
        let pairs: Vec<serde_json::Value> = self
            .pairs
            .iter()
            .filter_map(|p| {
                let v = self.verdict(p)?;
                Some(serde_json::json!({
                    "suite": p.suite,
                    "scenario": p.scenario,
                    "strait": p.strait,
                    "peer": p.peer,
                    "ratio": v.ratio,
                    "tie": v.tie,
                }))
            })
            .collect();
        let settings: serde_json::Map<String, serde_json::Value> = SETTINGS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .chain([
                ("rounds".to_owned(), self.rounds().into()),
                (
                    "round_budget_ms".to_owned(),
                    (self.budget().as_millis() as u64).into(),
                ),
            ])
            .collect();
        let doc = serde_json::json!({
            "settings": settings,
            "records": records,
            "pairs": pairs,
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
    }
}

/// A subject's measurement: given a time budget, returns its value.
type Measure<'a> = Box<dyn FnMut(Duration) -> f64 + 'a>;

/// One scenario being declared: its subjects, in order, and its pairs.
pub struct Row<'a> {
    suite: &'static str,
    scenario: String,
    metric: &'static str,
    unit: &'static str,
    better: Better,
    subjects: Vec<(String, Measure<'a>)>,
    pairs: Vec<(String, String)>,
}

impl<'a> Row<'a> {
    /// Adds a subject; `measure` gets a time budget and returns the value (it may be
    /// called once per round, so it sets up what it needs each time).
    pub fn subject(mut self, name: &str, measure: impl FnMut(Duration) -> f64 + 'a) -> Self {
        self.subjects.push((name.to_owned(), Box::new(measure)));
        self
    }

    /// Declares a like-for-like comparison between a strait subject and a peer.
    pub fn pair(mut self, strait: &str, peer: &str) -> Self {
        self.pairs.push((strait.to_owned(), peer.to_owned()));
        self
    }

    /// Measures every wanted subject in interleaved rounds and records the results.
    pub fn run(mut self, report: &mut Report) {
        self.subjects.retain(|(name, _)| report.wants(name));
        let mut rounds: Vec<Vec<f64>> = vec![Vec::new(); self.subjects.len()];
        for round in 0..report.rounds() {
            for (i, (name, measure)) in self.subjects.iter_mut().enumerate() {
                eprint!(
                    "[{}] {} / {name} (round {}) ... ",
                    self.suite,
                    self.scenario,
                    round + 1
                );
                let _ = std::io::stderr().flush();
                let v = measure(report.budget());
                eprintln!("{v:.1} {}", self.unit);
                rounds[i].push(v);
            }
        }
        for ((name, _), rounds) in self.subjects.into_iter().zip(rounds) {
            report.records.push(Record {
                suite: self.suite,
                scenario: self.scenario.clone(),
                subject: name,
                metric: self.metric,
                unit: self.unit,
                rounds,
                better: self.better,
            });
        }
        for (strait, peer) in self.pairs {
            report.pairs.push(Pair {
                suite: self.suite,
                scenario: self.scenario.clone(),
                strait,
                peer,
            });
        }
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
