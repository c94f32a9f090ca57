pub mod definition;
pub mod logging;
pub mod model;
pub mod routes;
pub mod store;
