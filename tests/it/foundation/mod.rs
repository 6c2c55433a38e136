mod cli;
mod health;
mod keys;
mod storage;
