//! Inspections: recorded by an auditor (of the commune's province or of the country) or an admin;
//! read by them and by the commune's officer.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::export::{
    Cell, Format, Lang, Table, Vocab, negotiate, page, respond, respond_pages, severity_value,
    to_xlsx, workbook,
};
use super::reports::commune_table;
use super::{decode_cursor, encode_cursor, page_limit};
use crate::auth::{Auditors, Caller, Role, Staff};
use crate::cache::ReportCache;
use crate::db::Db;
use crate::domain::codes::{UnitCode, UnitLevel};
use crate::domain::text;
use crate::error::{ApiError, FieldError, Problem};
use crate::repo::inspections::InspectionFilter;
use crate::services::ServiceError;
use crate::services::inspections::{
    self as service, ArchiveInput, ArchiveRecord, FollowUp, Inspection, InspectionInput,
    InspectionSummary,
};
use crate::services::reports::named_commune;

/// At most this many team members, each at most 200 characters; notes at most 10,000.
const MAX_TEAM: usize = 50;
const MAX_NOTES: usize = 10_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInspection {
    /// The commune inspected.
    #[schema(example = "26740")]
    pub unit: String,
    /// The day of the visit (not after today): the snapshot is the report as of this day.
    #[schema(example = "2026-11-20")]
    pub inspected_on: NaiveDate,
    /// The team members' names.
    #[schema(min_items = 1, max_items = 50, example = json!(["Nguyễn Văn An", "Trần Thị Bình"]))]
    pub team: Vec<String>,
    #[schema(
        max_length = 10000,
        example = "Bảng niêm yết tại bộ phận một cửa thiếu lĩnh vực hộ tịch."
    )]
    pub notes: Option<String>,
    /// Only for a record from the paper archive of a commune retired in 2025: what the team
    /// found, one text per finding (an empty list for a visit that found nothing). `unit` is
    /// then the commune in force on `inspected_on` (on or before 2025-06-30), and no report is
    /// computed, since there was no catalogue then. Leave it out for a commune of today, whose
    /// findings are computed.
    #[schema(max_items = 500, example = json!(["Chưa niêm yết thủ tục Đăng ký khai sinh tại bộ phận một cửa"]))]
    pub findings: Option<Vec<String>>,
}

/// At most this many findings in an archive record, each at most 2,000 characters.
const MAX_FINDINGS: usize = 500;
const MAX_FINDING: usize = 2_000;

/// A checked request: an inspection of a commune of today, or an archive record.
enum NewRecord {
    Snapshot(InspectionInput),
    Archive(ArchiveInput),
}

