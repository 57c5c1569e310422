//! A bounded number of places per key, and in all: device logins waiting per source address,
//! sessions open per identity.
//!
//! A place is held as a value and given back when dropped, so it cannot leak on any path out
//! of a connection.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Places taken, by key.
#[derive(Debug)]
pub struct Places<K: Hash + Eq> {
    taken: Mutex<HashMap<K, usize>>,
    per_key: usize,
    total: usize,
}

/// Why no place was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The key already holds this many places, its most.
    Key(usize),
    /// This many places are taken in all, the most.
    All(usize),
}

/// One place; given back when dropped.
#[derive(Debug)]
pub struct Place<K: Hash + Eq> {
    places: Arc<Places<K>>,
    key: K,
}

impl<K: Hash + Eq + Clone> Places<K> {
    /// At most `per_key` places for one key and `total` in all.
    pub fn new(per_key: usize, total: usize) -> Arc<Places<K>> {
        Arc::new(Places {
            taken: Mutex::new(HashMap::new()),
            per_key,
            total,
        })
    }

    /// A place for `key`.
    pub fn take(self: &Arc<Self>, key: K) -> Result<Place<K>, Full> {
        let mut taken = self.lock();
        // The key's own limit first: it is the one its user can do something about.
        if taken.get(&key).is_some_and(|&n| n >= self.per_key) {
            return Err(Full::Key(self.per_key));
        }
        if taken.values().sum::<usize>() >= self.total {
            return Err(Full::All(self.total));
        }
        *taken.entry(key.clone()).or_insert(0) += 1;
        Ok(Place {
            places: Arc::clone(self),
            key,
        })
    }
}

impl<K: Hash + Eq> Places<K> {
    fn lock(&self) -> MutexGuard<'_, HashMap<K, usize>> {
        // Each update is one statement: a poisoned lock still holds consistent counts.
        self.taken.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Places taken now, in all.
    pub fn taken(&self) -> usize {
        self.lock().values().sum()
    }
}

/// Lets a message through at most once a second (refusals under a flood).
#[derive(Debug, Default)]
pub struct Quiet(std::sync::atomic::AtomicU64);

impl Quiet {
    /// Whether a message may be logged now.
    pub fn ready(&self) -> bool {
        use std::sync::atomic::Ordering;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.0.swap(now, Ordering::Relaxed) != now
    }
}

impl<K: Hash + Eq> Drop for Place<K> {
    fn drop(&mut self) {
        let mut taken = self.places.lock();
        if let Some(n) = taken.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                taken.remove(&self.key);
            }
        }
    }
}

/// The address a limit applies to: IPv4 as it is (IPv4-mapped IPv6 included), IPv6 by its /64,
/// which one subscriber usually gets whole.
pub fn source_of(peer: std::net::IpAddr) -> std::net::IpAddr {
    match peer.to_canonical() {
        std::net::IpAddr::V6(v6) => {
            let mut s = v6.segments();
            s[4..].fill(0);
            std::net::IpAddr::from(s)
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_and_in_all_and_gives_places_back() {
        let places = Places::new(2, 3);
        let a1 = places.take("a").unwrap();
        let a2 = places.take("a").unwrap();
        assert_eq!(places.take("a").err(), Some(Full::Key(2)));
        let b1 = places.take("b").unwrap();
        assert_eq!(places.take("c").err(), Some(Full::All(3)));
        // A key at its limit hears about its own limit, even when all places are taken.
        assert_eq!(places.take("a").err(), Some(Full::Key(2)));
        drop(a1);
        assert_eq!(places.taken(), 2);
        let _b2 = places.take("b").unwrap();
        drop(a2);
        assert_eq!(places.take("b").err(), Some(Full::Key(2)));
        let _c = places.take("c").unwrap();
        drop(b1);
        assert_eq!(places.taken(), 2);
        assert!(places.take("a").is_ok());
        assert_eq!(places.taken(), 2);
    }
}
