-- Several bastions sharing this database: each says where the others reach its API, and
-- lists the interactive channels it runs, so that a reviewer on any bastion can watch any.

-- Bastions and where they serve live sessions to the others. A row not seen for a while
-- belongs to a bastion that stopped or died: its channels are not listed.
CREATE TABLE instances (
    name       TEXT PRIMARY KEY,
    api_url    TEXT,                 -- NULL: no API, its sessions cannot be watched from elsewhere
    api_cert   TEXT,                 -- PEM of its API's TLS certificate, pinned by the others
    seen_at_ms BIGINT NOT NULL
);

-- Interactive channels reviewers may watch, on every bastion (removed when they end, and all
-- of a bastion's when it starts).
CREATE TABLE live_channels (
    id            TEXT PRIMARY KEY,  -- SESSION-CHANNEL
    instance      TEXT NOT NULL,
    user_name     TEXT NOT NULL,
    target        TEXT NOT NULL,
    login         TEXT NOT NULL,
    started_at_ms BIGINT NOT NULL
);
CREATE INDEX live_channels_instance ON live_channels (instance);

-- One-use tickets: the reviewer's bastion writes the hash, the channel's bastion takes it
-- once before serving the feed. Rows are kept as the record of who watched what from where.
CREATE TABLE watch_tickets (
    token_hash    TEXT PRIMARY KEY,  -- hex SHA-256 of the ticket
    channel_id    TEXT NOT NULL,
    reviewer      TEXT NOT NULL,
    issued_by     TEXT NOT NULL,     -- the reviewer's bastion
    expires_at_ms BIGINT NOT NULL,
    used_at_ms    BIGINT
);
