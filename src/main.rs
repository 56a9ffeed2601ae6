//! Entry point: parse the command line, read settings, run. A failure prints one clear message
//! (with its causes, never a backtrace) and sets the exit status: 1 when the command failed, 2
//! for wrong usage (as clap does) or wrong settings.

use std::process::ExitCode;

use clap::Parser;
use niemyet::cli::{Cli, Command, run_command};
use niemyet::config::Settings;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("niemyet: {e}");
            return ExitCode::from(2);
        }
    };
    niemyet::telemetry::init(settings.log_format);
    match run_command(cli.command.unwrap_or(Command::Serve), &settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("niemyet: {e:#}");
            ExitCode::FAILURE
        }
    }
}
