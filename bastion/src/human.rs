//! Durations and counts as people read them in messages: `45s`, `5m 30s`, `2h 5m`;
//! `1 session`, `3 sessions`; sizes: `512 KiB`, `3 MiB`.

use std::time::Duration;

/// `d` to the second below an hour, to the minute above.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

/// The same for a number of seconds.
pub fn secs(s: u64) -> String {
    duration(Duration::from_secs(s))
}

/// A size in whole MiB when it is one (`3 MiB`), else in KiB (`512 KiB`).
pub fn bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
    } else {
        format!("{} KiB", n.div_ceil(1 << 10))
    }
}

/// `n` and `noun`, plural with `s` unless `n` is 1: `1 session`, `3 sessions`.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    match n.into() {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// The verb that agrees with `n`.
pub fn is_are(n: impl Into<u64>) -> &'static str {
    if n.into() == 1 {
        "is"
    } else {
        "are"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_agree_with_their_verb() {
        assert_eq!(super::count(1u32, "session"), "1 session");
        assert_eq!(super::count(10u32, "sign-in"), "10 sign-ins");
        assert_eq!((super::is_are(1u32), super::is_are(0u32)), ("is", "are"));
    }

    #[test]
    fn sizes_read_in_kib_or_mib() {
        assert_eq!(super::bytes(3 << 20), "3 MiB");
        assert_eq!(super::bytes((3 << 20) + (512 << 10)), "3.5 MiB");
        assert_eq!(super::bytes(512 << 10), "512 KiB");
    }

    #[test]
    fn reads_like_a_person_would_say_it() {
        assert_eq!(super::secs(45), "45s");
        assert_eq!(super::secs(300), "5m");
        assert_eq!(super::secs(330), "5m 30s");
        assert_eq!(super::secs(7500), "2h 5m");
    }
}
