//! The PHI masker, with chunking invariance as the oracle: however a stream is cut into
//! chunks, and whenever the live hold expires or typed bytes are shown, the recording gets
//! exactly what masking the whole stream at once gives.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mask::{Masker, Rule, RuleSet, Validator, MAX_HELD_BYTES, MAX_STRING_SCANNED};

use crate::input::{chunks, sizes_and_stream};

/// The HIPAA pack plus site rules of each kind: a capture group, a validator.
fn masker() -> &'static Masker {
    static MASKER: OnceLock<Masker> = OnceLock::new();
    MASKER.get_or_init(|| {
        let mut rules = RuleSet::hipaa();
        let site = [
            Rule::custom("badge", r"(?i)\bbadge[:#\s]{0,3}([A-Z]{2}\d{7})").with_group(1),
            Rule::custom("ticket-card", r"\bT[0-9]{16}\b").with_validator(Validator::Luhn),
        ];
        for rule in site {
            if let Err(e) = rules.push(rule) {
                panic!("site rule: {e}");
            }
        }
        match rules.compile() {
            Ok(m) => m,
            Err(e) => panic!("rules: {e}"),
        }
    })
}

/// Chunk sizes and a stream, as [`sizes_and_stream`] reads them; the high bits of the
/// first byte say after which chunks the live hold expires or the held bytes are shown.
pub fn check(data: &[u8]) {
    let (sizes, stream) = sizes_and_stream(data);
    let events = data.first().map_or(0, |b| b >> 3);
    let m = masker();
    let whole = m.mask(stream);
    let parts = chunks(stream, &sizes);

    let mut rec = m.recording();
    let mut out = Vec::new();
    for p in &parts {
        out.extend_from_slice(rec.push(p));
        // Memory stays bounded whatever arrives.
        assert!(
            rec.held() <= MAX_HELD_BYTES + MAX_STRING_SCANNED,
            "held {}",
            rec.held()
        );
    }
    out.extend_from_slice(rec.finish());
    assert_eq!(out, whole, "recording masker cut at {sizes:?}");

    // Byte by byte too, for short streams: on long ones this pass alone cost most of the
    // executions, and the fuzzer can choose chunks of one byte anyway.
    if stream.len() <= 256 {
        let mut bytewise = m.recording();
        let mut out = Vec::new();
        for b in stream.chunks(1) {
            out.extend_from_slice(bytewise.push(b));
        }
        out.extend_from_slice(bytewise.finish());
        assert_eq!(out, whole, "recording masker byte by byte");
    }

    // The dual masker's recording view ignores the screen's hold and echo.
    let mut dual = m.dual(Duration::from_millis(15));
    let mut now = Instant::now();
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        out.extend_from_slice(dual.push(p, now).recording);
        match (events >> (i % 4)) & 3 {
            1 => {
                now += Duration::from_millis(20);
                dual.poll(now);
            }
            2 => {
                dual.show_held();
            }
            _ => {}
        }
    }
    out.extend_from_slice(dual.finish().recording);
    assert_eq!(
        out, whole,
        "dual masker cut at {sizes:?}, events {events:#b}"
    );

    // A live masker whose hold never expires shows what the recording gets.
    let mut live = m.live(Duration::from_secs(3600));
    let now = Instant::now();
    let mut out = Vec::new();
    for p in &parts {
        out.extend_from_slice(live.push(p, now));
        out.extend_from_slice(live.poll(now));
    }
    out.extend_from_slice(live.finish());
    assert_eq!(out, whole, "live masker cut at {sizes:?}");
}
