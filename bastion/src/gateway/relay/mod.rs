//! A connected channel's bytes, both ways: the pumps, the queue to the target, the input
//! bounds, and the redactor that masks what is recorded and shown.

pub mod early;
pub mod ended;
pub mod inflow;
pub mod io;
pub mod line_judge;
pub mod pumps;
pub mod redactor;
pub mod upward;
