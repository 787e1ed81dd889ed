//! The clock and the local time zone, for log lines (`lonnet.perm.log`, `lonc.log`).
//!
//! [`lonc_core::logfmt`] only formats a [`LocalTime`]; this module reads the system clock and
//! asks the C library (`localtime_r`, which honours `TZ` and `/etc/localtime`) to break it down,
//! the way Perl's `scalar localtime` did for lonnet and loncnew.

use std::time::{SystemTime, UNIX_EPOCH};

use lonc_core::logfmt::LocalTime;

/// The current Unix time in seconds and the same instant as local time.
///
/// A clock set before 1970 reads as 0.
pub fn now_local() -> (u64, LocalTime) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (secs, local_time(i64::try_from(secs).unwrap_or(i64::MAX)))
}

/// `unix_secs` as local time. Falls back to UTC if the C library cannot represent the time.
pub fn local_time(unix_secs: i64) -> LocalTime {
    // `time_t` is 64 bits on every target LON-CAPA runs on; on a 32-bit one the conversion
    // can fail.
    #[allow(irrefutable_let_patterns, clippy::unnecessary_fallible_conversions)]
    let Ok(t) = libc::time_t::try_from(unix_secs) else {
        return LocalTime::from_unix(unix_secs, 0);
    };
    // SAFETY: `tm` is plain old data, so all-zero is a valid value; `localtime_r` only reads
    // `t` and writes `tm`, both valid for the duration of the call, and is the reentrant form
    // (no shared static buffer). It returns NULL, leaving `tm` unspecified, on failure, which
    // we check before reading `tm`.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return LocalTime::from_unix(unix_secs, 0);
        }
        tm
    };
    let small = |v: libc::c_int| u8::try_from(v).unwrap_or(u8::MAX);
    LocalTime {
        year: tm.tm_year.saturating_add(1900),
        month: small(tm.tm_mon.saturating_add(1)),
        day: small(tm.tm_mday),
        hour: small(tm.tm_hour),
        minute: small(tm.tm_min),
        second: small(tm.tm_sec),
        weekday: small(tm.tm_wday),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_agrees_with_core_arithmetic_up_to_the_zone_offset() {
        // Whatever the zone, the local time is the UTC time shifted by less than a day (the
        // widest offsets are -12 h and +14 h), and minutes and seconds agree for every zone
        // offset that is a multiple of 15 minutes.
        let t = 1_118_259_062; // Wed Jun  8 19:31:02 2005 UTC
        let local = local_time(t);
        let utc = LocalTime::from_unix(t, 0);
        assert_eq!(local.second, utc.second);
        assert_eq!(local.minute % 15, utc.minute % 15);
        assert!((2005..=2005).contains(&local.year));
        assert!(local.weekday <= 6 && (1..=12).contains(&local.month));
        let offsets_match =
            (-14 * 4..=14 * 4).any(|quarter: i32| LocalTime::from_unix(t, quarter * 900) == local);
        assert!(
            offsets_match,
            "{local} is not {utc} shifted by a zone offset"
        );
    }

    #[test]
    fn now_is_after_the_project_started() {
        let (secs, local) = now_local();
        assert!(secs > 1_700_000_000);
        assert!(local.year >= 2023);
    }
}
