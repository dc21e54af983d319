//! `iotmock rules test`: what a statement makes of one message, in-process, with no mock
//! running (the SELECT output, or which part of WHERE was false or Undefined).

use iotmock_rules::service::{Trial, try_statement};
use iotmock_rules::sql::Value as SqlValue;

#[derive(Debug, clap::Subcommand)]
pub enum RulesCmd {
    /// Evaluate a rule's SQL against one message.
    Test(TestArgs),
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The statement, e.g. "SELECT temp FROM 'sensors/+' WHERE temp > 30".
    #[arg(long)]
    sql: String,
    /// The message's topic.
    #[arg(long)]
    topic: String,
    /// The message's payload (JSON, or any text).
    #[arg(long, default_value = "")]
    payload: String,
    #[arg(long)]
    client_id: Option<String>,
    /// 2015-10-08 (the API's default), 2016-03-23 or beta.
    #[arg(long)]
    sql_version: Option<String>,
    #[arg(long, default_value = "us-east-1")]
    region: String,
}

/// No shadows, registry or functions: `get_thing_shadow` and the like stop the rule.
struct Alone;

impl iotmock_rules::Outside for Alone {
    fn new_uuid(&self) -> String {
        iotmock_registry::random_uuid()
    }
    fn rand(&self) -> f64 {
        0.5
    }
    fn thing_shadow(&self, _: &str, thing: &str, _: Option<&str>) -> Result<SqlValue, String> {
        Err(format!(
            "no shadow of {thing}: `iotmock rules test` runs without a mock"
        ))
    }
    fn registry_data(&self, _: &str, _: &str, thing: &str) -> Result<SqlValue, String> {
        Err(format!(
            "no thing {thing}: `iotmock rules test` runs without a mock"
        ))
    }
    fn lambda(&self, arn: &str, _: &SqlValue) -> Result<SqlValue, String> {
        Err(format!("{arn} is not invoked by `iotmock rules test`"))
    }
}

/// Prints the evaluation as JSON; `Err` with the parse error.
pub fn run(cmd: RulesCmd) -> Result<(), String> {
    let RulesCmd::Test(args) = cmd;
    let now = iotmock_registry::Clock::now_millis(&iotmock_registry::SystemClock);
    let trial = Trial {
        sql: &args.sql,
        version: args.sql_version.as_deref(),
        topic: &args.topic,
        payload: args.payload.as_bytes(),
        client_id: args.client_id.as_deref(),
        region: &args.region,
        now_ms: now,
    };
    let out = try_statement(&trial, &Alone, "123456789012").map_err(|e| match e {
        iotmock_rules::RuleError::Sql(m) => format!("SqlParseException: {m}"),
        iotmock_rules::RuleError::Invalid(m) => format!("InvalidRequestException: {m}"),
    })?;
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    Ok(())
}
