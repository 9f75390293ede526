//! Progress for long CLI work: a bar on a terminal, a plain line every 10% otherwise (logs,
//! CI, systemd), so an operator always sees that work is moving.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    done: u64,
    next_line: u64,
}

impl Progress {
    pub fn new(label: &str, total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{msg} [{bar:40.cyan/blue}] {pos}/{len} ({per_sec}, {eta} left)",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label.to_string());
            bar
        });
        Progress {
            bar,
            label: label.to_string(),
            total,
            done: 0,
            next_line: total / 10,
        }
    }

    pub fn inc(&mut self, n: u64) {
        self.done += n;
        match &self.bar {
            Some(bar) => bar.inc(n),
            None => {
                if self.total > 0 && self.done >= self.next_line && self.done < self.total {
                    eprintln!(
                        "{}: {}/{} ({}%)",
                        self.label,
                        self.done,
                        self.total,
                        self.done * 100 / self.total
                    );
                    self.next_line += (self.total / 10).max(1);
                }
            }
        }
    }

    /// Units done so far.
    pub fn done(&self) -> u64 {
        self.done
    }

    pub fn finish(self) {
        match self.bar {
            Some(bar) => bar.finish(),
            None => eprintln!("{}: {}/{} done", self.label, self.done, self.total),
        }
    }
}
