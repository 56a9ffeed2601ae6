//! Gap reports: a commune, a province, the country, and a decision's impact, each in JSON, CSV
//! or XLSX.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

use super::export::{
    Cell, Format, Lang, Table, Vocab, negotiate, page, respond_pages, respond_with, severity_value,
    workbook,
};
use super::postings::commune_code;
use crate::auth::{Auditors, Caller, CommuneReaders, NationalReaders, ProvinceReaders, Role};
use crate::cache::ReportCache;
use crate::db::{Db, DbConnection};
use crate::domain::codes::UnitCode;
use crate::error::{ApiError, Problem};
use crate::services::ServiceError;
use crate::services::reports::{
    self as service, CommuneReport, DecisionImpact, NationalReport, ProvinceReport,
};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// The date the report is for (default today).
    #[param(example = "2026-07-01")]
    pub as_of: Option<NaiveDate>,
    /// `json`, `csv`, `xlsx`, or `html` (a page to print on A4); overrides the `Accept` header.
    #[param(inline)]
    pub format: Option<Format>,
    /// The language of CSV headers and of workbooks: `vi` (default) or `en`.
    #[param(inline)]
    pub lang: Option<Lang>,
}

pub(super) fn commune_table(r: &CommuneReport) -> Table {
    Table {
        sheet: "findings",
        subtitle: format!("{} ({}) · {}", r.commune.name, r.commune.code, r.as_of),
        columns: vec![
            "commune_code",
            "commune_name",
            "as_of",
            "finding_id",
            "kind",
            "severity",
            "procedure_code",
            "procedure_name",
            "sector",
            "channel",
            "expected_decision",
            "expected_effective_on",
            "observed_decision",
            "observed_posted_on",
            "changed_fields",
            "due_on",
            "overdue",
            "days_overdue",
        ],
        rows: r
            .findings
            .iter()
            .map(|f| {
                let f2 = &f.finding;
                vec![
                    Cell::from(r.commune.code.as_str()),
                    Cell::from(r.commune.name.as_str()),
                    Cell::from(r.as_of),
                    Cell::from(f2.id.as_str()),
                    Cell::Value(Vocab::Kind, f2.kind.as_str()),
                    severity_value(f2.severity),
                    Cell::from(f2.procedure_code.as_str()),
                    Cell::from(f2.procedure_name.clone()),
                    Cell::from(f.sector_name.clone()),
                    Cell::Value(Vocab::Channel, f2.channel.as_str()),
                    Cell::from(f2.expected.as_ref().and_then(|e| e.decision.clone())),
                    Cell::from(f2.expected.as_ref().map(|e| e.effective_on)),
                    Cell::from(f2.observed.as_ref().map(|o| o.decision.clone())),
                    Cell::from(f2.observed.as_ref().map(|o| o.posted_on)),
                    Cell::from(f2.changed_fields.join(" ")),
                    Cell::from(f2.due_on),
                    Cell::from(f2.overdue),
                    Cell::from(f2.days_overdue),
                ]
            })
            .collect(),
    }
}

