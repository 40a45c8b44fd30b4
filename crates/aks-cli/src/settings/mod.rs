//! Everything a command needs from outside the process, resolved and checked before the first
//! request, every problem reported at once: the config file (`config/`), the environment
//! ([`EnvVars`]), endpoints and the plain-http rule (`base_url.rs`), and the one [`Settings`]
//! value of a command (`resolve.rs`); then an app's plans and settings for `sync` and `status`
//! (`plans.rs`) and a Knack destination app's settings (`knack_dest.rs`).

pub(crate) mod base_url;
pub(crate) mod config;
pub(crate) mod knack_dest;
pub(crate) mod plans;
mod resolve;
mod vars;

use clap::ValueEnum;

pub use resolve::{
    endpoint, AgolSettings, Settings, SettingsError, SocrataSettings, Task, DEFAULT_KNACK_API_URL,
};
pub use vars::EnvVars;

/// `--env`: which deployment's endpoints and credentials are in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Env {
    /// Production.
    Prod,
    /// Development / staging.
    Dev,
}

impl Env {
    /// `prod` or `dev`.
    pub fn as_str(self) -> &'static str {
        match self {
            Env::Prod => "prod",
            Env::Dev => "dev",
        }
    }
}

#[cfg(test)]
mod tests;
