//! Attune: a REST/JSON API for assessments, homework and client progress in
//! interdependence- and attachment-focused therapy.

pub mod api_clients;
pub mod assessments;
pub mod audit;
pub mod auth;
pub mod background;
pub mod bootstrap;
pub mod catalog;
pub mod client_links;
pub mod clients;
pub mod config;
pub mod db;
pub mod events;
pub mod exercises;
pub mod fhir;
pub mod health;
pub mod homework;
pub mod http;
pub mod i18n;
pub mod instruments;
pub mod jobs;
pub mod keys;
pub mod norms;
pub mod openapi;
pub mod practices;
pub mod progress;
pub mod rate_limits;
pub mod recommendations;
pub mod relationships;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod text;
pub mod webhooks;
pub mod worker;
