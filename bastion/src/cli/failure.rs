//! What a command's failure is, and the exit code it maps to: 0 ok, 1 refused or failed
//! check, 2 usage or configuration error, 3 a recording's recovered tail.

/// A failure and the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl Failure {
    /// Usage or configuration error (exit 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: 2,
            error: error.into(),
        }
    }
    /// Refused or failed (exit 1).
    pub fn failed(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: 1,
            error: error.into(),
        }
    }
    /// The exit code.
    pub fn code(&self) -> u8 {
        self.code
    }
    /// What went wrong.
    pub fn error(&self) -> &anyhow::Error {
        &self.error
    }
    /// Recordings intact but ending in lines signed only by crash recovery, and nothing worse
    /// ([`EXIT_RECOVERED_TAIL`]).
    pub fn recovered_tail(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: EXIT_RECOVERED_TAIL,
            error: error.into(),
        }
    }
}

/// Exit status of `verify` and `audit recordings` when the only finding is a recovered tail:
/// not OK (nobody can vouch for those lines), but not evidence of tampering either, since a
/// crash leaves one too. Scripts tell it apart from 1 (failed) and 2 (usage).
pub const EXIT_RECOVERED_TAIL: u8 = 3;

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Failure {
        let error = e.into();
        let code = if error.downcast_ref::<config::ConfigError>().is_some() {
            2
        } else {
            1
        };
        Failure { code, error }
    }
}

/// The error and its causes, `: `-separated, leaving out a cause whose words the text so far
/// already holds (an error that prints its source, as `cannot read FILE: No such file`, would
/// otherwise say it twice).
pub fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let words = cause.to_string();
        if text.is_empty() {
            text = words;
        } else if !text.contains(&words) {
            text.push_str(": ");
            text.push_str(&words);
        }
    }
    text
}

/// A multi-threaded runtime for the commands that serve.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::failed)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let e = anyhow::Error::new(config::ConfigError::Io {
            path: "x.toml".into(),
            source: io,
        });
        assert_eq!(describe(&e), "cannot read x.toml: No such file");
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(describe(&e), "outer: inner");
    }
}
