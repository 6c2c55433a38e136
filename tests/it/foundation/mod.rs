mod health;
mod keys;
mod storage;