fn check_new(body: NewInspection) -> Result<NewRecord, ApiError> {
    let mut errors = Vec::new();
    let retired_on = crate::domain::lineage::retired_on();
    let findings = body.findings.map(|findings| {
        if findings.len() > MAX_FINDINGS {
            errors.push(FieldError::new(
                "findings",
                format!("must list at most {MAX_FINDINGS} findings"),
            ));
        }
        if body.inspected_on > retired_on {
            errors.push(FieldError::new(
                "findings",
                format!(
                    "findings are given as text only for a record of a commune retired on {retired_on}, of a visit by then; the findings of a commune of today are computed"
                ),
            ));
        }
        let mut checked = Vec::with_capacity(findings.len());
        for (i, finding) in findings.iter().enumerate() {
            let text = text::nfc(finding.trim());
            if text.is_empty() || text.chars().count() > MAX_FINDING || text::has_control(&text) {
                errors.push(FieldError::new(
                    format!("findings[{i}]"),
                    format!("must be a text of 1 to {MAX_FINDING} characters, without control characters"),
                ));
            }
            checked.push(text);
        }
        checked
    });
    // The communes of today exist since 2025-07-01: an earlier visit was to a commune of then.
    if findings.is_none() && body.inspected_on <= retired_on {
        errors.push(FieldError::new(
            "inspected_on",
            format!(
                "the communes of today exist since {}: a visit on or before {retired_on} was to a commune of then, recorded from the archive with its `findings` as text",
                retired_on + chrono::Days::new(1)
            ),
        ));
    }
    let commune = match UnitCode::parse(&body.unit) {
        Ok(code) if code.level() == UnitLevel::Commune => Some(code.as_str().to_owned()),
        Ok(code) => {
            errors.push(FieldError::new(
                "unit",
                format!("{code} is a province; an inspection is of a commune"),
            ));
            None
        }
        Err(e) => {
            errors.push(FieldError::new("unit", e.0));
            None
        }
    };
    if !crate::domain::calendar::date_in_range(body.inspected_on) {
        errors.push(FieldError::new(
            "inspected_on",
            "must be between 1900-01-01 and 2199-12-31",
        ));
    } else if body.inspected_on > crate::domain::calendar::today_in_vietnam() {
        errors.push(FieldError::new(
            "inspected_on",
            "an inspection is recorded on or after the day of the visit, not before",
        ));
    }
    if body.team.is_empty() || body.team.len() > MAX_TEAM {
        errors.push(FieldError::new(
            "team",
            format!("must name between 1 and {MAX_TEAM} members"),
        ));
    }
    let mut team = Vec::with_capacity(body.team.len());
    for (i, member) in body.team.iter().enumerate() {
        let name = text::nfc(member.trim());
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            errors.push(FieldError::new(
                format!("team[{i}]"),
                "must be a name of 1 to 200 characters on one line",
            ));
        }
        team.push(name);
    }
    let notes = body.notes.map(|n| text::nfc(n.trim()));
    if let Some(n) = &notes
        && (n.chars().count() > MAX_NOTES || text::has_control(n))
    {
        errors.push(FieldError::new(
            "notes",
            format!("must be at most {MAX_NOTES} characters, without control characters"),
        ));
    }
    let notes = notes.filter(|n| !n.is_empty());
    match (commune, findings) {
        (Some(commune), None) if errors.is_empty() => Ok(NewRecord::Snapshot(InspectionInput {
            commune,
            inspected_on: body.inspected_on,
            team,
            notes,
        })),
        (Some(commune), Some(findings)) if errors.is_empty() => {
            Ok(NewRecord::Archive(ArchiveInput {
                commune,
                inspected_on: body.inspected_on,
                team,
                notes,
                findings,
            }))
        }
        _ => Err(ApiError::Validation(errors)),
    }
}

fn etag(content_hash: &str) -> String {
    format!("\"{}\"", &content_hash[..content_hash.len().min(24)])
}

