//! Outcomes of running cases: one [`Outcome`] per named case, gathered in a [`Report`].

use std::fmt;

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Every check held.
    Passed,
    /// A check failed; the reason names the rule.
    Failed(String),
    /// The case could not run here (for example, no counting allocator installed).
    Skipped(String),
    /// The case ran under an exception the factory documents (for example
    /// [`allocation_exception`](crate::TransportFactory::allocation_exception)): the
    /// note gives what was measured and the reason. Not a failure, not a pass.
    Noted(String),
}

/// The result of a case: `Err` carries the reason it failed.
pub type CaseResult = Result<(), String>;

/// Results of a suite, in case order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// `(case name, outcome)`.
    pub cases: Vec<(&'static str, Outcome)>,
}

impl Report {
    /// `true` when no case failed (skipped and noted cases do not fail a report).
    pub fn passed(&self) -> bool {
        !self
            .cases
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Failed(_)))
    }

    /// The failed cases and their reasons.
    pub fn failures(&self) -> Vec<(&'static str, &str)> {
        self.cases
            .iter()
            .filter_map(|(name, o)| match o {
                Outcome::Failed(why) => Some((*name, why.as_str())),
                _ => None,
            })
            .collect()
    }

    /// The cases that ran under a documented exception, with their notes.
    pub fn notes(&self) -> Vec<(&'static str, &str)> {
        self.cases
            .iter()
            .filter_map(|(name, o)| match o {
                Outcome::Noted(note) => Some((*name, note.as_str())),
                _ => None,
            })
            .collect()
    }

    /// The outcome of one case, by name.
    pub fn outcome(&self, case: &str) -> Option<&Outcome> {
        self.cases.iter().find(|(n, _)| *n == case).map(|(_, o)| o)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, outcome) in &self.cases {
            match outcome {
                Outcome::Passed => writeln!(f, "pass  {name}")?,
                Outcome::Failed(why) => writeln!(f, "FAIL  {name}: {why}")?,
                Outcome::Skipped(why) => writeln!(f, "skip  {name}: {why}")?,
                Outcome::Noted(note) => writeln!(f, "note  {name}: {note}")?,
            }
        }
        Ok(())
    }
}

/// Turns a boolean check into a case result with a reason.
pub(crate) fn ensure(cond: bool, why: impl FnOnce() -> String) -> CaseResult {
    if cond {
        Ok(())
    } else {
        Err(why())
    }
}

/// Turns an `io::Result` into a case result, naming the step.
pub(crate) fn step<T>(what: &str, r: std::io::Result<T>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: unexpected error: {e}"))
}
