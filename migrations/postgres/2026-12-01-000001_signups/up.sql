-- Sign-ups waiting for the new account's e-mail confirmation (and approval).
-- The authorization request they will complete lives here, not in
-- auth_requests: it must outlive that table's minutes by days.
CREATE TABLE signups (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    request TEXT NOT NULL,
    server_host TEXT NOT NULL,
    upstream_data BYTEA NOT NULL,
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX signups_expires_at ON signups (expires_at);
