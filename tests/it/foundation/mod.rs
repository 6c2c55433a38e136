mod cli;
mod health;
mod healthcheck;
mod housekeeping;
mod keys;
mod relying_party;
mod skips;
mod storage;
