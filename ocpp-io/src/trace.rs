//! Recording a live connection's trace to a file.
//!
//! The recorder itself is `ocpp_core::trace::Recorder`, a wrapper around the role machine
//! that both adapters run like any machine: wrap the machine, pass it to `connect` or return
//! it from the server's factory, and send application commands through the recorder's
//! methods. This module supplies the sink that appends its lines to a file.
//!
//! ```no_run
//! use ocpp_core::charge_point::{ChargePoint, ChargePointSetup};
//! use ocpp_core::rpc::UuidV4Ids;
//! use ocpp_core::trace::Recorder;
//! use ocpp_core::v16::BootNotificationRequest;
//! use ocpp_io::trace::FileSink;
//!
//! let setup = ChargePointSetup::new(BootNotificationRequest::new("Vendor", "Model"));
//! let sink = FileSink::create("cp.trace.jsonl").unwrap();
//! let machine: Recorder<ChargePoint> =
//!     Recorder::new(&setup, Box::new(UuidV4Ids), Some(Box::new(sink))).unwrap();
//! // ocpp_io_tokio::connect(config, machine) ...
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use ocpp_core::trace::TraceSink;

/// A [`TraceSink`] that writes each line to a file as it comes (flushed per line, so that a
/// process that is killed leaves a trace complete up to its last input).
///
/// A write error does not stop the machine: the sink stops writing and keeps the error for
/// [`FileSink::error`] (the trace is then incomplete, and a replay will say where).
#[derive(Debug)]
pub struct FileSink {
    file: Option<BufWriter<File>>,
    error: Arc<Mutex<Option<String>>>,
}

/// The first write error of a [`FileSink`], readable after the sink has moved into the
/// recorder.
#[derive(Debug, Clone, Default)]
pub struct SinkError(Arc<Mutex<Option<String>>>);

impl SinkError {
    /// The first error, if writing failed.
    pub fn get(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl FileSink {
    /// Creates (or truncates) the file at `path`.
    pub fn create(path: impl AsRef<Path>) -> std::io::Result<FileSink> {
        Ok(FileSink::new(File::create(path)?))
    }

    /// Writes to `file`, opened for writing.
    pub fn new(file: File) -> FileSink {
        FileSink {
            file: Some(BufWriter::new(file)),
            error: Arc::default(),
        }
    }

    /// Where the first write error will be.
    pub fn error(&self) -> SinkError {
        SinkError(self.error.clone())
    }
}

impl TraceSink for FileSink {
    fn write_line(&mut self, line: &str) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let written = file
            .write_all(line.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.flush());
        if let Err(error) = written {
            *self.error.lock().unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
            self.file = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_written_one_per_line() {
        let dir = std::env::temp_dir().join(format!("ocpp-io-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.jsonl");
        let mut sink = FileSink::create(&path).unwrap();
        sink.write_line(r#"{"a":1}"#);
        sink.write_line(r#"{"b":2}"#);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"b\":2}\n"
        );
        assert_eq!(sink.error().get(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
