//! [`Recorder`]: one channel's cast file, its hash chain and its signed sidecar.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use asciicast::{v3, EventCode, Header};

use crate::binary::{self, Piece, BINARY_CODE};
use crate::cap::{OutputCap, DEFAULT_OUTPUT_CAP};
use crate::cast_file::CastFile;
use crate::header::{header_line, BastionMeta};
use crate::{
    hex, sidecar_path, Checkpoint, CheckpointKind, HashChain, RecorderError, SigningKey,
    Utf8Decoder,
};

/// Comment line written before a run of stderr output on exec channels.
pub const STDERR_COMMENT: &str = "# stderr";
/// Comment line written when stdout output follows stderr output.
pub const STDOUT_COMMENT: &str = "# stdout";

/// Recording policy for one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecorderOptions {
    /// Size of the cast file, in bytes, up to which output is recorded; output that would
    /// take the file past it is counted and hashed instead. The
    /// header, markers and the closing notes may take the file a few hundred bytes past it.
    pub output_cap: u64,
    /// Whether `i` events are written; input is counted either way.
    pub record_input: bool,
    /// Input that is not written is hashed, and its count and SHA-256 noted at the seal (file
    /// transfers: an upload is accountable like a download past the output cap).
    pub input_digest: bool,
    /// Longest time between checkpoints while lines are being written.
    pub checkpoint_interval: Duration,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        Self {
            output_cap: DEFAULT_OUTPUT_CAP,
            record_input: false,
            input_digest: false,
            checkpoint_interval: Duration::from_secs(1),
        }
    }
}

/// Raw byte counts per direction, for the audit row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Bytes of stdout (target → user), recorded or not.
    pub output_bytes: u64,
    /// Bytes of stderr (target → user), recorded or not.
    pub stderr_bytes: u64,
    /// Bytes of input (user → target), recorded or not.
    pub input_bytes: u64,
    /// Output bytes past the cap: counted and hashed, not stored.
    pub omitted_bytes: u64,
}

/// What [`Recorder::seal`] returns for the audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    /// The final checkpoint: `hash` and `sig` are the values to store.
    pub checkpoint: Checkpoint,
    /// Byte counters at close.
    pub counters: Counters,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

/// Writes one channel's recording.
///
/// The caller drives time: every method takes `now`, the time since the recording started
/// (from a monotonic clock), so intervals never go negative and tests are deterministic.
/// Every method returns I/O errors; after one, the recorder refuses further writes
/// ([`RecorderError::Poisoned`]) because the file may end in a partial line.
pub struct Recorder {
    cast_path: PathBuf,
    sig_path: PathBuf,
    cast: CastFile,
    sidecar: File,
    key: Arc<SigningKey>,
    options: RecorderOptions,
    /// Invariant: `chain.lines()` equals the event lines handed to `cast`.
    chain: HashChain,
    /// Invariant: bytes handed to `cast` so far, header and newlines included.
    bytes: u64,
    /// Unix milliseconds of `now == 0`, for checkpoint times.
    start_ms: u64,
    /// Writes the lines; measures each event's interval from the previous one.
    encoder: v3::Encoder,
    /// Lines covered by, and time of, the last checkpoint written.
    last_checkpoint: (u64, Duration),
    /// An incomplete UTF-8 sequence at the end of the last stdout / stderr chunk (at most 3
    /// bytes), completed by the next chunk or written as binary at the seal.
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    input: Utf8Decoder,
    /// The stream the last `o` event belonged to (the meaning of a following `o` event).
    stream: Stream,
    cap: OutputCap,
    /// Running SHA-256 of input that is not written (see [`RecorderOptions::input_digest`]).
    input_hash: Option<ring::digest::Context>,
    counters: Counters,
    /// Reused buffers, so the output path allocates nothing per chunk once warm.
    line: Vec<u8>,
    text: String,
    joined: Vec<u8>,
    pieces: Vec<Piece>,
    poisoned: bool,
}

