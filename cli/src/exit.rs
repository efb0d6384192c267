//! Exit codes: 0 ok, 1 job failed or other error, 2 usage, 3 auth, 4 not found, 5 conflict,
//! 6 timeout.

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    JobFailed(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Auth(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Other(String),
}

impl CliError {
    pub fn code(&self) -> i32 {
        match self {
            CliError::JobFailed(_) | CliError::Other(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Auth(_) => 3,
            CliError::NotFound(_) => 4,
            CliError::Conflict(_) => 5,
            CliError::Timeout(_) => 6,
        }
    }
}
