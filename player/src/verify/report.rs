//! The result of verifying a recording, for people ([`std::fmt::Display`]) and machines (serde).

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// What verification concluded. Line numbers count event lines after the header (the header is
/// line 0, so event line `n` is line `n + 1` of the file), as checkpoints do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    /// Every line matches the chain and a final checkpoint seals it.
    Sealed,
    /// Every line matches; sealed after a crash by recovery, right after a live checkpoint:
    /// every line was signed while it was being recorded.
    Recovered {
        /// Event lines covered by periodic checkpoints signed while recording.
        signed_while_recording: u64,
    },
    /// Every line matches, but the last lines were signed only by crash recovery: no live
    /// checkpoint covered them. The bastion writes up to a second of output there before a
    /// crash, but so could anyone able to write the file while it was open; recovery cannot
    /// tell the two apart, so neither can the verifier.
    RecoveredTail {
        /// Event lines covered by periodic checkpoints signed while recording.
        signed_while_recording: u64,
        /// Event lines after them, signed only at recovery.
        tail_lines: u64,
    },
    /// No seal (the bastion stopped abruptly): intact up to the last checkpoint, then an
    /// unverifiable tail.
    Unsealed {
        /// 0-based index of the last checkpoint in the sidecar, if any.
        checkpoint: Option<usize>,
        /// Event lines it covers.
        signed_lines: u64,
        /// Complete event lines after it, unverified.
        tail_lines: u64,
        /// Bytes of a torn last line.
        torn_bytes: u64,
    },
    /// The file disagrees with a signed checkpoint.
    Altered {
        /// 0-based index of the first checkpoint that does not match.
        checkpoint: usize,
        /// Lines up to and including this one match the previous checkpoint (0: only the header
        /// was verified, or nothing if the header itself differs).
        intact_through: u64,
        /// The change lies in event lines `intact_through + 1 ..= line`: the chain first
        /// disagrees with a signed checkpoint here. 0 means the header differs (or the sidecar
        /// belongs to another recording).
        line: u64,
    },
    /// Content follows the sealed end of the recording.
    AppendedAfterSeal {
        /// Bytes past what the seal covers.
        extra_bytes: u64,
    },
    /// The file has fewer lines than a signed checkpoint covers.
    Truncated {
        /// 0-based index of the checkpoint.
        checkpoint: usize,
        /// Event lines it covers.
        expected_lines: u64,
        /// Complete event lines in the file.
        found_lines: u64,
    },
    /// A checkpoint is validly signed, but by a key that is not trusted.
    UnknownKey {
        /// 0-based index of the first such checkpoint.
        checkpoint: usize,
        /// Its key id.
        key_id: String,
    },
    /// A checkpoint's signature does not hold.
    BadSignature {
        /// 0-based index of the checkpoint.
        checkpoint: usize,
        /// Why.
        problem: String,
    },
    /// The sidecar has a line that is not a checkpoint, or checkpoints out of order.
    SidecarMalformed {
        /// 1-based line in the sidecar.
        line: u64,
        /// Why.
        reason: String,
    },
    /// No sidecar: nothing can be verified.
    SidecarMissing,
}

/// A verification report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The cast file.
    pub cast: PathBuf,
    /// The sidecar file.
    pub sidecar: PathBuf,
    /// The conclusion.
    pub verdict: Verdict,
    /// Complete event lines in the cast file.
    pub lines: u64,
    /// Checkpoints in the sidecar.
    pub checkpoints: usize,
    /// Key id of the last checkpoint's signer, if any.
    pub key_id: Option<String>,
    /// False when no trusted key was given: signatures were checked against the key in the
    /// sidecar only, which proves integrity but not who signed.
    pub signer_trusted: bool,
    /// Hash of the sealing checkpoint (the value stored in the audit row).
    pub final_hash: Option<String>,
}

impl Report {
    /// The verdict in one line, as the text report shows it.
    pub fn verdict_text(&self) -> String {
        VerdictText(&self.verdict).to_string()
    }

