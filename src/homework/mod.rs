pub mod fhir;
pub mod model;
pub mod routes;
pub mod store;
