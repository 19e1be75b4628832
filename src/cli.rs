//! The command line (DESIGN.md §7).

use std::io::Read as _;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

use crate::config::{Overrides, Settings, redact_url};
use crate::db::{self, DatabaseUrl};
use crate::demo;
use crate::domain::Role;
use crate::meta::sandbox::{Fixture, Sandbox};
use crate::services::ServiceError;
use crate::services::tenants::{self, UserHome};
use crate::startup::Application;
use crate::store::orgs;

#[derive(Debug, Parser)]
#[command(name = "wabapool", version, about = "WhatsApp Business number pools: admin portal and routing service")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the portal and API.
    Serve(ServeArgs),
    /// Load the demo dataset into an empty database and serve it.
    Demo(DemoArgs),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Create aggregators and enterprises.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Run the Graph API sandbox alone.
    Sandbox(SandboxArgs),
    /// Fill an empty database with a large dataset for load tests.
    BenchData(BenchDataArgs),
    /// Manage the key that seals Meta access tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Args)]
struct BenchDataArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[arg(long, default_value_t = 20)]
    aggregators: usize,
    #[arg(long, default_value_t = 1000)]
    enterprises: usize,
    #[arg(long, default_value_t = 20)]
    numbers_per_enterprise: usize,
    #[arg(long, default_value_t = 5)]
    pools_per_enterprise: usize,
    /// Password of the generated users.
    #[arg(long, default_value = demo::DEFAULT_PASSWORD)]
    password: String,
    /// Also write the Graph API sandbox fixture (`wabapool sandbox --fixture
    /// FILE`) of the dataset's WABAs, numbers and access tokens (mode 0600).
    #[arg(long)]
    sandbox_fixture: Option<std::path::PathBuf>,
    /// Also create an API key for the first enterprise and print it.
    #[arg(long)]
    api_key: bool,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Print a new random encryption key (base64 of 32 bytes).
    New,
    /// Re-seal every stored token under WABAPOOL_ENCRYPTION_KEY, opening old
    /// ones with WABAPOOL_PREVIOUS_ENCRYPTION_KEYS.
    Rotate(DatabaseArgs),
}

#[derive(Debug, Args)]
struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    bind: String,
    /// A JSON fixture of WABAs and numbers (default: the demo WABAs).
    #[arg(long)]
    fixture: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
struct DatabaseArgs {
    /// Database URL: postgres://… or a SQLite file path (default data/wabapool.sqlite3).
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    bind: Option<String>,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Debug, Args)]
struct DemoArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// Password of every demo user.
    #[arg(long, default_value = demo::DEFAULT_PASSWORD)]
    demo_password: String,
    /// Empty the database first.
    #[arg(long)]
    reset: bool,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        /// super_admin, admin or agent.
        #[arg(long)]
        role: String,
        #[arg(long, conflicts_with = "aggregator", required_unless_present = "aggregator")]
        enterprise: Option<String>,
        #[arg(long)]
        aggregator: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Create an aggregator (reseller).
    CreateAggregator { name: String },
    /// Create an enterprise, optionally under an aggregator.
    CreateEnterprise {
        name: String,
        #[arg(long)]
        aggregator: Option<String>,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args, false, None).await,
        Command::Demo(args) => {
            let password = SecretString::from(args.demo_password);
            serve(args.serve, true, Some((password, args.reset))).await
        }
        Command::Migrate(args) => {
            let settings = Settings::load(Overrides { database_url: args.database_url, keys_unused: true, ..Overrides::default() })?;
            with_connection(&settings, |_| Ok(())).await?;
            println!("migrations applied to {}", redact_url(&settings.database_url));
            Ok(())
        }
        Command::User(UserCommand::Create { email, role, enterprise, aggregator }) => {
            let role = Role::parse(&role).context("role must be super_admin, admin or agent")?;
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password).context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            anyhow::ensure!(password.chars().count() >= 12, "the password must have at least 12 characters");
            let password = SecretString::from(password);
            let settings = Settings::load(Overrides { keys_unused: true, ..Overrides::default() })?;
            let id = with_connection(&settings, move |conn| {
                let home = match (&enterprise, &aggregator) {
                    (Some(e), _) => UserHome::Enterprise(e),
                    (None, Some(a)) => UserHome::Aggregator(a),
                    (None, None) => anyhow::bail!("name --enterprise or --aggregator"),
                };
                tenants::create_user(conn, &email, role, home, &password).map_err(explain)
            })
            .await?;
            println!("user {id} created");
            Ok(())
        }
        Command::BenchData(args) => {
            // The data directory's own key seals the WABA tokens, so that
            // `serve` on the same directory opens them.
            let settings = Settings::load(Overrides { database_url: args.database.database_url, ..Overrides::default() })?;
            let shape = crate::bench_data::Shape {
                aggregators: args.aggregators,
                enterprises: args.enterprises,
                numbers_per_enterprise: args.numbers_per_enterprise,
                pools_per_enterprise: args.pools_per_enterprise,
            };
            let password = SecretString::from(args.password);
            let keys = settings.secret_keys.clone();
            let api_key = args.api_key;
            // Opened first, so that a path that cannot be written leaves the database empty.
            let fixture = match &args.sandbox_fixture {
                Some(path) => Some((path, create_private_file(path).with_context(|| format!("creating {}", path.display()))?)),
                None => None,
            };
            let started = std::time::Instant::now();
            let (written, key) = with_connection(&settings, move |conn| {
                anyhow::ensure!(orgs::is_empty(conn)?, "bench-data fills an empty database; this one holds data");
                let written = crate::bench_data::fill(conn, shape, &password, &keys).map_err(explain)?;
                let key = if api_key { Some(crate::bench_data::create_send_key(conn, &written).map_err(explain)?) } else { None };
                Ok((written, key))
            })
            .await?;
            let elapsed = started.elapsed();
            if let Some((path, file)) = &fixture {
                let mut out = std::io::BufWriter::new(file);
                serde_json::to_writer(&mut out, &written.sandbox)
                    .map_err(std::io::Error::from)
                    .and_then(|()| std::io::Write::flush(&mut out))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            println!(
                "wrote {} enterprises, {} numbers, {} pools ({} members) in {:.2} s; sign in as admin@aggregator-1.bench",
                written.enterprises,
                written.numbers,
                written.pools,
                written.members,
                elapsed.as_secs_f64()
            );
            if let Some((path, _)) = &fixture {
                println!("sandbox fixture of {} WABAs written to {}", written.sandbox.wabas.len(), path.display());
            }
            if let Some(key) = key {
                match written.send_pool_id {
                    Some(pool) => println!("send through pool {pool} of enterprise {} with API key {key}", written.first_enterprise_id),
                    None => println!("API key of enterprise {} (it has no pools): {key}", written.first_enterprise_id),
                }
            }
            Ok(())
        }
        Command::Keys(KeysCommand::New) => {
            println!("{}", crate::security::secrets::new_key_base64());
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate(args)) => {
            let settings = Settings::load(Overrides { database_url: args.database_url, ..Overrides::default() })?;
            let keys = settings.secret_keys.clone();
            let current = keys.current_key_id().to_owned();
            let rotation = with_connection(&settings, move |conn| crate::services::token_keys::rotate(conn, &keys).map_err(explain)).await?;
            println!(
                "{} tokens re-sealed under key {current}; {} were already under it. Previous keys can be removed once every instance runs with the new key.",
                rotation.resealed, rotation.already_current
            );
            Ok(())
        }
        Command::Sandbox(args) => {
            let fixture = match &args.fixture {
                Some(path) => Fixture::from_file(path).with_context(|| format!("reading {}", path.display()))?,
                None => demo::sandbox_fixture(),
            };
            let sandbox = Sandbox::bind(fixture, &args.bind)?;
            println!("Graph API sandbox listening on {}", sandbox.base_url);
            sandbox.run().await?;
            Ok(())
        }
        Command::Org(command) => {
            let settings = Settings::load(Overrides { keys_unused: true, ..Overrides::default() })?;
            let id = with_connection(&settings, move |conn| match command {
                OrgCommand::CreateAggregator { name } => tenants::create_aggregator(conn, &name).map_err(explain),
                OrgCommand::CreateEnterprise { name, aggregator } => tenants::create_enterprise(conn, &name, aggregator.as_deref()).map_err(explain),
            })
            .await?;
            println!("created with id {id}");
            Ok(())
        }
    }
}

