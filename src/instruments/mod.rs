//! Instruments: versioned questionnaire definitions, built-in and per practice.

pub mod definition;
pub mod fhir;
pub mod model;
pub mod routes;
pub mod scoring;
pub mod store;
pub mod translation;
