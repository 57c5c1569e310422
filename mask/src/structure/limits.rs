//! How much of a structure the tracker reads, holds and knows by name.

/// Longest line read as a table header, rule line, CSV header or psql record line.
pub const MAX_LINE: usize = 4096;
/// Columns known by name; cells past them are masked.
pub const MAX_COLUMNS: usize = 256;
/// Longest row of a table or CSV; past it the rest of the row is masked.
pub const MAX_ROW: usize = 64 * 1024;
/// Longest stretch held while the tracker decides whether a line is a row.
pub const MAX_PENDING: usize = 4096;
