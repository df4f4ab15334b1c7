//! One module per page or part of the main page.

mod actors;
mod dashboard;
mod events;
mod fields;
mod lattice;
mod links;
mod login;
mod metrics;
mod providers;
mod tables;

pub use dashboard::{Section, dashboard, section};
pub use events::event_item;
pub use fields::AUCTION;
pub use login::login;
pub use metrics::metrics;
