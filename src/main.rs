//! Entry point: parse the command line, read settings, run.

use clap::Parser;
use niemyet::cli::{Cli, Command, run_command};
use niemyet::config::Settings;
use niemyet::startup::Application;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::from_env()?;
    niemyet::telemetry::init(settings.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => actix_web::rt::System::new().block_on(async move {
            let app = Application::build(settings).await?;
            app.run_until_stopped().await?;
            Ok(())
        }),
        other => run_command(other, &settings),
    }
}
