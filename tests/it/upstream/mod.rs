//! The upstream leg against the fake Mastodon, per version profile.
