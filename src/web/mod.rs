//! Pages and small endpoints for people and operators.

pub mod health;
