//! Log decisions as they leave the core: a severity and a message.

/// loncnew's severities, plus debug messages that only appear when debug logging is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    Critical,
    Success,
    Info,
    Warning,
    Debug,
}

/// One line the core wants logged; the driver adds time, pid, host and status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEvent {
    pub severity: Severity,
    pub message: String,
}

impl LogEvent {
    pub fn new(severity: Severity, message: impl Into<String>) -> Self {
        LogEvent {
            severity,
            message: message.into(),
        }
    }
}
