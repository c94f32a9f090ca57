//! Integration tests: the real service over a real PostgreSQL. One binary, so
//! it links once; each test has its own database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod abuse;
mod api_clients;
mod assessments;
mod audit;
mod auth;
mod client_links;
mod client_pages;
mod clients;
mod concurrency;
mod erasure;
mod events;
mod exercises;
mod exports;
mod health;
mod helpers;
mod homework;
mod http_conventions;
mod idempotency;
mod instruments;
mod isolation;
mod jobs;
mod limits;
mod migrations;
mod norms;
mod openapi;
mod progress;
mod recommendations;
mod relationships;
mod tokens;
mod webhooks;
mod worker_reads;
mod workflow;
