//! Durations as people read them in messages: `45s`, `5m 30s`, `2h 5m`.

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

#[cfg(test)]
mod tests {
    #[test]
    fn reads_like_a_person_would_say_it() {
        assert_eq!(super::secs(45), "45s");
        assert_eq!(super::secs(300), "5m");
        assert_eq!(super::secs(330), "5m 30s");
        assert_eq!(super::secs(7500), "2h 5m");
    }
}
