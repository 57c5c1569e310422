//! Interactive playback: a pure state machine ([`Player`]) and a thin terminal driver
//! ([`play()`]).

mod keys;
mod options;
mod state;
mod terminal;

pub use keys::command_for;
pub use options::PlayOptions;
pub use state::{Command, Control, Frame, Player, SEEK_STEP};
pub use terminal::{play, prepare};
