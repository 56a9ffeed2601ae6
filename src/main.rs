//! Entry point: parse the command line, read settings, run.

use clap::Parser;
use niemyet::cli::{Cli, Command, run_command};
use niemyet::config::Settings;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::from_env()?;
    niemyet::telemetry::init(settings.log_format);
    run_command(cli.command.unwrap_or(Command::Serve), &settings)
}
