//! `kefu sql`

use anyhow::Result;

use super::Context;
use crate::cli::SqlArgs;
use crate::sql::{read_sql_file, SqlSession};
use crate::store::Dataset;

pub fn run(context: &Context, args: &SqlArgs) -> Result<()> {
    let dataset = Dataset::open(&context.data)?;
    let query = match (&args.execute, &args.file) {
        (Some(query), _) => query.clone(),
        (None, Some(path)) => read_sql_file(path)?,
        (None, None) => unreachable!("clap requires a file or -e"),
    };
    let session = SqlSession::open(&dataset)?;
    if let Some(date) = args.date {
        session.set_report_date(date)?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    session.run(&query, args.format, &mut out)
}
