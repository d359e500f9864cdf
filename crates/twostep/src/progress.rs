//! A progress bar on stderr, drawn only when stderr is a terminal (so logs
//! and pipes never get carriage returns), at most ten times a second.
//! Hand-rolled: one line of text does not need a dependency.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WIDTH: usize = 30;
const EVERY: Duration = Duration::from_millis(100);

/// A bar counting log positions up to a head.
pub struct Progress {
    label: &'static str,
    shown: bool,
    last: Mutex<Option<Instant>>,
}

impl Progress {
    /// A bar titled `label`, drawn only if stderr is a terminal.
    pub fn new(label: &'static str) -> Progress {
        Progress {
            label,
            shown: std::io::stderr().is_terminal(),
            last: Mutex::new(None),
        }
    }

    /// Shows that `done` of `total` events are behind us.
    pub fn update(&self, done: u64, total: u64) {
        if !self.shown {
            return;
        }
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < EVERY) && done < total {
            return;
        }
        *last = Some(now);
        eprint!("\r{}", line(self.label, done, total));
        let _ = std::io::stderr().flush();
    }

    /// Clears the bar's line.
    pub fn finish(&self) {
        if self.shown {
            eprint!("\r{}\r", " ".repeat(WIDTH + 60));
            let _ = std::io::stderr().flush();
        }
    }
}

/// `label [#######-------]  45%  450000/1000000 events`.
fn line(label: &str, done: u64, total: u64) -> String {
    let ratio = if total == 0 {
        1.0
    } else {
        (done.min(total) as f64) / (total as f64)
    };
    let filled = ((ratio * WIDTH as f64) as usize).min(WIDTH);
    format!(
        "{label} [{}{}] {:>3.0}% {done}/{total} events",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        ratio * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::line;

    #[test]
    fn the_bar_fills_with_the_share_done() {
        assert_eq!(
            line("export", 50, 100),
            "export [###############---------------]  50% 50/100 events"
        );
        assert_eq!(
            line("rebuild", 0, 0),
            "rebuild [##############################] 100% 0/0 events"
        );
    }
}
