//! The change feed: what changed in the catalogue since a date (public, like the catalogue).

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

use super::export::{Cell, Format, Lang, Table, Vocab, negotiate, respond};
use crate::db::Db;
use crate::domain::catalogue::Level;
use crate::error::{ApiError, Problem};
use crate::services::ServiceError;
use crate::services::changes::{self as service, ChangeFeed};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// Items taking effect on or after this day (inclusive), including upcoming ones.
    #[param(example = "2026-05-01")]
    pub since: NaiveDate,
    /// The national decisions and this province's own; without it, every scope.
    #[param(example = "01")]
    pub province: Option<String>,
    /// Only procedures of this level, e.g. `commune`.
    #[param(inline)]
    pub level: Option<Level>,
    /// `json`, `csv`, `xlsx`, or `html` (a page to print on A4); overrides the `Accept` header.
    #[param(inline)]
    pub format: Option<Format>,
    /// The language of CSV headers and of workbooks: `vi` (default) or `en`.
    #[param(inline)]
    pub lang: Option<Lang>,
}

fn changes_table(f: &ChangeFeed, since: NaiveDate) -> Table {
    Table {
        sheet: "changes",
        subtitle: format!("≥ {since}"),
        columns: vec![
            "effective_on",
            "status",
            "posting_action",
            "decision_number",
            "decision_scope",
            "decision_signed_on",
            "action",
            "procedure_code",
            "procedure_name",
            "sector",
        ],
        rows: f
            .decisions
            .iter()
            .flat_map(|d| {
                d.items.iter().map(move |i| {
                    vec![
                        Cell::from(i.effective_on),
                        Cell::Value(Vocab::ChangeStatus, i.status.as_str()),
                        Cell::Value(Vocab::PostingAction, i.posting_action.as_str()),
                        Cell::from(d.number.as_str()),
                        Cell::from(d.scope.as_str()),
                        Cell::from(d.signed_on),
                        Cell::Value(Vocab::ItemAction, i.action.as_str()),
                        Cell::from(i.procedure_code.as_str()),
                        Cell::from(i.procedure_name.as_str()),
                        Cell::from(i.sector_name.as_str()),
                    ]
                })
            })
            .collect(),
    }
}

/// What changed in the catalogue since a date: the decisions and their items that took effect
/// on or after it, and those signed but not yet in effect (`upcoming`), in effective order, with
/// what a commune office does about each (post, re-post, take down).
#[utoipa::path(
    tag = "catalogue",
    params(ChangesQuery),
    responses(
        (status = 200, description = "JSON, or CSV / XLSX with one row per item",
         content((ChangeFeed = "application/json"), (String = "text/csv"), (String = "text/html"),
                 (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/catalogue/changes")]
pub async fn get_changes(
    req: HttpRequest,
    db: web::Data<Db>,
    query: web::Query<ChangesQuery>,
) -> Result<HttpResponse, ApiError> {
    let since = super::check_date("since", query.since)?;
    let province = super::province_query(query.province.as_deref())?;
    let level = query.level;
    let today = crate::domain::calendar::today_in_vietnam();
    let feed = db
        .run(move |conn| -> Result<_, ServiceError> {
            super::check_province(conn, province.as_deref())?;
            service::changes_since(conn, since, province.as_deref(), level, today)
        })
        .await?;
    let format = negotiate(&req, query.format);
    if format == Format::Json {
        return super::fresh::hashed_json(&req, &feed, None);
    }
    let name = format!("niemyet-changes-{since}");
    let lang = query.lang.unwrap_or_default();
    respond(format, lang, &feed, || changes_table(&feed, since), &name)
}
