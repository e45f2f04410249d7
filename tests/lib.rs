//! Support for the end-to-end tests (in `e2e/`) and the Lambda benchmark
//! (`examples/bench_lambda.rs`): a Lambda Runtime API emulator, and the real function
//! binaries run under it with their deployed environment and the events AWS sends.

pub mod lambda_functions;
pub mod lambda_runtime_api;
