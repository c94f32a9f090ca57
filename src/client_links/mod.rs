//! Links a client opens to complete assessments and log homework: the API
//! resource that issues and revokes them. The pages they open are in
//! `pages/`, and call the same domain and store functions as the API.

pub mod coverage;
pub mod model;
pub mod pages;
pub mod routes;
pub mod store;
pub mod token;