/// Creates (or empties) a file only its owner can read: a sandbox fixture holds access tokens.
fn create_private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

fn explain(error: ServiceError) -> anyhow::Error {
    match error {
        ServiceError::Invalid(errors) => {
            anyhow::anyhow!(errors.all().iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join(" "))
        }
        other => anyhow::Error::new(other),
    }
}

/// Opens the database, migrates it and runs `work` on one connection.
async fn with_connection<T, F>(settings: &Settings, work: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut db::DbConnection) -> anyhow::Result<T> + Send + 'static,
{
    let url = DatabaseUrl::parse(&settings.database_url);
    tokio::task::spawn_blocking(move || {
        let pool = db::connect_pool(&url, 1)?;
        let mut conn = pool.get()?;
        db::run_migrations(&mut conn)?;
        crate::services::pools::rekey_names_if_pending(&mut conn)?;
        work(&mut conn)
    })
    .await?
}

async fn serve(args: ServeArgs, demo_mode: bool, demo_data: Option<(SecretString, bool)>) -> anyhow::Result<()> {
    let mut settings =
        Settings::load(Overrides { bind: args.bind, database_url: args.database.database_url, demo: demo_mode, ..Overrides::default() })?;
    if let Some((password, reset)) = demo_data {
        if settings.meta_graph_url.is_none() {
            let sandbox = Sandbox::bind(demo::sandbox_fixture(), "127.0.0.1:0")?.spawn();
            println!("Graph API sandbox (demo WABAs) on {}", sandbox.base_url);
            settings.meta_graph_url = Some(sandbox.base_url.clone());
        }
        let keys = settings.secret_keys.clone();
        let loaded = with_connection(&settings, move |conn| {
            if reset {
                demo::reset(conn).map_err(explain)?;
            }
            if orgs::is_empty(conn)? {
                demo::load(conn, &password, &keys).map_err(explain)?;
                Ok(true)
            } else {
                Ok(false)
            }
        })
        .await?;
        if loaded {
            println!("demo data loaded; every demo user's password is the --demo-password (default {})", demo::DEFAULT_PASSWORD);
        } else {
            println!("the database already holds data; serving it as it is (use --reset to reload the demo)");
        }
    }
    let app = Application::build(settings).await?;
    println!("wabapool listening on http://{}", app.address());
    if demo_mode {
        println!("each demo enterprise's events arrive at http://{}/settings/events/demo-receiver", app.address());
    }
    app.run_until_stopped().await?;
    Ok(())
}
