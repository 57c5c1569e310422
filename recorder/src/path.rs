//! Where recordings live: `<dir>/<yyyy>/<mm>/<dd>/<session>-<channel>.cast` and its `.sig`.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::RecorderError;

/// The path of a channel's recording under `dir`, dated by the UTC day of `when`.
///
/// # Errors
/// [`RecorderError::InvalidSessionId`] when `session` could escape the directory or is not a
/// plain file name (it is written into a path, so only a conservative alphabet is accepted).
pub fn recording_path(
    dir: &Path,
    session: &str,
    channel: u32,
    when: SystemTime,
) -> Result<PathBuf, RecorderError> {
    let valid = !session.is_empty()
        && !session.starts_with('.')
        && session
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid {
        return Err(RecorderError::InvalidSessionId(session.to_owned()));
    }
    // Times before 1970 only come from a broken clock; file them under 1970-01-01.
    let secs = when
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_date(secs / 86_400);
    Ok(dir
        .join(format!("{y:04}"))
        .join(format!("{m:02}"))
        .join(format!("{d:02}"))
        .join(format!("{session}-{channel}.cast")))
}

/// The sidecar of a cast file: the same path with `.sig` appended.
pub fn sidecar_path(cast: &Path) -> PathBuf {
    let mut name = cast.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
///
/// Howard Hinnant's `civil_from_days`; a date crate would be a dependency for one function.
fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_by_utc_day() {
        // 2024-02-29T23:59:59Z, a leap day one second before midnight.
        let t = UNIX_EPOCH + Duration::from_secs(1_709_251_199);
        let p = recording_path(Path::new("/rec"), "s1", 3, t).unwrap();
        assert_eq!(p, Path::new("/rec/2024/02/29/s1-3.cast"));
        let p = recording_path(Path::new("/rec"), "s1", 3, t + Duration::from_secs(1)).unwrap();
        assert_eq!(p, Path::new("/rec/2024/03/01/s1-3.cast"));
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(10_957), (2000, 1, 1));
    }

    #[test]
    fn refuses_session_ids_that_leave_the_directory() {
        for bad in ["", "../x", "a/b", ".hidden", "a b", "é"] {
            assert!(
                matches!(
                    recording_path(Path::new("/r"), bad, 0, UNIX_EPOCH),
                    Err(RecorderError::InvalidSessionId(_))
                ),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn sidecar_appends_sig() {
        assert_eq!(
            sidecar_path(Path::new("/r/a-1.cast")),
            Path::new("/r/a-1.cast.sig")
        );
    }
}
