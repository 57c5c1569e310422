//! Checks run on candidate matches only, to keep false positives down.
//!
//! A regular expression says "nine digits in this shape"; a validator says "and this is a number
//! that can actually be issued". They run after the automaton has found a candidate, never on
//! clean text, so their cost is proportional to the number of candidates.

use std::fmt;
use std::str::FromStr;

use crate::error::MaskError;

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
    /// International Bank Account Number, ISO 13616: 15 to 34 characters, country letters,
    /// and the mod-97 check of ISO 7064 (the rearranged number leaves 1).
    Iban,
    /// UK NHS number: 10 digits, the last a mod-11 check digit over the first nine weighted 10
    /// to 2 (a remainder giving 10 is never issued).
    NhsNumber,
    /// Spanish DNI (8 digits) or NIE (`X`, `Y` or `Z` and 7 digits) with its check letter: the
    /// number mod 23 indexes `TRWAGMYFPDXBNJZSQVHLCKE`.
    SpanishId,
    /// Italian codice fiscale: 16 characters, the last a check letter from the odd/even
    /// position tables of the decree of 23 December 1976.
    CodiceFiscale,
    /// Swedish personnummer or samordningsnummer (`YYMMDD-NNNC`, optionally with the century):
    /// a plausible date (day + 60 for samordningsnummer) and a Luhn check over the ten digits.
    Personnummer,
    /// French NIR (numéro de sécurité sociale): 13 characters (Corsica's `2A`/`2B` counted as
    /// 19/18) and a two-digit key, 97 minus the number mod 97.
    Nir,
    /// An international phone number (`+CC …`): 8 to 15 digits, as E.164 allows.
    E164,
}

impl Validator {
    /// Every validator, as configuration files name them.
    pub const NAMES: [&'static str; 10] = [
        "luhn",
        "npi",
        "ssn",
        "iban",
        "nhs-number",
        "es-dni",
        "codice-fiscale",
        "personnummer",
        "nir",
        "e164",
    ];

    const ALL: [Validator; 10] = [
        Validator::Luhn,
        Validator::Npi,
        Validator::Ssn,
        Validator::Iban,
        Validator::NhsNumber,
        Validator::SpanishId,
        Validator::CodiceFiscale,
        Validator::Personnummer,
        Validator::Nir,
        Validator::E164,
    ];

