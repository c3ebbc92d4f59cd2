//! The `qredge` command: one binary, one subcommand per role.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use qredge::config::Config;
use qredge::serve::Roles;

#[derive(Parser)]
#[command(
    name = "qredge",
    version,
    about = "Dynamic QR codes and short links: a fast scan edge with exact analytics"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every role in one process: API, edge, scan pipeline and aggregator.
    Serve(ConfigArg),
    /// Run the management API only.
    Api(ConfigArg),
    /// Run the scan edge only (with its scan pipeline).
    Edge(ConfigArg),
    /// Run the aggregator only: consume the Kafka topic of scans into the Redis rollups.
    Aggregator(ConfigArg),
}

#[derive(clap::Args)]
struct ConfigArg {
    /// A TOML configuration file (see config/); environment variables override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let only = |api, edge, aggregator| Roles {
        api,
        edge,
        aggregator,
    };
    let (args, roles) = match cli.command {
        Command::Serve(args) => (args, Roles::ALL),
        Command::Api(args) => (args, only(true, false, false)),
        Command::Edge(args) => (args, only(false, true, false)),
        Command::Aggregator(args) => (args, only(false, false, true)),
    };
    let result = match Config::load(args.config.as_deref()) {
        Ok(config) => qredge::serve::run(config, roles)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("qredge: {message}");
            ExitCode::FAILURE
        }
    }
}
