//! Session tracker (placeholder, filled in below).
