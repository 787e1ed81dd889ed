//! The `enc:<len>:<hex>` codec of encrypted requests and replies.

use std::fmt;

/// Why an `enc:` line could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncError {
    /// The line does not start with `enc:` or lacks the second colon.
    NotEnc,
    /// The length field is not a decimal number.
    BadLength,
    /// The hex body has a character that is not a hex digit.
    NotHex,
    /// The hex body is not a whole number of 16-digit blocks (or is empty).
    BadBlockCount,
    /// The declared length exceeds the decrypted size.
    LengthTooLarge,
}

impl fmt::Display for EncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EncError::NotEnc => "not an enc: line",
            EncError::BadLength => "enc: length is not a decimal number",
            EncError::NotHex => "enc: body is not hexadecimal",
            EncError::BadBlockCount => "enc: body is not a whole number of 8-byte blocks",
            EncError::LengthTooLarge => "enc: length exceeds the decrypted data",
        })
    }
}

impl std::error::Error for EncError {}
