//! Standard output that survives a closed pipe.
//!
//! `println!` panics when stdout is gone (`ocpp actions --ocpp 1.6 | head -1`). A command's
//! result is worth nothing once its reader has left, so the first failed write silences the
//! rest instead, and the exit status stays the command's own.

use std::io::{self, BufWriter, Stdout, Write};

/// Buffered stdout that stops writing after the first error.
pub(crate) struct Out {
    writer: BufWriter<Stdout>,
    failed: bool,
}

impl Out {
    pub(crate) fn stdout() -> Out {
        Out {
            writer: BufWriter::new(io::stdout()),
            failed: false,
        }
    }

    /// Writes `text` and a newline.
    pub(crate) fn line(&mut self, text: &str) {
        if !self.failed {
            self.failed = writeln!(self.writer, "{text}").is_err();
        }
    }

    /// Flushes what is buffered; call before exiting.
    pub(crate) fn flush(&mut self) {
        if !self.failed {
            self.failed = self.writer.flush().is_err();
        }
    }
}