/// A commune's report (its officer, an auditor of its province or of the country, an admin):
/// every finding, its deadline, and completeness by sector.
#[utoipa::path(
    tag = "reports",
    params(("code" = String, Path, description = "Commune code", example = "30130"), ReportQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "JSON, or CSV / XLSX with one row per finding", 
         content((CommuneReport = "application/json"), (String = "text/csv"), (String = "text/html"),
                 (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/communes/{code}/report")]
pub async fn get_commune_report(
    identity: Caller<CommuneReaders>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    path: web::Path<String>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let code = commune_code(&path.into_inner())?;
    let as_of = super::as_of(query.as_of)?;
    let unit = code.as_str().to_owned();
    let cache = cache.into_inner();
    // A report already computed under the current counters needs no database at all.
    let body = match cache.cached_commune_body(&unit, as_of) {
        Some((body, province)) => {
            identity.require_commune_read(&unit, &province)?;
            body
        }
        None => {
            db.run(move |conn| -> Result<_, ServiceError> {
                service::commune_report_json(conn, &cache, &unit, as_of, &|province| {
                    identity.require_commune_read(&unit, province)
                })
            })
            .await?
        }
    };
    let format = negotiate(&req, query.format);
    if format == Format::Json {
        // The compressed form is made once, when the report is computed.
        let gzip = crate::http::accepts_gzip(req.headers());
        let mut response = HttpResponse::Ok();
        response
            .content_type("application/json")
            .insert_header((actix_web::http::header::VARY, "Accept-Encoding"));
        return Ok(if gzip {
            response
                .insert_header((actix_web::http::header::CONTENT_ENCODING, "gzip"))
                .body(body.gzip)
        } else {
            response.body(body.json)
        });
    }
    let report: CommuneReport = serde_json::from_slice(&body.json).map_err(ApiError::internal)?;
    respond_pages(
        (format, query.lang.unwrap_or_default()),
        &report,
        || commune_table(&report),
        &format!("niemyet-{}-{}", code, as_of),
        |_, lang| workbook::commune(&report, lang),
        |lang| page::commune(&report, lang),
    )
}

fn province_table(r: &ProvinceReport) -> Table {
    Table {
        sheet: "communes",
        subtitle: format!("{} ({}) · {}", r.province.name, r.province.code, r.as_of),
        columns: vec![
            "province_code",
            "as_of",
            "commune_code",
            "commune_name",
            "required_pairs",
            "ok",
            "completeness",
            "missing",
            "outdated",
            "must_remove",
            "other",
            "overdue",
            "timely_rate",
        ],
        rows: r
            .communes
            .iter()
            .map(|c| {
                vec![
                    Cell::from(r.province.code.as_str()),
                    Cell::from(r.as_of),
                    Cell::from(c.code.as_str()),
                    Cell::from(c.name.as_str()),
                    Cell::from(c.required_pairs),
                    Cell::from(c.ok),
                    Cell::Percent(c.completeness),
                    Cell::from(c.missing),
                    Cell::from(c.outdated),
                    Cell::from(c.must_remove),
                    Cell::from(c.other),
                    Cell::from(c.overdue),
                    Cell::Percent(c.timely_rate),
                ]
            })
            .collect(),
    }
}

/// A province's report (an auditor of the province or of the country, an admin): a row per
/// commune, worst first, and each sector's coverage across the province.
#[utoipa::path(
    tag = "reports",
    params(("code" = String, Path, description = "Province code", example = "79"), ReportQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "JSON, or CSV / XLSX with one row per commune", 
         content((ProvinceReport = "application/json"), (String = "text/csv"), (String = "text/html"),
                 (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/provinces/{code}/report")]
pub async fn get_province_report(
    _identity: Caller<ProvinceReaders>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    path: web::Path<String>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let cache = cache.into_inner();
    let code = UnitCode::province(&path.into_inner())
        .map_err(|e| ApiError::validation_one("code", e.0))?;
    let as_of = super::as_of(query.as_of)?;
    let province = code.as_str().to_owned();
    let report = db
        .run(move |conn| service::province_report(conn, &cache, &province, as_of))
        .await?;
    let format = negotiate(&req, query.format);
    respond_with(
        format,
        query.lang.unwrap_or_default(),
        &report,
        || province_table(&report),
        &format!("niemyet-{}-{}", code, as_of),
        |_, lang| workbook::province(&report, lang),
    )
}

fn national_table(r: &NationalReport) -> Table {
    Table {
        sheet: "provinces",
        subtitle: r.as_of.to_string(),
        columns: vec![
            "as_of",
            "province_code",
            "province_name",
            "communes",
            "incomplete_communes",
            "required_pairs",
            "ok",
            "completeness",
            "missing",
            "outdated",
            "must_remove",
            "overdue",
            "timely_rate",
        ],
        rows: r
            .provinces
            .iter()
            .map(|p| {
                let counts = &p.totals.counts;
                vec![
                    Cell::from(r.as_of),
                    Cell::from(p.code.as_str()),
                    Cell::from(p.name.as_str()),
                    Cell::from(p.totals.communes),
                    Cell::from(p.incomplete_communes),
                    Cell::from(p.totals.required_pairs),
                    Cell::from(p.totals.ok),
                    Cell::Percent(p.totals.completeness),
                    Cell::from(counts.missing),
                    Cell::from(counts.outdated),
                    Cell::from(counts.must_remove),
                    Cell::from(p.totals.overdue),
                    Cell::Percent(p.totals.timely_rate),
                ]
            })
            .collect(),
    }
}

/// The national report (a national auditor, an admin): a row per province, worst first.
#[utoipa::path(
    tag = "reports",
    params(ReportQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "JSON, or CSV / XLSX with one row per province", 
         content((NationalReport = "application/json"), (String = "text/csv"), (String = "text/html"),
                 (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/reports/national")]
pub async fn get_national_report(
    _identity: Caller<NationalReaders>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let cache = cache.into_inner();
    let as_of = super::as_of(query.as_of)?;
    let report = db
        .run_heavy(move |fanout| service::national_report(fanout, &cache, as_of))
        .await?;
    let format = negotiate(&req, query.format);
    respond_with(
        format,
        query.lang.unwrap_or_default(),
        &report,
        || national_table(&report),
        &format!("niemyet-national-{as_of}"),
        |_, lang| workbook::national(&report, lang),
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImpactQuery {
    /// Only this province's communes (an auditor of a province always gets its own).
    #[param(example = "01")]
    pub province: Option<String>,
    /// The date the impact is read for (default today).
    #[param(example = "2026-07-01")]
    pub as_of: Option<NaiveDate>,
    /// `json`, `csv`, `xlsx`, or `html` (a page to print on A4); overrides the `Accept` header.
    #[param(inline)]
    pub format: Option<Format>,
    /// The language of CSV headers and of workbooks: `vi` (default) or `en`.
    #[param(inline)]
    pub lang: Option<Lang>,
}

fn impact_table(r: &DecisionImpact) -> Table {
    Table {
        sheet: "impact",
        subtitle: format!("{} · {}", r.decision_number, r.as_of),
        columns: vec![
            "decision",
            "as_of",
            "province_code",
            "commune_code",
            "commune_name",
            "procedure_code",
            "procedure_name",
            "channel",
            "kind",
            "due_on",
            "overdue",
        ],
        rows: r
            .rows
            .iter()
            .map(|i| {
                vec![
                    Cell::from(r.decision_number.as_str()),
                    Cell::from(r.as_of),
                    Cell::from(i.province_code.as_str()),
                    Cell::from(i.commune_code.as_str()),
                    Cell::from(i.commune_name.as_str()),
                    Cell::from(i.procedure_code.as_str()),
                    Cell::from(i.procedure_name.clone()),
                    Cell::Value(Vocab::Channel, i.channel.as_str()),
                    Cell::Value(Vocab::Kind, i.kind.as_str()),
                    Cell::from(i.due_on),
                    Cell::from(i.overdue),
                ]
            })
            .collect(),
    }
}

/// A decision's impact (an auditor, an admin): the communes that have not yet posted what the
/// decision introduced, or still post what it abolished.
#[utoipa::path(
    tag = "reports",
    params(("id" = String, Path, description = "Decision id", example = "0196d4a2-3f1b-7c2e-9a4d-5b6c7d8e9f01"), ImpactQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "JSON, or CSV / XLSX with one row per pending posting", 
         content((DecisionImpact = "application/json"), (String = "text/csv"), (String = "text/html"),
                 (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/decisions/{id}/impact")]
pub async fn get_decision_impact(
    identity: Caller<Auditors>,
    req: HttpRequest,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<ImpactQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    super::check_id(&id, "decision")?;
    let query = query.into_inner();
    let province = query
        .province
        .as_deref()
        .map(UnitCode::province)
        .transpose()
        .map_err(|e| ApiError::validation_one("province", e.0))?
        .map(|p| p.as_str().to_owned());
    // A provincial auditor sees its own province; others may ask for any, or for all.
    let province = match (&identity.role, &identity.unit, province) {
        (Role::Auditor, Some(unit), None) => Some(unit.as_str().to_owned()),
        (_, _, p) => p,
    };
    match &province {
        Some(p) => identity.require_province_read(p)?,
        None => identity.require_national_read()?,
    }
    let as_of = super::as_of(query.as_of)?;
    let national = province.is_none();
    let format = negotiate(&req, query.format);
    let job = move |conn: &mut DbConnection| -> Result<_, ServiceError> {
        super::check_province(conn, province.as_deref())?;
        let report = service::decision_impact(conn, &id, province.as_deref(), as_of)?;
        // The workbook names the provinces it counts.
        let names = if format == Format::Xlsx {
            service::province_names(conn, &report)?
        } else {
            HashMap::new()
        };
        Ok((report, names))
    };
    // Across the country, the impact reads every commune: heavy work, in turn with the others.
    let (report, names) = if national {
        db.run_heavy(move |fanout| job(&mut *fanout.get()?)).await?
    } else {
        db.run(job).await?
    };
    let name = format!("niemyet-impact-{}", as_of);
    let lang = query.lang.unwrap_or_default();
    respond_with(
        format,
        lang,
        &report,
        || impact_table(&report),
        &name,
        |_, lang| workbook::impact(&report, &names, lang),
    )
}
