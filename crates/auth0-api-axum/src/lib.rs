//! axum and tower integration for auth0-api (being built).