    /// The name used in configuration files.
    pub fn name(self) -> &'static str {
        let i = Validator::ALL.iter().position(|&v| v == self).unwrap_or(0);
        Validator::NAMES[i]
    }

    /// Whether `candidate` passes the check.
    pub fn check(self, candidate: &[u8]) -> bool {
        match self {
            Validator::Luhn => luhn(digits(candidate)),
            Validator::Npi => npi(candidate),
            Validator::Ssn => ssn(candidate),
            Validator::Iban => iban(candidate),
            Validator::NhsNumber => nhs(candidate),
            Validator::SpanishId => spanish_id(candidate),
            Validator::CodiceFiscale => codice_fiscale(candidate),
            Validator::Personnummer => personnummer(candidate),
            Validator::Nir => nir(candidate),
            Validator::E164 => (8..=15).contains(&digits(candidate).count()),
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
        let lower = s.to_ascii_lowercase();
        Validator::NAMES
            .iter()
            .position(|n| *n == lower)
            .map(|i| Validator::ALL[i])
            .ok_or_else(|| MaskError::UnknownValidator {
                name: s.to_owned(),
                expected: &Validator::NAMES,
            })
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

/// The letters and digits of `text`, upper-cased.
fn alnum(text: &[u8]) -> Vec<u8> {
    text.iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::to_ascii_uppercase)
        .collect()
}

fn iban(candidate: &[u8]) -> bool {
    let s = alnum(candidate);
    if !(15..=34).contains(&s.len())
        || !s[..2].iter().all(u8::is_ascii_uppercase)
        || !s[2..4].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    // The first four characters go to the end; letters count as 10..35; the number mod 97,
    // computed digit by digit, must be 1.
    let mut rem = 0u32;
    for &c in s[4..].iter().chain(&s[..4]) {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn nhs(candidate: &[u8]) -> bool {
    let d: Vec<u32> = digits(candidate).map(u32::from).collect();
    if d.len() != 10 {
        return false;
    }
    let sum: u32 = d[..9].iter().zip((2..=10).rev()).map(|(x, w)| x * w).sum();
    match 11 - sum % 11 {
        11 => d[9] == 0,
        10 => false,
        c => d[9] == c,
    }
}

fn spanish_id(candidate: &[u8]) -> bool {
    const LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    let s = alnum(candidate);
    let (Some((&letter, body)), 9) = (s.split_last(), s.len()) else {
        return false;
    };
    let mut n = 0u32;
    for (i, &c) in body.iter().enumerate() {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            // NIE: the leading letter stands for a digit.
            b'X' | b'Y' | b'Z' if i == 0 => u32::from(c - b'X'),
            _ => return false,
        };
        n = n * 10 + v;
    }
    LETTERS[(n % 23) as usize] == letter
}

fn codice_fiscale(candidate: &[u8]) -> bool {
    // Values of characters in odd positions (1st, 3rd, …), for 0-9 then A-Z.
    const ODD: [u32; 36] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3,
        6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
    ];
    let s = alnum(candidate);
    if s.len() != 16 || !s[15].is_ascii_uppercase() {
        return false;
    }
    let mut sum = 0;
    for (i, &c) in s[..15].iter().enumerate() {
        let k = if c.is_ascii_digit() {
            usize::from(c - b'0')
        } else {
            usize::from(c - b'A') + 10
        };
        sum += if i % 2 == 0 {
            ODD[k]
        } else if c.is_ascii_digit() {
            k as u32
        } else {
            k as u32 - 10
        };
    }
    u32::from(s[15] - b'A') == sum % 26
}

fn personnummer(candidate: &[u8]) -> bool {
    let mut d: Vec<u8> = digits(candidate).collect();
    if d.len() == 12 {
        d.drain(..2);
    }
    if d.len() != 10 {
        return false;
    }
    let month = d[2] * 10 + d[3];
    let day = d[4] * 10 + d[5];
    let day = if day > 60 { day - 60 } else { day };
    (1..=12).contains(&month) && (1..=31).contains(&day) && luhn(d.iter().copied())
}

fn nir(candidate: &[u8]) -> bool {
    let s = alnum(candidate);
    if s.len() != 15 {
        return false;
    }
    let mut n: u64 = 0;
    for (i, &c) in s[..13].iter().enumerate() {
        let v = match (i, c) {
            (_, b'0'..=b'9') => u64::from(c - b'0'),
            // Corsica: 2A and 2B stand for 19 and 18 in the computation.
            (6, b'A') => {
                n = n / 10 * 10 + 1;
                9
            }
            (6, b'B') => {
                n = n / 10 * 10 + 1;
                8
            }
            _ => return false,
        };
        n = n * 10 + v;
    }
    let key = s[13..].iter().try_fold(0u64, |k, &c| {
        c.is_ascii_digit().then(|| k * 10 + u64::from(c - b'0'))
    });
    key == Some(97 - n % 97)
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
        for v in Validator::ALL {
            assert_eq!(v.name().parse::<Validator>().ok(), Some(v));
        }
        assert!("mod97".parse::<Validator>().is_err());
    }

    #[track_caller]
    fn check(v: Validator, good: &[&str], bad: &[&str]) {
        for g in good {
            assert!(v.check(g.as_bytes()), "{v}: {g} should pass");
        }
        for b in bad {
            assert!(!v.check(b.as_bytes()), "{v}: {b} should fail");
        }
    }

    #[test]
    fn iban_mod_97() {
        // ISO 13616's and the European Committee for Banking Standards' examples.
        check(
            Validator::Iban,
            &[
                "GB82 WEST 1234 5698 7654 32",
                "GB82WEST12345698765432",
                "DE89 3704 0044 0532 0130 00",
                "FR14 2004 1010 0505 0001 3M02 606",
                "NL91 ABNA 0417 1643 00",
                "BE68 5390 0754 7034",
            ],
            &[
                "GB82 WEST 1234 5698 7654 33",
                "GB28 WEST 1234 5698 7654 32",
                "DE89 3704 0044 0532 0130 01",
                "XX00 0000",
            ],
        );
    }

    #[test]
    fn nhs_number_mod_11() {
        // NHS Digital's test number 943 476 5919; a number whose check would be 10 is never
        // issued.
        check(
            Validator::NhsNumber,
            &["943 476 5919", "9434765919", "401-023-2137"],
            &["943 476 5918", "943 476 591", "1234567890"],
        );
    }

    #[test]
    fn spanish_dni_and_nie_letters() {
        // The Ministry of the Interior's examples.
        check(
            Validator::SpanishId,
            &[
                "12345678Z",
                "12345678-Z",
                "X1234567L",
                "Y1234567X",
                "00000000T",
            ],
            &["12345678A", "X1234567A", "1234567Z", "A1234567L"],
        );
    }

    #[test]
    fn codice_fiscale_check_letter() {
        // The usual example ("Mario Rossi", Agenzia delle Entrate's documentation) and
        // one-character changes.
        check(
            Validator::CodiceFiscale,
            &["RSSMRA85T10A562S", "rssmra85t10a562s"],
            &["RSSMRA85T10A562T", "RSSMRA85T10A563S", "RSSMRA85T10A562"],
        );
    }

    #[test]
    fn personnummer_luhn_and_date() {
        // Skatteverket's example 811218-9876, with the century too; the same person's
        // samordningsnummer form (day + 60, check digit recomputed).
        check(
            Validator::Personnummer,
            &["811218-9876", "19811218-9876", "811278-9873"],
            &["811218-9877", "811318-9874", "811200-9878"],
        );
    }

    #[test]
    fn nir_key() {
        // The examples of the French Wikipedia article on the NIR, and a Corsican number
        // (2A counts as 19; key computed).
        check(
            Validator::Nir,
            &[
                "1 84 12 76 451 089 46",
                "255081416802538",
                "2 69 05 2A 001 046 84",
            ],
            &[
                "1 84 12 76 451 089 47",
                "1 84 12 76 451 089",
                "2 69 05 2C 001 046 84",
            ],
        );
    }

    #[test]
    fn e164_length() {
        check(
            Validator::E164,
            &["+44 20 7946 0958", "+33 1 23 45 67 89", "+4915112345678"],
            &["+1 234", "+1234567890123456"],
        );
    }
}
