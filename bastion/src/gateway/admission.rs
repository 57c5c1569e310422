//! Who may start a connection before it has authenticated: a bounded number of unauthenticated
//! connections in all and per source address, random early drop as they fill up (OpenSSH's
//! `MaxStartups`), and a rate of new connections per source, since each costs a key exchange
//! (DHEat, CVE-2002-20001). One address holding its share, or opening connections as fast as it
//! can, leaves room for every other address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::gateway::places::{Full, Place, Places};

/// The settings, from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Unauthenticated connections in all.
    pub total: usize,
    /// From one source.
    pub per_source: usize,
    /// From this many unauthenticated connections on, new ones are dropped at random: with
    /// `drop_rate` percent chance here, rising to every one at `total`.
    pub drop_from: usize,
    pub drop_rate: u32,
    /// New connections per second one source may open (as many in a burst).
    pub rate_per_source: u32,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its source opens connections faster than its rate.
    Rate,
    /// Its source holds its share of unauthenticated connections.
    Source,
    /// All unauthenticated places are taken.
    Full,
    /// Dropped at random, the places filling up.
    Early,
}

impl Refused {
    /// Every reason, in the order of their numbers.
    pub const ALL: [Refused; 4] = [
        Refused::Rate,
        Refused::Source,
        Refused::Full,
        Refused::Early,
    ];

    /// The reason, for logs and metrics.
    pub fn code(self) -> &'static str {
        match self {
            Refused::Rate => "source-rate",
            Refused::Source => "source-full",
            Refused::Full => "full",
            Refused::Early => "early-drop",
        }
    }
}

/// A token bucket per source.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Sources whose rate is tracked at most; past it, full buckets are forgotten first.
const MAX_SOURCES: usize = 16_384;

/// Admission of unauthenticated connections.
#[derive(Debug)]
pub struct Admission {
    limits: Limits,
    places: Arc<Places<IpAddr>>,
    rates: Mutex<HashMap<IpAddr, Bucket>>,
}

impl Admission {
    pub fn new(limits: Limits) -> Admission {
        Admission {
            limits,
            places: Places::new(limits.per_source.max(1), limits.total.max(1)),
            rates: Mutex::new(HashMap::new()),
        }
    }

    /// A place for a connection from `peer`, held until it authenticates (or waits for a
    /// device login, which has places of its own).
    pub fn admit(&self, peer: IpAddr) -> Result<Place<IpAddr>, Refused> {
        let source = crate::gateway::places::source_of(peer);
        if !self.within_rate(source, Instant::now()) {
            return Err(Refused::Rate);
        }
        let taken = self.places.taken();
        if taken < self.limits.total && taken >= self.limits.drop_from && self.early_drop(taken) {
            return Err(Refused::Early);
        }
        self.places.take(source).map_err(|full| match full {
            Full::Key(_) => Refused::Source,
            Full::All(_) => Refused::Full,
        })
    }

    /// Spends a token of `source`'s bucket, if it has one.
    fn within_rate(&self, source: IpAddr, now: Instant) -> bool {
        let rate = f64::from(self.limits.rate_per_source.max(1));
        // No burst beyond a second's worth: a key exchange flood (DHEat) is what this bounds,
        // and ssh-audit rightly counts a burst as rate.
        let burst = rate;
        let mut rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
        if rates.len() >= MAX_SOURCES && !rates.contains_key(&source) {
            rates.retain(|_, b| refill(*b, now, rate, burst) < burst);
            if rates.len() >= MAX_SOURCES {
                // Flooded by distinct sources: the per-source rate cannot be kept for all of
                // them; the places still bound the connections.
                return true;
            }
        }
        let bucket = rates.entry(source).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        bucket.tokens = refill(*bucket, now, rate, burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether to drop one more connection with `taken` places taken (OpenSSH's formula).
    fn early_drop(&self, taken: usize) -> bool {
        let Limits {
            total,
            drop_from,
            drop_rate,
            ..
        } = self.limits;
        if taken >= total {
            return true;
        }
        let span = total.saturating_sub(drop_from).max(1) as f64;
        let over = taken.saturating_sub(drop_from) as f64;
        let rate = f64::from(drop_rate.min(100));
        let p = (rate + (100.0 - rate) * over / span) / 100.0;
        random_unit() < p
    }
}

fn refill(b: Bucket, now: Instant, rate: f64, burst: f64) -> f64 {
    (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate).min(burst)
}

/// A uniform number in `[0, 1)`.
fn random_unit() -> f64 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 4];
    // A failed read drops nothing rather than everything.
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        return 1.0;
    }
    f64::from(u32::from_be_bytes(b)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::gateway::places::source_of;

    fn limits() -> Limits {
        Limits {
            total: 8,
            per_source: 3,
            drop_from: 8,
            drop_rate: 30,
            rate_per_source: 1000,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_source_holds_its_share_and_others_still_get_in() {
        let a = Admission::new(limits());
        let held: Vec<_> = (0..3).map(|_| a.admit(ip("10.0.0.1")).unwrap()).collect();
        assert_eq!(a.admit(ip("10.0.0.1")).unwrap_err(), Refused::Source);
        // The same /64 is one source.
        let v6: Vec<_> = (0..3)
            .map(|i| a.admit(ip(&format!("2001:db8::{i}"))).unwrap())
            .collect();
        assert_eq!(a.admit(ip("2001:db8::ff")).unwrap_err(), Refused::Source);
        let other = a.admit(ip("10.0.0.2")).unwrap();
        drop(held);
        assert!(a.admit(ip("10.0.0.1")).is_ok());
        drop((v6, other));
    }

    #[test]
    fn all_places_taken_refuses_everyone() {
        let a = Admission::new(Limits {
            per_source: 8,
            ..limits()
        });
        let _held: Vec<_> = (0..8).map(|_| a.admit(ip("10.0.0.1")).unwrap()).collect();
        assert!(a.admit(ip("10.0.0.2")).is_err());
    }

    #[test]
    fn connections_are_dropped_at_random_as_places_fill() {
        let a = Admission::new(Limits {
            total: 100,
            per_source: 100,
            drop_from: 10,
            drop_rate: 30,
            rate_per_source: 1_000_000,
        });
        let _held: Vec<_> = (0..10).map(|_| a.admit(ip("10.0.0.1")).unwrap()).collect();
        // At the start mark, about 30% are dropped.
        let dropped = (0..2000).filter(|_| a.early_drop(10)).count();
        assert!((400..800).contains(&dropped), "{dropped}");
        // Half way, about 65%; at the top, all.
        let dropped = (0..2000).filter(|_| a.early_drop(55)).count();
        assert!((1100..1500).contains(&dropped), "{dropped}");
        assert!((0..100).all(|_| a.early_drop(100)));
    }

    #[test]
    fn a_source_opening_connections_fast_is_held_to_its_rate() {
        let a = Admission::new(Limits {
            rate_per_source: 5,
            ..limits()
        });
        let now = Instant::now();
        let source = ip("10.0.0.1");
        // A second's worth at once, then nothing until tokens come back.
        assert!((0..5).all(|_| a.within_rate(source, now)));
        assert!(!a.within_rate(source, now));
        assert!(a.within_rate(ip("10.0.0.2"), now));
        assert!(a.within_rate(source, now + Duration::from_millis(250)));
    }

    #[test]
    fn limits_apply_per_address_and_per_64() {
        assert_eq!(source_of(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(source_of(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(source_of(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
    }
}
