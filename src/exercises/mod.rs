pub mod definition;
pub mod logging;
pub mod model;
pub mod recommend;
pub mod routes;
pub mod store;
