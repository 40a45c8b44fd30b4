//! Knack API client (work in progress).
