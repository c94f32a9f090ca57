//! The `attune` command: serve | worker | migrate | openapi | bootstrap | healthcheck.

use std::process::ExitCode;

use attune::config::{Cli, Command, LogFormat};
use attune::startup::Application;
use attune::{bootstrap, db, health, openapi, telemetry};
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The main runtime drives the database connections and background jobs
    // (the HTTP workers run runtimes of their own). Its size is a setting:
    // on a small machine fewer threads mean fewer wake-ups per query.
    let threads = match &cli.command {
        Command::Serve(args) => args.runtime_threads,
        _ => None,
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = threads {
        builder.worker_threads(threads);
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("attune: starting the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("attune: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => {
            let _log = telemetry::init(args.log_format);
            let app = Application::build(&args).await?;
            tracing::info!(bind = %args.bind, port = app.port(), "serving; the explorer is at /docs");
            app.run_until_stopped().await?;
            tracing::info!("stopped");
        }
        Command::Migrate(args) => {
            let _log = telemetry::init(LogFormat::Text);
            let applied = db::run_migrations(&args.database_url)?;
            println!("{} migration(s) applied", applied.len());
        }
        Command::Openapi => print!("{}", openapi::document_json()?),
        Command::Worker(args) => {
            let _log = telemetry::init(args.log_format);
            attune::worker::run(&args).await?;
            tracing::info!("stopped");
        }
        Command::Healthcheck(args) => {
            health::probe::check(&args.bind, std::time::Duration::from_millis(args.timeout_ms))?;
        }
        Command::Bootstrap(args) => {
            db::run_migrations(&args.database.database_url)?;
            let out = bootstrap::bootstrap(&args.database.database_url, &args.practice, &args.client_name).await?;
            if args.json {
                println!("{}", serde_json::to_string(&out)?);
            } else {
                println!("Practice {} created.", out.practice_id);
                println!("API client (all scopes):");
                println!("  client_id:     {}", out.client_id);
                println!("  client_secret: {}", out.client_secret);
                println!("The secret is shown this once; it is stored hashed.");
            }
        }
    }
    Ok(())
}
