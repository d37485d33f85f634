//! Guest REST API v2.1 (Basic auth: client key + API token).
use crate::server::{rest_error, App, Out, Req};

pub fn handle(_app: &App, _req: &Req) -> Out {
    rest_error(404, "The specified resource does not exist.", "not implemented yet")
}