/// Record an inspection of a commune (an auditor of its province or of the country, an admin):
/// its report as of the inspection day is frozen with the record. With `findings`, a record
/// from the paper archive of a commune retired in 2025 (an auditor of the province of today its
/// successors belong to, or of the country, an admin): kept under the old commune, listed with
/// its successors' inspections.
#[utoipa::path(
    tag = "inspections",
    request_body = NewInspection,
    security(("bearer" = [])),
    responses(
        (status = 201, body = Inspection, headers(("Location" = String), ("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/inspections")]
pub async fn create_inspection(
    identity: Caller<Auditors>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    body: web::Json<NewInspection>,
) -> Result<HttpResponse, ApiError> {
    let actor = super::actor(identity, &req);
    let inspection = match check_new(body.into_inner())? {
        NewRecord::Snapshot(input) => {
            let committed = db
                .run(move |conn| -> Result<_, ServiceError> {
                    let (_, province) = named_commune(conn, &input.commune, "unit")
                        .map_err(|e| service::hint_archive(conn, &input, e))?;
                    actor
                        .identity
                        .require_commune_read(&input.commune, &province.code)?;
                    service::record(conn, input, &province.code, &actor)
                })
                .await?;
            cache.publish(committed).view()?
        }
        NewRecord::Archive(input) => {
            let committed = db
                .run(move |conn| service::record_archive(conn, input, &actor))
                .await?;
            Inspection {
                summary: cache.publish(committed).view()?,
                report: None,
            }
        }
    };
    let location = format!("/api/v1/inspections/{}", inspection.summary.id);
    let tag = etag(&inspection.summary.content_hash);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::ETAG, tag))
        .json(inspection))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InspectionQuery {
    /// Only this commune's inspections.
    #[param(example = "10441")]
    pub unit: Option<String>,
    /// Only this province's (an auditor of a province always gets its own).
    #[param(example = "01")]
    pub province: Option<String>,
    /// Inspected on or after this day.
    #[param(example = "2020-01-01")]
    pub from: Option<NaiveDate>,
    /// Inspected on or before this day.
    #[param(example = "2026-11-30")]
    pub to: Option<NaiveDate>,
    /// With a commune (`unit`, or an officer's own): also the archive records of the communes
    /// retired in 2025 it came from, wholly or in part.
    pub include_predecessors: Option<bool>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct InspectionPage {
    pub items: Vec<InspectionSummary>,
    pub next_cursor: Option<String>,
}

/// List inspections, latest visit first: an admin or a national auditor sees all, an auditor of
/// a province its own (archive records of retired communes included, filed with the province
/// of their successors), an officer those of its commune.
#[utoipa::path(
    tag = "inspections",
    params(InspectionQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = InspectionPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/inspections")]
pub async fn list_inspections(
    identity: Caller<Staff>,
    db: web::Data<Db>,
    query: web::Query<InspectionQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = page_limit(query.limit)?;
    let commune = query
        .unit
        .as_deref()
        .map(super::postings::commune_code)
        .transpose()
        .map_err(|_| {
            ApiError::validation_one("unit", "must be a commune code (5 digits), e.g. 26740")
        })?
        .map(|c| c.as_str().to_owned());
    let mut province = super::province_query(query.province.as_deref())?;
    for (field, date) in [("from", query.from), ("to", query.to)] {
        if let Some(d) = date {
            super::check_date(field, d)?;
        }
    }
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from > to
    {
        return Err(ApiError::validation_one("to", "must not be before `from`"));
    }
    // Scope: an officer sees its own commune, a provincial auditor its own province.
    let own = identity.unit.as_ref().map(|u| u.as_str().to_owned());
    let commune = match (identity.role, commune) {
        (Role::Officer, Some(c)) if Some(&c) != own.as_ref() => {
            return Err(ApiError::Forbidden(format!(
                "an officer reads the inspections of its own commune, not of {c}"
            )));
        }
        (Role::Officer, _) => own.clone(),
        (_, c) => c,
    };

    if identity.role == Role::Auditor
        && let Some(own) = &own
    {
        match &province {
            Some(p) if p != own => identity.require_province_read(p)?,
            _ => province = Some(own.clone()),
        }
    }
    let after = match query.cursor.as_deref().map(decode_cursor).transpose()? {
        None => None,
        Some(raw) => raw
            .split_once('|')
            .and_then(|(d, id)| {
                let d = d.parse::<NaiveDate>().ok()?;
                crate::domain::calendar::date_in_range(d).then(|| (d, id.to_owned()))
            })
            .map(Some)
            .ok_or_else(|| ApiError::BadRequest("invalid cursor".into()))?,
    };
    let include_predecessors = query.include_predecessors.unwrap_or(false);
    if include_predecessors && commune.is_none() {
        return Err(ApiError::validation_one(
            "include_predecessors",
            "needs a commune of today in `unit`",
        ));
    }
    let mut filter = InspectionFilter {
        commune: commune.clone(),
        predecessors: Vec::new(),
        province: province.clone(),
        from: query.from,
        to: query.to,
        after,
        limit: limit + 1,
    };
    let mut rows = db
        .run(move |conn| -> Result<_, ServiceError> {
            super::check_province(conn, province.as_deref())?;
            if let Some(c) = &commune {
                let (_, p) = named_commune(conn, c, "unit")?;
                identity.require_commune_read(c, &p.code)?;
                if identity.role == Role::Officer
                    && filter
                        .province
                        .as_ref()
                        .is_some_and(|wanted| *wanted != p.code)
                {
                    return Err(ServiceError::Forbidden(format!(
                        "an officer reads the inspections of its own commune, in province {}",
                        p.code
                    )));
                }
            }
            if include_predecessors && let Some(c) = &filter.commune {
                filter.predecessors = service::predecessors_of(conn, c)?;
            }
            service::list(conn, &filter)
        })
        .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|r| encode_cursor(&format!("{}|{}", r.inspected_on, r.id)))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(InspectionPage {
        items: rows,
        next_cursor,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    /// `json`, `csv`, `xlsx`, or `html` (a page to print on A4); overrides the `Accept` header.
    #[param(inline)]
    pub format: Option<Format>,
    /// The language of CSV headers and of workbooks: `vi` (default) or `en`.
    #[param(inline)]
    pub lang: Option<Lang>,
}

/// One inspection with its frozen report (JSON), or the report's findings (CSV, XLSX). The
/// snapshot never changes: the `ETag` is the hash of its content.
#[utoipa::path(
    tag = "inspections",
    params(("id" = String, Path, description = "Inspection id", example = "01938f4e-7c2a-7d3b-9a41-5f0e2b7c9d10"), FormatQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "JSON, or CSV / XLSX with one row per finding", headers(("ETag" = String)),
         content((Inspection = "application/json"), (String = "text/csv"), (String = "text/html"),
                 (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/inspections/{id}")]
pub async fn get_inspection(
    identity: Caller<Staff>,
    req: HttpRequest,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<FormatQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    super::check_id(&id, "inspection")?;
    let inspection = db
        .run(move |conn| service::readable(conn, &identity, &id))
        .await?;
    let format = negotiate(&req, query.format);
    let name = format!(
        "niemyet-inspection-{}-{}",
        inspection.summary.commune, inspection.summary.inspected_on
    );
    let lang = query.lang.unwrap_or_default();
    let mut response = match (&inspection.report, &inspection.summary.archive) {
        (Some(report), _) => respond_pages(
            (format, lang),
            &inspection,
            || commune_table(report),
            &name,
            |_, lang| workbook::commune(report, lang),
            |lang| page::inspection(&inspection, lang),
        )?,
        (None, Some(archive)) => respond_pages(
            (format, lang),
            &inspection,
            || archive_table(&inspection.summary, archive),
            &name,
            |table, lang| to_xlsx(&table(), lang),
            |lang| page::inspection(&inspection, lang),
        )?,
        (None, None) => {
            return Err(ApiError::internal(anyhow::anyhow!(
                "inspection {} has neither a report nor an archive record",
                inspection.summary.id
            )));
        }
    };
    // One tag per representation: the JSON, CSV and XLSX forms differ.
    let tag = match format {
        Format::Json => etag(&inspection.summary.content_hash),
        other => format!(
            "\"{}-{}\"",
            etag(&inspection.summary.content_hash).trim_matches('"'),
            match other {
                Format::Csv => "csv",
                Format::Html => "html",
                _ => "xlsx",
            }
        ),
    };
    response.headers_mut().insert(
        header::ETAG,
        header::HeaderValue::from_str(&tag).map_err(ApiError::internal)?,
    );
    response
        .headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("Accept"));
    Ok(response)
}

/// An archive record's findings, one row each.
fn archive_table(s: &InspectionSummary, archive: &ArchiveRecord) -> Table {
    let unit = &archive.unit;
    Table {
        sheet: "archive",
        subtitle: format!("{} ({}) · {}", unit.name, unit.code, s.inspected_on),
        columns: vec![
            "inspection_id",
            "commune_code",
            "commune_name",
            "district_name",
            "province_name",
            "inspected_on",
            "no",
            "finding",
        ],
        rows: archive
            .findings
            .iter()
            .enumerate()
            .map(|(i, finding)| {
                vec![
                    Cell::from(s.id.as_str()),
                    Cell::from(unit.code.as_str()),
                    Cell::from(unit.name.as_str()),
                    Cell::from(unit.district.as_ref().map_or("", |d| d.name.as_str())),
                    Cell::from(unit.province.name.as_str()),
                    Cell::from(s.inspected_on),
                    Cell::from(i as i64 + 1),
                    Cell::from(finding.as_str()),
                ]
            })
            .collect(),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FollowUpQuery {
    /// The day to compare with (default today; not before the inspection).
    #[param(example = "2026-11-30")]
    pub as_of: Option<NaiveDate>,
    /// `json`, `csv`, `xlsx`, or `html` (a page to print on A4); overrides the `Accept` header.
    #[param(inline)]
    pub format: Option<Format>,
    /// The language of CSV headers and of workbooks: `vi` (default) or `en`.
    #[param(inline)]
    pub lang: Option<Lang>,
}

fn follow_up_table(f: &FollowUp) -> Table {
    Table {
        sheet: "follow_up",
        subtitle: format!("{} ({}) · {}", f.commune.name, f.commune.code, f.as_of),
        columns: vec![
            "inspection_id",
            "commune_code",
            "inspected_on",
            "as_of",
            "status",
            "finding_id",
            "kind",
            "severity",
            "procedure_code",
            "procedure_name",
            "sector",
            "channel",
            "due_on",
            "overdue",
        ],
        rows: f
            .findings
            .iter()
            .map(|x| {
                let g = &x.finding.finding;
                vec![
                    Cell::from(f.inspection_id.as_str()),
                    Cell::from(f.commune.code.as_str()),
                    Cell::from(f.inspected_on),
                    Cell::from(f.as_of),
                    Cell::Value(Vocab::FollowUp, x.status.as_str()),
                    Cell::from(g.id.as_str()),
                    Cell::Value(Vocab::Kind, g.kind.as_str()),
                    severity_value(g.severity),
                    Cell::from(g.procedure_code.as_str()),
                    Cell::from(g.procedure_name.clone()),
                    Cell::from(x.finding.sector_name.clone()),
                    Cell::Value(Vocab::Channel, g.channel.as_str()),
                    Cell::from(g.due_on),
                    Cell::from(g.overdue),
                ]
            })
            .collect(),
    }
}

/// Follow-up of an inspection: each finding of the snapshot `resolved` or `still_open` on
/// `as_of`, and the findings `new` since, with counts.
#[utoipa::path(
    tag = "inspections",
    params(("id" = String, Path, description = "Inspection id", example = "01938f4e-7c2a-7d3b-9a41-5f0e2b7c9d10"), FollowUpQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "JSON, or CSV / XLSX with one row per finding",
         content((FollowUp = "application/json"), (String = "text/csv"), (String = "text/html"),
                 (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An archive record, which has no report to follow up", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/inspections/{id}/follow-up")]
pub async fn get_follow_up(
    identity: Caller<Staff>,
    req: HttpRequest,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<FollowUpQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    super::check_id(&id, "inspection")?;
    let as_of = super::as_of(query.as_of)?;
    let follow_up = db
        .run(move |conn| -> Result<_, ServiceError> {
            let snapshot = service::readable(conn, &identity, &id)?;
            if as_of < snapshot.summary.inspected_on {
                return Err(ServiceError::invalid(
                    "as_of",
                    format!(
                        "must not be before the inspection ({})",
                        snapshot.summary.inspected_on
                    ),
                ));
            }
            service::follow_up(conn, snapshot, as_of)
        })
        .await?;
    let format = negotiate(&req, query.format);
    let name = format!(
        "niemyet-follow-up-{}-{}",
        follow_up.commune.code, follow_up.as_of
    );
    let lang = query.lang.unwrap_or_default();
    respond(
        format,
        lang,
        &follow_up,
        || follow_up_table(&follow_up),
        &name,
    )
}
