//! Checks run on candidate matches only, to keep false positives down.
//!
//! A regular expression says "nine digits in this shape"; a validator says "and this is a number
//! that can actually be issued". They run after the automaton has found a candidate, never on
//! clean text, so their cost is proportional to the number of candidates.

use std::fmt;
use std::str::FromStr;

use super::MaskError;

/// A check on the text of a candidate match (the masked group, or the whole match).
///
/// Only ASCII digits of the candidate are considered, so separators (`-`, space, `.`) do not
/// matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Validator {
    /// Luhn (mod 10) checksum, as used by payment card numbers.
    Luhn,
    /// US National Provider Identifier: 10 digits whose Luhn checksum is computed with the
    /// `80840` prefix (ISO 7812 issuer for US health).
    Npi,
    /// US Social Security Number issuance rules: 9 digits, area not `000`, `666` or `900`–`999`,
    /// group not `00`, serial not `0000`.
    Ssn,
}

impl Validator {
    /// The name used in configuration files.
    pub fn name(self) -> &'static str {
        match self {
            Validator::Luhn => "luhn",
            Validator::Npi => "npi",
            Validator::Ssn => "ssn",
        }
    }

    /// Whether `candidate` passes the check.
    pub fn check(self, candidate: &[u8]) -> bool {
        match self {
            Validator::Luhn => luhn(digits(candidate)),
            Validator::Npi => npi(candidate),
            Validator::Ssn => ssn(candidate),
        }
    }
}

impl fmt::Display for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Validator {
    type Err = MaskError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "luhn" => Ok(Validator::Luhn),
            "npi" => Ok(Validator::Npi),
            "ssn" => Ok(Validator::Ssn),
            _ => Err(MaskError::UnknownValidator { name: s.to_owned() }),
        }
    }
}

/// The ASCII digits of `text`, as values 0–9, in order.
fn digits(text: &[u8]) -> impl DoubleEndedIterator<Item = u8> + Clone + '_ {
    text.iter().filter(|b| b.is_ascii_digit()).map(|b| b - b'0')
}

/// Luhn checksum over a digit sequence; an empty sequence fails.
fn luhn(digits: impl DoubleEndedIterator<Item = u8> + Clone) -> bool {
    let mut sum = 0u32;
    let mut count = 0usize;
    for (i, d) in digits.rev().enumerate() {
        let d = u32::from(d);
        sum += if i % 2 == 1 {
            let x = d * 2;
            if x > 9 {
                x - 9
            } else {
                x
            }
        } else {
            d
        };
        count += 1;
    }
    count > 0 && sum.is_multiple_of(10)
}

fn npi(candidate: &[u8]) -> bool {
    // The NPI check digit is defined as the Luhn digit of "80840" followed by the first nine
    // digits, so prefixing the constant and running plain Luhn is exactly the standard.
    const PREFIX: [u8; 5] = [8, 0, 8, 4, 0];
    digits(candidate).count() == 10 && luhn(PREFIX.iter().copied().chain(digits(candidate)))
}

fn ssn(candidate: &[u8]) -> bool {
    let mut d = [0u8; 9];
    let mut n = 0;
    for x in digits(candidate) {
        if n == d.len() {
            return false;
        }
        d[n] = x;
        n += 1;
    }
    if n != 9 {
        return false;
    }
    let area = u16::from(d[0]) * 100 + u16::from(d[1]) * 10 + u16::from(d[2]);
    let group = d[3] * 10 + d[4];
    let serial = d[5..].iter().any(|&x| x != 0);
    area != 0 && area != 666 && area < 900 && group != 0 && serial
}

#[cfg(test)]
mod tests {
    use super::Validator;

    #[test]
    fn luhn_accepts_test_cards_and_rejects_single_digit_changes() {
        for card in [
            "4111 1111 1111 1111",
            "5500-0000-0000-0004",
            "378282246310005",
        ] {
            assert!(Validator::Luhn.check(card.as_bytes()), "{card}");
        }
        for card in [
            "4111 1111 1111 1112",
            "5500-0000-0000-0005",
            "378282246310006",
            "",
        ] {
            assert!(!Validator::Luhn.check(card.as_bytes()), "{card}");
        }
    }

    #[test]
    fn npi_uses_the_80840_prefix() {
        // CMS's published example.
        assert!(Validator::Npi.check(b"1234567893"));
        assert!(!Validator::Npi.check(b"1234567890"));
        // Plain Luhn would accept this one; the prefix makes it fail.
        assert!(Validator::Luhn.check(b"1234567897"));
        assert!(!Validator::Npi.check(b"1234567897"));
        assert!(!Validator::Npi.check(b"123456789"));
    }

    #[test]
    fn ssn_issuance_rules() {
        assert!(Validator::Ssn.check(b"123-45-6789"));
        assert!(Validator::Ssn.check(b"899 99 0001"));
        for bad in [
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "999-12-3456",
            "123-00-4567",
            "123-45-0000",
            "12345678",
            "1234567890",
        ] {
            assert!(!Validator::Ssn.check(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn names_round_trip() {
        for v in [Validator::Luhn, Validator::Npi, Validator::Ssn] {
            assert_eq!(v.name().parse::<Validator>().ok(), Some(v));
        }
        assert!("mod97".parse::<Validator>().is_err());
    }
}
