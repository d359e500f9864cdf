//! The contract every adapter passes (to be implemented).
