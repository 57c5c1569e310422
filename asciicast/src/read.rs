//! Reading a recording of either version: the header line says which.

use serde::Deserialize;

use crate::error::Error;
use crate::event::Line;
use crate::header::Header;
use crate::{v2, v3};

/// An asciicast version this crate reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// asciicast v2.
    V2,
    /// asciicast v3.
    V3,
}

impl Version {
    /// The number in the header's `version` key.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// Reads the lines after the header, in the header's version.
#[derive(Debug, Clone)]
pub enum Decoder {
    /// A v2 recording.
    V2(v2::Decoder),
    /// A v3 recording.
    V3(v3::Decoder),
}

impl Decoder {
    /// Reads a header line of any supported version, and returns the decoder for the lines
    /// after it.
    ///
    /// # Errors
    /// When the line is no asciicast header, or one of a version other than 2 and 3, or is
    /// not a valid header of its version.
    pub fn header(line: &str) -> Result<(Header, Decoder), Error> {
        #[derive(Deserialize)]
        struct Probe {
            version: u8,
        }
        let probe: Probe = serde_json::from_str(line)
            .map_err(|e| Error::new(format!("header is not an asciicast header: {e}")))?;
        match probe.version {
            3 => v3::Decoder::header(line).map(|(h, d)| (h, Decoder::V3(d))),
            2 => v2::Decoder::header(line).map(|(h, d)| (h, Decoder::V2(d))),
            v => Err(Error::new(format!(
                "asciicast version {v} is not supported (only 2 and 3)"
            ))),
        }
    }

    /// The version being read.
    pub fn version(&self) -> Version {
        match self {
            Decoder::V2(_) => Version::V2,
            Decoder::V3(_) => Version::V3,
        }
    }

    /// Reads one line after the header.
    ///
    /// # Errors
    /// When the line is not valid in the recording's version.
    pub fn line<'a>(&mut self, line: &'a str) -> Result<Line<'a>, Error> {
        match self {
            Decoder::V2(d) => d.line(line),
            Decoder::V3(d) => d.line(line),
        }
    }
}