    /// Sealed (or recovered with every line signed live) and signed by a trusted key: what
    /// `bastion verify` calls OK.
    pub fn is_ok(&self) -> bool {
        matches!(self.verdict, Verdict::Sealed | Verdict::Recovered { .. }) && self.signer_trusted
    }

    /// Lines signed only by crash recovery, when that is all that keeps the report from OK (so
    /// callers can give it a status of its own).
    pub fn recovered_tail(&self) -> Option<u64> {
        match self.verdict {
            Verdict::RecoveredTail { tail_lines, .. } if self.signer_trusted => Some(tail_lines),
            _ => None,
        }
    }

    /// Intact as far as it goes: sealed, recovered, or unsealed with an intact signed prefix.
    pub fn is_intact(&self) -> bool {
        matches!(
            self.verdict,
            Verdict::Sealed
                | Verdict::Recovered { .. }
                | Verdict::RecoveredTail { .. }
                | Verdict::Unsealed { .. }
        )
    }

    /// The lines at the end that no live checkpoint covers, if any: where a player marks the
    /// start of what verification could not vouch for.
    pub fn unverified_tail(&self) -> Option<UnverifiedTail> {
        let (signed, lines, recovered) = match self.verdict {
            Verdict::RecoveredTail {
                signed_while_recording,
                tail_lines,
            } => (signed_while_recording, tail_lines, true),
            Verdict::Unsealed {
                signed_lines,
                tail_lines,
                ..
            } => (signed_lines, tail_lines, false),
            _ => return None,
        };
        (lines > 0).then_some(UnverifiedTail {
            from_line: signed + 1,
            lines,
            recovered,
        })
    }

    /// Evidence of tampering (or of a signer nobody trusts): players refuse these without force.
    pub fn is_tampered(&self) -> bool {
        !self.is_intact() && self.verdict != Verdict::SidecarMissing
    }

    /// One line for a status bar.
    pub fn summary(&self) -> String {
        let signer = match (&self.key_id, self.signer_trusted) {
            (Some(k), true) => format!(" by {k}"),
            (Some(k), false) => format!(" by {k} (untrusted: no key given)"),
            (None, _) => String::new(),
        };
        match &self.verdict {
            Verdict::Sealed => format!("verified: intact and sealed{signer}"),
            Verdict::Recovered { .. } => format!("verified: intact, sealed by crash recovery{signer}"),
            Verdict::RecoveredTail { signed_while_recording, tail_lines } => format!(
                "RECOVERED TAIL: intact through line {signed_while_recording}, {} after signed only by crash recovery{signer}",
                count(*tail_lines, "line")
            ),
            Verdict::Unsealed { signed_lines, tail_lines, .. } => format!(
                "UNSEALED: intact through line {signed_lines}, {tail_lines} unverified lines after{signer}"
            ),
            other => format!("NOT VERIFIED: {}", VerdictText(other)),
        }
    }
}

/// Event lines at the end of a recording that no live checkpoint covers (see
/// [`Report::unverified_tail`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnverifiedTail {
    /// The first of them (event line numbering, as in [`Verdict`]).
    pub from_line: u64,
    /// How many.
    pub lines: u64,
    /// Signed by crash recovery (a recovered tail), rather than not signed at all (unsealed).
    pub recovered: bool,
}

impl fmt::Display for UnverifiedTail {
    /// The notice a player shows where the tail begins.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = count(self.lines, "line");
        if self.recovered {
            write!(
                f,
                "recovered tail from line {}: {lines} not covered by a live checkpoint",
                self.from_line
            )
        } else {
            write!(
                f,
                "unsealed tail from line {}: {lines} not covered by any checkpoint",
                self.from_line
            )
        }
    }
}

/// `1 line`, `3 lines`.
fn count(n: u64, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

struct VerdictText<'a>(&'a Verdict);

