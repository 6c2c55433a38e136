mod cli;
mod health;
mod housekeeping;
mod keys;
mod storage;