impl Recorder {
    /// Creates `path` (and its parent directories) and `path.sig`, writes the header (`header`
    /// with `meta` as its `bastion` object, see [`header_line`]) and a first checkpoint that
    /// signs it. Checkpoint times are `header.timestamp` plus the `now` given to each call, so
    /// the header's timestamp should be the wall-clock start of the channel.
    ///
    /// # Errors
    /// [`RecorderError::Io`] when either file exists already (a recording is never overwritten)
    /// or cannot be written.
    pub fn create(
        path: &Path,
        header: &Header,
        meta: &BastionMeta,
        key: Arc<SigningKey>,
        options: RecorderOptions,
    ) -> Result<Self, RecorderError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(RecorderError::io(dir))?;
        }
        let sig_path = sidecar_path(path);
        let new_file = |p: &Path| {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(p)
                .map_err(RecorderError::io(p))
        };
        let cast = new_file(path)?;
        let sidecar = new_file(&sig_path)?;
        let header_line = header_line(header, meta);
        let mut rec = Recorder {
            cast_path: path.to_path_buf(),
            sig_path,
            cast: CastFile::new(cast),
            sidecar,
            key,
            chain: HashChain::new(&header_line),
            bytes: 0,
            start_ms: header.timestamp.unwrap_or(0).saturating_mul(1000),
            encoder: v3::Encoder::new(),
            last_checkpoint: (0, Duration::ZERO),
            stdout: Vec::new(),
            stderr: Vec::new(),
            input: Utf8Decoder::new(),
            input_hash: (options.input_digest && !options.record_input)
                .then(|| ring::digest::Context::new(&ring::digest::SHA256)),
            stream: Stream::Stdout,
            cap: OutputCap::new(options.output_cap),
            options,
            counters: Counters::default(),
            line: Vec::new(),
            text: String::new(),
            joined: Vec::new(),
            pieces: Vec::new(),
            poisoned: false,
        };
        rec.write_raw(&header_line)?;
        rec.write_checkpoint(CheckpointKind::Checkpoint, Duration::ZERO)?;
        Ok(rec)
    }

    /// Records stdout bytes (target → user) as `o` events, and runs of binary as `b` events
    /// (see [`crate::binary`]).
    pub fn output(&mut self, now: Duration, bytes: &[u8]) -> Result<(), RecorderError> {
        self.counters.output_bytes += bytes.len() as u64;
        self.record_output(now, bytes, Stream::Stdout)
    }

    /// Records stderr bytes of an exec channel: `o` events after a `# stderr` comment line
    /// (see the crate docs for why).
    pub fn stderr(&mut self, now: Duration, bytes: &[u8]) -> Result<(), RecorderError> {
        self.counters.stderr_bytes += bytes.len() as u64;
        self.record_output(now, bytes, Stream::Stderr)
    }

    /// Counts input bytes (user → target) and writes them as `i` events if input recording is on.
    pub fn input(&mut self, now: Duration, bytes: &[u8]) -> Result<(), RecorderError> {
        self.check_usable()?;
        self.counters.input_bytes += bytes.len() as u64;
        if !self.options.record_input {
            if let Some(h) = self.input_hash.as_mut() {
                h.update(bytes);
            }
            return Ok(());
        }
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        self.input.decode(bytes, &mut text);
        let result = if text.is_empty() {
            Ok(())
        } else {
            self.write_event(now, EventCode::Input, &text)
        };
        self.text = text;
        result
    }

    /// Records a terminal resize.
    pub fn resize(&mut self, now: Duration, cols: u16, rows: u16) -> Result<(), RecorderError> {
        self.write_event(now, EventCode::Resize, &format!("{cols}x{rows}"))
    }

    /// Records a marker (exec request, approval, policy decision …).
    pub fn marker(&mut self, now: Duration, text: &str) -> Result<(), RecorderError> {
        self.write_event(now, EventCode::Marker, text)
    }

    /// Records the exit status (`"0"`, `"1"`, or e.g. `"signal TERM"`).
    pub fn exit(&mut self, now: Duration, status: &str) -> Result<(), RecorderError> {
        self.write_event(now, EventCode::Exit, status)
    }

    /// Writes a checkpoint if lines were written since the last one and the checkpoint interval
    /// has passed. Call it after writes and on a timer.
    ///
    /// # Returns
    /// The checkpoint written, if any.
    pub fn checkpoint_if_due(
        &mut self,
        now: Duration,
    ) -> Result<Option<Checkpoint>, RecorderError> {
        self.check_usable()?;
        let (lines, at) = self.last_checkpoint;
        if self.chain.lines() == lines || now < at + self.options.checkpoint_interval {
            return Ok(None);
        }
        self.write_checkpoint(CheckpointKind::Checkpoint, now)
            .map(Some)
    }

    /// Writes a checkpoint now if lines were written since the last one, so that a reader of
    /// the file (a reviewer starting to watch) sees everything recorded so far.
    ///
    /// # Returns
    /// The checkpoint written, if any.
    pub fn checkpoint_now(&mut self, now: Duration) -> Result<Option<Checkpoint>, RecorderError> {
        self.check_usable()?;
        if self.chain.lines() == self.last_checkpoint.0 {
            return Ok(None);
        }
        self.write_checkpoint(CheckpointKind::Checkpoint, now)
            .map(Some)
    }

    /// When (time since the start, as passed to the writer) the lines written since the last
    /// checkpoint are due for one; `None` when there are none.
    pub fn checkpoint_due(&self) -> Option<Duration> {
        let (lines, at) = self.last_checkpoint;
        (self.chain.lines() != lines).then(|| at + self.options.checkpoint_interval)
    }

    /// Flushes pending text, notes omitted output, writes the final checkpoint and syncs both
    /// files to disk.
    pub fn seal(mut self, now: Duration) -> Result<Seal, RecorderError> {
        self.check_usable()?;
        for stream in [Stream::Stdout, Stream::Stderr] {
            let carry = std::mem::take(self.carry(stream));
            if !carry.is_empty() {
                self.switch_stream(stream)?;
                self.write_binary(now, &carry)?;
            }
        }
        let mut text = String::new();
        self.input.finish(&mut text);
        if !text.is_empty() && self.options.record_input {
            self.write_event(now, EventCode::Input, &text)?;
        }
        if let Some(h) = self.input_hash.take() {
            if self.counters.input_bytes > 0 {
                let note = format!(
                    "input: {} bytes not recorded; sha256 {}",
                    self.counters.input_bytes,
                    hex::encode(h.finish().as_ref())
                );
                self.write_event(now, EventCode::Marker, &note)?;
            }
        }
        if let Some((count, hash)) = self.cap.finish() {
            let note = format!(
                "output cap: {count} bytes of output after the file reached {} bytes were not recorded; sha256 {}",
                self.cap.limit(),
                hex::encode(&hash)
            );
            self.write_event(now, EventCode::Marker, &note)?;
        }
        let checkpoint = self.write_checkpoint(CheckpointKind::Final, now)?;
        self.sidecar
            .sync_all()
            .map_err(RecorderError::io(&self.sig_path))?;
        Ok(Seal {
            checkpoint,
            counters: self.counters(),
        })
    }

    /// Byte counters so far.
    pub fn counters(&self) -> Counters {
        Counters {
            omitted_bytes: self.cap.omitted_bytes(),
            ..self.counters
        }
    }

    /// Event lines written so far.
    pub fn lines(&self) -> u64 {
        self.chain.lines()
    }

    /// The cast file.
    pub fn path(&self) -> &Path {
        &self.cast_path
    }

    /// The sidecar file.
    pub fn sidecar_path(&self) -> &Path {
        &self.sig_path
    }

    fn record_output(
        &mut self,
        now: Duration,
        bytes: &[u8],
        stream: Stream,
    ) -> Result<(), RecorderError> {
        self.check_usable()?;
        if self.cap.reached() {
            self.cap.omit(bytes);
            return Ok(());
        }
        let mut joined = std::mem::take(&mut self.joined);
        joined.clear();
        let carry = self.carry(stream);
        let data: &[u8] = if carry.is_empty() {
            bytes
        } else {
            // Only when a chunk ended mid-character: one copy of the chunk.
            joined.append(carry);
            joined.extend_from_slice(bytes);
            &joined
        };
        let mut pieces = std::mem::take(&mut self.pieces);
        pieces.clear();
        let complete = binary::split(data, false, &mut pieces);
        let result = self.write_pieces(now, data, &pieces, stream);
        let result = match result {
            Ok(None) => {
                self.carry(stream).extend_from_slice(&data[complete..]);
                Ok(())
            }
            Ok(Some(cut)) => {
                self.cap.omit(&data[cut..]);
                let note = format!(
                    "output cap of {} bytes reached; further output is counted and hashed, not recorded",
                    self.cap.limit()
                );
                self.write_event(now, EventCode::Marker, &note)
            }
            Err(e) => Err(e),
        };
        self.pieces = pieces;
        self.joined = joined;
        result
    }

    /// Writes `pieces` of `data` while the file stays within the cap.
    ///
    /// # Returns
    /// Where in `data` the cap stopped the writing, if it did.
    fn write_pieces(
        &mut self,
        now: Duration,
        data: &[u8],
        pieces: &[Piece],
        stream: Stream,
    ) -> Result<Option<usize>, RecorderError> {
        for piece in pieces {
            let room = self
                .cap
                .limit()
                .saturating_sub(self.bytes)
                .saturating_sub(LINE_COST);
            let room = usize::try_from(room).unwrap_or(usize::MAX);
            match piece {
                Piece::Text(r) => {
                    let bytes = &data[r.clone()];
                    let fits = text_prefix(bytes, room);
                    let Ok(text) = std::str::from_utf8(&bytes[..fits]) else {
                        // `split` only makes text pieces of valid UTF-8, cut at characters.
                        return Ok(Some(r.start));
                    };
                    if !text.is_empty() {
                        self.switch_stream(stream)?;
                        self.write_event(now, EventCode::Output, text)?;
                    }
                    if fits < bytes.len() {
                        return Ok(Some(r.start + fits));
                    }
                }
                Piece::Binary(r) => {
                    let bytes = &data[r.clone()];
                    let fits = bytes.len().min(room / 4 * 3);
                    if fits > 0 {
                        self.switch_stream(stream)?;
                        self.write_binary(now, &bytes[..fits])?;
                    }
                    if fits < bytes.len() {
                        return Ok(Some(r.start + fits));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Writes a `b` event holding `bytes`.
    fn write_binary(&mut self, now: Duration, bytes: &[u8]) -> Result<(), RecorderError> {
        self.check_usable()?;
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        binary::encode(bytes, &mut text);
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        self.encoder.custom(&mut line, now, BINARY_CODE, &text);
        let result = self.write_line_owned(&line);
        self.line = line;
        self.text = text;
        result
    }

    fn carry(&mut self, stream: Stream) -> &mut Vec<u8> {
        match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        }
    }

    fn switch_stream(&mut self, stream: Stream) -> Result<(), RecorderError> {
        if self.stream == stream {
            return Ok(());
        }
        let comment = match stream {
            Stream::Stdout => STDOUT_COMMENT,
            Stream::Stderr => STDERR_COMMENT,
        };
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        self.encoder.comment(&mut line, comment);
        let result = self.write_line_owned(&line);
        self.line = line;
        result?;
        self.stream = stream;
        Ok(())
    }

    fn write_event(
        &mut self,
        now: Duration,
        code: EventCode,
        data: &str,
    ) -> Result<(), RecorderError> {
        self.check_usable()?;
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        // A clock that steps back yields interval 0 rather than a negative time.
        self.encoder.event(&mut line, now, code, data);
        let result = self.write_line_owned(&line);
        self.line = line;
        result
    }

    /// Writes one event or comment line and extends the chain.
    fn write_line_owned(&mut self, line: &[u8]) -> Result<(), RecorderError> {
        self.write_raw(line)?;
        self.chain.push(line);
        Ok(())
    }

    /// Writes `line` and its newline; poisons the recorder on failure.
    fn write_raw(&mut self, line: &[u8]) -> Result<(), RecorderError> {
        let result = self.cast.write_line(line);
        if let Err(e) = result {
            self.poisoned = true;
            return Err(RecorderError::io(&self.cast_path)(e));
        }
        self.bytes += line.len() as u64 + 1;
        Ok(())
    }

    fn write_checkpoint(
        &mut self,
        kind: CheckpointKind,
        now: Duration,
    ) -> Result<Checkpoint, RecorderError> {
        // The sidecar must never cover bytes that are not yet in the file (a crash would then
        // look like truncation), so push the cast out first; sync it before a final checkpoint.
        let flushed = self.cast.flush().and_then(|()| {
            if kind == CheckpointKind::Checkpoint {
                Ok(())
            } else {
                self.cast.sync_all()
            }
        });
        if let Err(e) = flushed {
            self.poisoned = true;
            return Err(RecorderError::io(&self.cast_path)(e));
        }
        let time = self
            .start_ms
            .saturating_add(u64::try_from(now.as_millis()).unwrap_or(u64::MAX));
        let cp = Checkpoint::sign(
            &self.key,
            kind,
            self.chain.lines(),
            self.bytes,
            &self.chain.header_hash(),
            &self.chain.hash(),
            time,
        );
        let mut line = cp.to_line();
        line.push(b'\n');
        if let Err(e) = self.sidecar.write_all(&line) {
            self.poisoned = true;
            return Err(RecorderError::io(&self.sig_path)(e));
        }
        self.last_checkpoint = (self.chain.lines(), now);
        Ok(cp)
    }

    fn check_usable(&self) -> Result<(), RecorderError> {
        if self.poisoned {
            return Err(RecorderError::Poisoned {
                path: self.cast_path.clone(),
            });
        }
        Ok(())
    }
}

/// What an event line adds to its data, at most: brackets, an interval (up to 20 digits and a
/// fraction), the code, quotes, separators and the newline.
const LINE_COST: u64 = 40;

/// The longest prefix of `text` (valid UTF-8), cut at a character, whose `o` encoding takes at
/// most `room` bytes.
fn text_prefix(text: &[u8], room: usize) -> usize {
    // Most chunks fit whole even at the worst width of 6 bytes per byte.
    if text.len().saturating_mul(6) <= room {
        return text.len();
    }
    let mut used = 0usize;
    let mut cut = 0;
    for (i, &b) in text.iter().enumerate() {
        used += asciicast::escaped_width(b);
        if used > room {
            break;
        }
        // A cut after byte i is at a character boundary when the next byte starts one.
        if text.get(i + 1).is_none_or(|n| !(0x80..=0xbf).contains(n)) {
            cut = i + 1;
        }
    }
    cut
}
