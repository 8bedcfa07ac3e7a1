//! jute codec