impl fmt::Display for VerdictText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Verdict::Sealed => write!(f, "intact and sealed"),
            Verdict::Recovered { .. } => write!(
                f,
                "intact; sealed by crash recovery (every line was covered by a live checkpoint)"
            ),
            Verdict::RecoveredTail { signed_while_recording, tail_lines } => {
                write!(
                    f,
                    "recovered tail: {} not covered by a live checkpoint (",
                    count(*tail_lines, "line")
                )?;
                let first = signed_while_recording + 1;
                match tail_lines {
                    1 => write!(f, "line {first}")?,
                    n => write!(f, "lines {first}..={}", signed_while_recording + n)?,
                }
                write!(f, " signed only by crash recovery, after the bastion stopped)")
            }
            Verdict::Unsealed { checkpoint, signed_lines, tail_lines, torn_bytes } => {
                match checkpoint {
                    Some(n) => write!(f, "intact up to checkpoint {n} (line {signed_lines}), ")?,
                    None => write!(f, "no checkpoint, ")?,
                }
                write!(f, "then {tail_lines} unsealed lines")?;
                if *torn_bytes > 0 {
                    write!(f, " and a torn last line of {torn_bytes} bytes")?;
                }
                write!(f, " (the recorder stopped without sealing)")
            }
            Verdict::Altered { checkpoint, intact_through, line: 0, .. } => write!(
                f,
                "altered: the header does not match checkpoint {checkpoint} (header changed, or the sidecar belongs to another recording); intact through line {intact_through}"
            ),
            Verdict::Altered { checkpoint, intact_through, line } => write!(
                f,
                "altered at line {line}: the chain first disagrees with signed checkpoint {checkpoint} there; the change lies in lines {}..={line}",
                intact_through + 1
            ),
            Verdict::AppendedAfterSeal { extra_bytes } => {
                write!(f, "altered: {extra_bytes} bytes appended after the seal")
            }
            Verdict::Truncated { checkpoint, expected_lines, found_lines } => write!(
                f,
                "truncated: checkpoint {checkpoint} covers {expected_lines} lines, the file has {found_lines}"
            ),
            Verdict::UnknownKey { checkpoint, key_id } => write!(
                f,
                "checkpoint {checkpoint} is signed by {}, which is not a trusted key",
                Printable(key_id)
            ),
            Verdict::BadSignature { checkpoint, problem } => {
                write!(f, "bad signature on checkpoint {checkpoint}: {problem}")
            }
            Verdict::SidecarMalformed { line, reason } => {
                write!(f, "sidecar line {line} is malformed: {}", Printable(reason))
            }
            Verdict::SidecarMissing => write!(f, "sidecar missing: the recording cannot be verified"),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.verdict {
            _ if self.is_ok() => "OK",
            Verdict::Sealed
            | Verdict::Recovered { .. }
            | Verdict::RecoveredTail { .. }
            | Verdict::Unsealed { .. } => "WARNING",
            _ => "FAILED",
        };
        writeln!(
            f,
            "{status}: {}",
            Printable(&self.cast.display().to_string())
        )?;
        writeln!(f, "  {}", VerdictText(&self.verdict))?;
        writeln!(
            f,
            "  {} event lines, {} checkpoints in {}",
            self.lines,
            self.checkpoints,
            Printable(&self.sidecar.display().to_string())
        )?;
        if let Some(k) = &self.key_id {
            let trust = if self.signer_trusted {
                "trusted"
            } else {
                "NOT checked against a trusted key"
            };
            writeln!(f, "  signed by {} ({trust})", Printable(k))?;
        }
        if let Some(h) = &self.final_hash {
            writeln!(f, "  final hash {h}")?;
        }
        Ok(())
    }
}

/// Text from the files being verified (key ids, parser messages quoting them, file names),
/// written with control characters escaped: a hostile sidecar must not reach the auditor's
/// terminal as escape sequences.
struct Printable<'a>(&'a str);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_unicode())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod printable_tests {
    use super::Printable;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            Printable("key\u{1b}]52;c;eA==\u{7}id").to_string(),
            "key\\u{1b}]52;c;eA==\\u{7}id"
        );
        assert_eq!(Printable("été").to_string(), "été");
    }
}
