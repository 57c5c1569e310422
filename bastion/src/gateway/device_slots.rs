//! Places for device logins waiting for their user.
//!
//! A device login can wait minutes for someone at a browser. While it waits it gives back its
//! unauthenticated-connection place (see [`super::listener`]), so that a few slow sign-ins,
//! or someone opening many on purpose, cannot lock certificate holders out. These places bound
//! it instead: a few per source address, and no more in all than the unauthenticated limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Waiting device logins, by source.
#[derive(Debug)]
pub struct DeviceSlots {
    by_source: Mutex<HashMap<IpAddr, usize>>,
    per_source: usize,
    total: usize,
}

/// Why no place was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// This source already has `0` sign-ins waiting.
    Source(usize),
    /// The bastion has `0` sign-ins waiting.
    Everywhere(usize),
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let waiting = |n: usize| match n {
            1 => "1 sign-in is".to_string(),
            n => format!("{n} sign-ins are"),
        };
        match *self {
            Busy::Source(n) => write!(
                f,
                "{} already waiting from your address; finish {} first",
                waiting(n),
                if n == 1 { "it" } else { "one" }
            ),
            Busy::Everywhere(n) => write!(
                f,
                "{} already waiting on this bastion; try again shortly",
                waiting(n)
            ),
        }
    }
}

/// One waiting device login's place; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<DeviceSlots>,
    source: IpAddr,
}

impl DeviceSlots {
    /// At most `per_source` waiting from one source and `total` in all.
    pub fn new(per_source: usize, total: usize) -> Arc<DeviceSlots> {
        Arc::new(DeviceSlots {
            by_source: Mutex::new(HashMap::new()),
            per_source,
            total,
        })
    }

    /// A place for a sign-in from `peer`.
    pub fn take(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, Busy> {
        let source = source_of(peer);
        // A panic elsewhere while holding the lock leaves the counts consistent (each update
        // is one statement), so a poisoned lock is still usable.
        let mut map = self
            .by_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The source's own limit first: it is the one its user can do something about.
        if map.get(&source).is_some_and(|&n| n >= self.per_source) {
            return Err(Busy::Source(self.per_source));
        }
        if map.values().sum::<usize>() >= self.total {
            return Err(Busy::Everywhere(self.total));
        }
        *map.entry(source).or_insert(0) += 1;
        Ok(Slot {
            slots: Arc::clone(self),
            source,
        })
    }

    /// Sign-ins waiting now.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        let map = self
            .by_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.values().sum()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self
            .slots
            .by_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.source);
            }
        }
    }
}

/// The address a limit applies to: IPv4 as it is (IPv4-mapped IPv6 included), IPv6 by its /64,
/// which one subscriber usually gets whole.
fn source_of(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V6(v6) => {
            let mut s = v6.segments();
            s[4..].fill(0);
            IpAddr::from(s)
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn limits_per_source_and_in_all_and_gives_places_back() {
        let slots = DeviceSlots::new(2, 3);
        let a1 = slots.take(ip("10.0.0.1")).unwrap();
        // The same address, as IPv4-mapped IPv6.
        let a2 = slots.take(ip("::ffff:10.0.0.1")).unwrap();
        assert_eq!(slots.take(ip("10.0.0.1")).err(), Some(Busy::Source(2)));
        let b1 = slots.take(ip("2001:db8::1")).unwrap();
        assert_eq!(slots.take(ip("10.0.0.2")).err(), Some(Busy::Everywhere(3)));
        drop(a1);
        assert_eq!(slots.waiting(), 2);
        // Another address of the same /64 is the same source.
        let _b2 = slots.take(ip("2001:db8::ffff:2")).unwrap();
        drop(a2);
        assert_eq!(
            slots.take(ip("2001:db8:0:0:1::9")).err(),
            Some(Busy::Source(2))
        );
        let _c = slots.take(ip("2001:db8:0:1::1")).unwrap();
        drop(b1);
        assert_eq!(slots.waiting(), 2);
        assert!(slots.take(ip("10.0.0.1")).is_ok());
    }
}
