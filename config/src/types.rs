//! Value types with their own parsing rules and error wording.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::Deserialize;

/// A TCP port, 1-65535; 22 when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port(pub u16);

impl Default for Port {
    fn default() -> Self {
        Port(22)
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const EXPECTED: &str = "integer 1-65535";
        impl Visitor<'_> for V {
            type Value = Port;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Port, E> {
                match u16::try_from(v) {
                    Ok(p) if p > 0 => Ok(Port(p)),
                    _ => Err(E::invalid_value(Unexpected::Signed(v), &EXPECTED)),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Port, E> {
                match u16::try_from(v) {
                    Ok(p) if p > 0 => Ok(Port(p)),
                    _ => Err(E::invalid_value(Unexpected::Unsigned(v), &EXPECTED)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration written the human way (`90s`, `15m`, `8h`, `1h 30m`), kept in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seconds(pub u64);

impl Seconds {
    /// The longest duration a configuration may give: 100 years (of 365.25 days, as `100y`).
    pub const MAX: Seconds = Seconds(100 * 31_557_600);

    /// As a std duration.
    pub fn duration(self) -> Duration {
        Duration::from_secs(self.0)
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.duration()))
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const EXPECTED: &str = "a duration such as \"90s\", \"15m\" or \"8h\"";
        impl Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seconds, E> {
                let d = humantime::parse_duration(v)
                    .map_err(|_| E::invalid_value(Unexpected::Str(v), &EXPECTED))?;
                // Durations are added to clock readings and turned into milliseconds; a bound
                // far past any sensible setting keeps that arithmetic from overflowing.
                if d.as_secs() > Seconds::MAX.0 {
                    return Err(E::invalid_value(
                        Unexpected::Str(v),
                        &"a duration of at most 100 years",
                    ));
                }
                Ok(Seconds(d.as_secs()))
            }
        }
        d.deserialize_any(V)
    }
}

/// What a role lets its holders do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// Interactive shells.
    Shell,
    /// Remote commands (`ssh host cmd`), including `scp` in its legacy mode (passed untouched
    /// as a transfer only with `Sftp` too; else recorded and masked like any command).
    Exec,
    /// The sftp subsystem (and modern `scp`).
    Sftp,
    /// Local port forwarding (`ssh -L`) to hosts the target can reach.
    PortForward,
    /// Use of the review console.
    Review,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::Shell => "shell",
            Capability::Exec => "exec",
            Capability::Sftp => "sftp",
            Capability::PortForward => "port-forward",
            Capability::Review => "review",
        })
    }
}
