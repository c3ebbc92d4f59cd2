//! The `qredge` command: one binary, one subcommand per role.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use qredge::config::Config;
use qredge::serve::Roles;

/// See Cargo.toml: the allocator of every role.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Create codes in bulk from a CSV file, in the configured store (see docs/import.md).
    #[command(after_help = IMPORT_HELP)]
    Import(ImportArgs),
    /// Print a one-time link that signs a member in to the dashboard (an operator's way in).
    SignInLink(SignInLinkArgs),
}

#[derive(clap::Args)]
struct SignInLinkArgs {
    /// The member's email.
    #[arg(long, value_name = "EMAIL")]
    email: String,
    #[command(flatten)]
    config: ConfigArg,
}

const IMPORT_HELP: &str = "\
The file: one code per line, `displayId,url,type[,name]` (type WEB or SHORT_LINK), or any order
under a header row naming those columns. Each row is validated as the API validates a create;
a displayId already in use is refused, never overwritten. Refused rows are printed as
`line N: reason`, then `imported N, refused M`.

The embedded store must not be open in a running `qredge serve` (stop it, import, start it
again). With Redis, running edges serve the codes as they are imported.

Exit status:
  0  every row was imported
  1  some rows were refused (each is listed); the others were imported
  2  the import did not run or stopped: unknown team, unreadable file or header, store
     unavailable (the message says how many codes were imported before it stopped)";

/// Exit status of an import that refused some rows.
const SOME_REFUSED: u8 = 1;
/// Exit status of an import that did not run or stopped.
const IMPORT_FAILED: u8 = 2;

#[derive(clap::Args)]
struct ImportArgs {
    /// The team the codes belong to (the teamId of bootstrap.json, for the first team).
    #[arg(long, value_name = "TEAM_ID")]
    team: String,
    #[command(flatten)]
    config: ConfigArg,
    /// The CSV file.
    #[arg(value_name = "FILE.csv")]
    file: PathBuf,
}

#[derive(clap::Args)]
struct ConfigArg {
    /// A TOML configuration file (see config/); environment variables override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    // Before anything creates a file: the data directory holds secrets and visitors' addresses.
    qredge::data_dir::keep_new_files_private();
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
        Command::Import(args) => return import(args).await,
        Command::SignInLink(args) => return sign_in_link(args).await,
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

async fn sign_in_link(args: SignInLinkArgs) -> ExitCode {
    let link = match Config::load(args.config.config.as_deref()) {
        Ok(config) => qredge::dashboard::sign_in_link_for_email(&config, &args.email).await,
        Err(e) => Err(e.to_string()),
    };
    match link {
        Ok(link) => {
            println!("{link}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("qredge sign-in-link: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn import(args: ImportArgs) -> ExitCode {
    let config = match Config::load(args.config.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("qredge import: {e}");
            return ExitCode::from(IMPORT_FAILED);
        }
    };
    let mut stdout = std::io::stdout().lock();
    match qredge::import::run(&config, &args.team, &args.file, &mut stdout).await {
        Ok(summary) => {
            let _ = writeln!(
                stdout,
                "imported {}, refused {} (batchId {})",
                summary.imported, summary.refused, summary.batch_id
            );
            if summary.refused == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(SOME_REFUSED)
            }
        }
        Err(e) => {
            let _ = stdout.flush();
            eprintln!("qredge import: {e}");
            ExitCode::from(IMPORT_FAILED)
        }
    }
}
