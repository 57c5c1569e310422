-- The audit store, SQLite dialect. Keep it column for column identical to
-- migrations/postgres/0001_audit.sql: the store runs the same SQL text on both.
-- Conventions: times are unix milliseconds; certificate serials (u64) are decimal TEXT so that
-- they round-trip exactly and read the same as `ssh-keygen -L`; lists are JSON arrays in TEXT.
-- Rows are never deleted by the bastion: AUTOINCREMENT keeps ids from being reused.

-- Every authentication decision, accepted or refused, with its reason.
CREATE TABLE auth_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms     INTEGER NOT NULL,
    peer      TEXT    NOT NULL,
    user_name TEXT    NOT NULL,          -- the SSH user name as sent (LOGIN@TARGET, TARGET, ...)
    identity  TEXT,                      -- certificate key id, when one was presented
    serial    TEXT,
    accepted  BOOLEAN NOT NULL,
    reason    TEXT    NOT NULL
);
CREATE INDEX auth_events_at ON auth_events (at_ms);
CREATE INDEX auth_events_identity ON auth_events (identity);

-- One row per authenticated SSH connection.
CREATE TABLE sessions (
    id            TEXT    PRIMARY KEY,
    instance      TEXT    NOT NULL,      -- which bastion ran it: crash recovery closes only its own
    started_at_ms INTEGER NOT NULL,
    ended_at_ms   INTEGER,
    close_reason  TEXT,
    identity      TEXT    NOT NULL,
    serial        TEXT    NOT NULL,
    principals    TEXT    NOT NULL,      -- JSON array
    peer          TEXT    NOT NULL,
    target        TEXT,                  -- from the user name; NULL when chosen from the menu
    login         TEXT
);
CREATE INDEX sessions_started ON sessions (started_at_ms);
CREATE INDEX sessions_identity ON sessions (identity);
CREATE INDEX sessions_open ON sessions (instance) WHERE ended_at_ms IS NULL;

-- One row per SSH channel (each is its own recording). A channel number may in principle be
-- reused within a session, hence the surrogate id.
CREATE TABLE channels (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id     TEXT    NOT NULL REFERENCES sessions (id),
    channel        INTEGER NOT NULL,
    started_at_ms  INTEGER NOT NULL,
    ended_at_ms    INTEGER,
    kind           TEXT    NOT NULL,     -- shell | exec | subsystem | forward
    command        TEXT,
    target         TEXT    NOT NULL,
    login          TEXT    NOT NULL,
    pty_term       TEXT,
    pty_cols       INTEGER,
    pty_rows       INTEGER,
    exit_status    INTEGER,
    exit_signal    TEXT,
    bytes_in       INTEGER,              -- NULL until the relay reports the channel's end
    bytes_out      INTEGER,
    recording_path TEXT,
    final_hash     TEXT,
    signature      TEXT,
    close_reason   TEXT
);
CREATE INDEX channels_session ON channels (session_id, channel);
CREATE INDEX channels_started ON channels (started_at_ms);
CREATE INDEX channels_target ON channels (target);

-- Certificates the CA issued (bastion ca sign, the HTTP API).
CREATE TABLE certificates (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    serial          TEXT    NOT NULL,
    key_id          TEXT    NOT NULL,
    principals      TEXT    NOT NULL,    -- JSON array
    public_key      TEXT    NOT NULL,    -- SHA256 fingerprint of the certified key
    valid_after_ms  INTEGER NOT NULL,
    valid_before_ms INTEGER NOT NULL,
    source          TEXT    NOT NULL,    -- cli | oidc | ci
    requester       TEXT,                -- peer address or token subject
    issued_at_ms    INTEGER NOT NULL
);
CREATE INDEX certificates_serial ON certificates (serial);
CREATE INDEX certificates_key_id ON certificates (key_id);

-- Revoked certificates, by serial, key id or key fingerprint.
CREATE TABLE revocations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    serial        TEXT,
    key_id        TEXT,
    public_key    TEXT,
    revoked_at_ms INTEGER NOT NULL,
    revoked_by    TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    CHECK (serial IS NOT NULL OR key_id IS NOT NULL OR public_key IS NOT NULL)
);
CREATE INDEX revocations_serial ON revocations (serial);
CREATE INDEX revocations_key_id ON revocations (key_id);

-- Requests held for approval; the state lives here so every bastion and reviewer sees it.
CREATE TABLE approvals (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id      TEXT    REFERENCES sessions (id),
    channel         INTEGER,
    rule            TEXT    NOT NULL,
    command         TEXT    NOT NULL,
    requester       TEXT    NOT NULL,
    target          TEXT    NOT NULL,
    login           TEXT    NOT NULL,
    required        INTEGER NOT NULL,    -- approvals needed
    state           TEXT    NOT NULL
        CHECK (state IN ('pending', 'approved', 'denied', 'timed_out', 'cancelled')),
    requested_at_ms INTEGER NOT NULL,
    expires_at_ms   INTEGER NOT NULL,
    decided_at_ms   INTEGER
);
CREATE INDEX approvals_pending ON approvals (requested_at_ms) WHERE state = 'pending';

-- One reviewer's decision on an approval (several may be required; one each).
CREATE TABLE approval_votes (
    approval_id INTEGER NOT NULL REFERENCES approvals (id),
    reviewer    TEXT    NOT NULL,
    approve     BOOLEAN NOT NULL,
    reason      TEXT    NOT NULL,
    at_ms       INTEGER NOT NULL,
    PRIMARY KEY (approval_id, reviewer)
);

-- Command lines read by the line tracker (shell) or given to exec, as stored after masking.
CREATE TABLE commands (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  TEXT    NOT NULL REFERENCES sessions (id),
    channel     INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    command     TEXT    NOT NULL,
    approval_id INTEGER REFERENCES approvals (id)
);
CREATE INDEX commands_session ON commands (session_id, channel);
