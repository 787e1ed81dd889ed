//! Why a link to a lond closed.

use std::fmt;

use crate::enc::EncError;

/// The typed reason a [`Link`](crate::link::Link) (or a [`Session`](crate::session::Session)) closed. Remote faults and local decisions
/// are distinguished so that the host scheduler and the logs can tell them apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The driver could not open the TCP connection.
    ConnectFailed(std::io::ErrorKind),
    /// The TCP connection was not established within the connect timeout.
    ConnectTimeout,
    /// The peer answered `refused`.
    Refused,
    /// The peer sent a line the handshake did not expect in this state.
    UnexpectedLine { state: &'static str },
    /// An `enc:` line from the peer could not be decoded.
    BadEnc(EncError),
    /// The peer sent a line longer than the configured maximum.
    LineTooLong,
    /// An `enc:` reply decrypted to more than one line: handed on, it would answer a client
    /// with two lines and put every later answer of that connection out of step.
    ReplyHasLineFeed,
    /// The peer sent bytes while no reply was due.
    UnsolicitedData,
    /// The peer closed the connection.
    Eof,
    /// Reading from the socket failed.
    ReadError(std::io::ErrorKind),
    /// Writing to the socket failed.
    WriteError(std::io::ErrorKind),
    /// No progress within the per-step inactivity timeout.
    StepTimeout,
    /// Closed on request of the owner.
    Local,
}

impl CloseReason {
    /// True when the reason lies with the peer or the network, not with a local decision.
    pub fn is_remote(&self) -> bool {
        !matches!(self, CloseReason::Local)
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::ConnectFailed(kind) => write!(f, "connect failed: {kind}"),
            CloseReason::ConnectTimeout => f.write_str("connect timed out"),
            CloseReason::Refused => f.write_str("refused by peer"),
            CloseReason::UnexpectedLine { state } => {
                write!(f, "unexpected line from peer in state {state}")
            }
            CloseReason::BadEnc(e) => write!(f, "bad encrypted line from peer: {e}"),
            CloseReason::LineTooLong => f.write_str("line from peer too long"),
            CloseReason::ReplyHasLineFeed => f.write_str("decrypted reply holds a line feed"),
            CloseReason::UnsolicitedData => f.write_str("data from peer when no reply was due"),
            CloseReason::Eof => f.write_str("connection closed by peer"),
            CloseReason::ReadError(kind) => write!(f, "read error: {kind}"),
            CloseReason::WriteError(kind) => write!(f, "write error: {kind}"),
            CloseReason::StepTimeout => f.write_str("timed out waiting for peer"),
            CloseReason::Local => f.write_str("closed locally"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    #[test]
    fn only_a_local_close_is_not_remote() {
        assert!(!CloseReason::Local.is_remote());
        assert!(CloseReason::Eof.is_remote());
        assert!(CloseReason::StepTimeout.is_remote());
    }

    #[test]
    fn every_reason_reads_as_in_lonc_log() {
        // The text ends lonc.log lines such as `Connection to msul1 lost: <reason>`.
        let cases = [
            (
                CloseReason::ConnectFailed(ErrorKind::ConnectionRefused),
                "connect failed: connection refused",
            ),
            (CloseReason::ConnectTimeout, "connect timed out"),
            (CloseReason::Refused, "refused by peer"),
            (
                CloseReason::UnexpectedLine {
                    state: "Initialized",
                },
                "unexpected line from peer in state Initialized",
            ),
            (
                CloseReason::BadEnc(EncError::NotHex),
                "bad encrypted line from peer: enc: body is not hexadecimal",
            ),
            (CloseReason::LineTooLong, "line from peer too long"),
            (
                CloseReason::UnsolicitedData,
                "data from peer when no reply was due",
            ),
            (CloseReason::Eof, "connection closed by peer"),
            (
                CloseReason::ReadError(ErrorKind::ConnectionReset),
                "read error: connection reset",
            ),
            (
                CloseReason::WriteError(ErrorKind::BrokenPipe),
                "write error: broken pipe",
            ),
            (CloseReason::StepTimeout, "timed out waiting for peer"),
            (CloseReason::Local, "closed locally"),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text, "{reason:?}");
        }
    }
}
