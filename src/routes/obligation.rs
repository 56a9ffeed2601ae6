//! Who must post what: the posting list of a province or a commune (what its communes print and
//! hang), the province's posting places, and the sector table.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, put, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::export::sheet::{self, SheetHeading, SheetItem, SheetSector};
use super::export::{Cell, Format, Lang, Table, Vocab, labels, lang_tag, negotiate, respond};
use super::postings::commune_code;
use super::{actor, if_match};
use crate::auth::{Admins, Caller, CommuneReaders};
use crate::cache::ReportCache;
use crate::db::Db;
use crate::domain::catalogue::{Channel, Method, TimeUnit};
use crate::domain::codes::UnitCode;
use crate::domain::obligation::{BasisKind, PlacesPeriod, PostingPlace, describe_rule};
use crate::domain::text;
use crate::error::{ApiError, FieldError, Problem};
use crate::services::ServiceError;
use crate::services::obligation::{self as service, PostingList, places_etag};
use crate::services::placement::{self, SectorPlaceView};

fn province_param(raw: String) -> Result<UnitCode, ApiError> {
    UnitCode::province(&raw).map_err(|e| ApiError::validation_one("code", e.0))
}

/// A province's posting places over time.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostingPlaces {
    /// From each date, the places the province's communes post. Empty: the default, the commune
    /// centre only. A period must name `commune_centre`; adding `commune_police` has the commune
    /// police's procedures posted at the centre too.
    #[schema(max_items = 100)]
    pub periods: Vec<PlacesPeriod>,
}

/// Where a province's communes post (public): the effective-dated setting.
#[utoipa::path(
    tag = "obligation",
    params(("code" = String, Path, description = "Province code", example = "52")),
    responses(
        (status = 200, body = PostingPlaces, headers(("ETag" = String))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/provinces/{code}/posting-places")]
pub async fn get_posting_places(
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let province = province_param(path.into_inner())?.as_str().to_owned();
    let periods = db
        .run(move |conn| service::places_of(conn, &province))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, places_etag(&periods)))
        .json(PostingPlaces { periods }))
}

/// Replace a province's posting places (admin). From each period's date, every report of the
/// province's communes requires what is posted at those places.
#[utoipa::path(
    tag = "obligation",
    params(("code" = String, Path, description = "Province code", example = "52"),
           ("If-Match" = Option<String>, Header, description = "ETag of the periods read before")),
    request_body = PostingPlaces,
    security(("bearer" = [])),
    responses(
        (status = 200, body = PostingPlaces, headers(("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/provinces/{code}/posting-places")]
pub async fn put_posting_places(
    identity: Caller<Admins>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    path: web::Path<String>,
    body: web::Json<PostingPlaces>,
) -> Result<HttpResponse, ApiError> {
    let province = province_param(path.into_inner())?.as_str().to_owned();
    let periods = body.into_inner().periods;
    let mut errors = Vec::new();
    if periods.len() > 100 {
        errors.push(FieldError::new("periods", "at most 100 periods"));
    }
    for (i, p) in periods.iter().enumerate() {
        if !crate::domain::calendar::date_in_range(p.from) {
            errors.push(FieldError::new(
                format!("periods[{i}].from"),
                "must be between 1900-01-01 and 2199-12-31",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let (actor, if_match) = (actor(identity, &req), if_match(&req));
    let committed = db
        .run(move |conn| {
            service::replace_places(conn, &province, periods, (&actor, if_match.as_deref()))
        })
        .await?;
    let periods = cache.publish(committed);
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, places_etag(&periods)))
        .json(PostingPlaces { periods }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PostingListQuery {
    /// The date (default today).
    #[param(example = "2026-07-01")]
    pub as_of: Option<NaiveDate>,
    /// `json`, `csv`, `xlsx`, or `html` (a page to print on A4); overrides the `Accept` header.
    #[param(inline)]
    pub format: Option<Format>,
    /// The language of CSV headers and of workbooks: `vi` (default) or `en`.
    #[param(inline)]
    pub lang: Option<Lang>,
}

fn time_text(c: &Channel, lang: Lang) -> String {
    let unit = match c.time_unit {
        Some(TimeUnit::WorkingDays) => "working_days",
        Some(TimeUnit::Days) => "days",
        Some(TimeUnit::Hours) => "hours",
        Some(TimeUnit::Months) => "months",
        None => "",
    };
    match c.time_value {
        Some(v) => format!("{v} {}", labels::value(Vocab::TimeUnit, unit, lang))
            .trim()
            .to_owned(),
        None => String::new(),
    }
}

fn method_key(m: Method) -> &'static str {
    match m {
        Method::Direct => "direct",
        Method::Online => "online",
        Method::Postal => "postal",
    }
}

/// Processing time and fee per method, as one line each (`trực tiếp: 3 ngày làm việc`).
fn channels_text(channels: &[Channel], part: fn(&Channel, Lang) -> String, lang: Lang) -> String {
    channels
        .iter()
        .map(|c| {
            (
                labels::value(Vocab::Method, method_key(c.method), lang),
                part(c, lang),
            )
        })
        .filter(|(_, text)| !text.is_empty())
        .map(|(m, text)| format!("{m}: {text}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn fee_text(c: &Channel, lang: Lang) -> String {
    match c.fee_vnd {
        Some(0) => labels::text("free", lang).into(),
        Some(v) => format!("{v} {}", labels::text("currency", lang)),
        None => String::new(),
    }
}

fn list_table(l: &PostingList) -> Table {
    let commune = l.commune.as_ref().map(|c| c.code.as_str()).unwrap_or("");
    let unit = l.commune.as_ref().unwrap_or(&l.province);
    Table {
        sheet: "posting_list",
        subtitle: format!("{} ({}) · {}", unit.name, unit.code, l.as_of),
        columns: vec![
            "province_code",
            "commune_code",
            "as_of",
            "sector",
            "procedure_code",
            "procedure_name",
            "decision",
            "effective_on",
            "processing_time",
            "fee",
            "posting_place",
            "basis",
            "source_url",
        ],
        rows: l
            .sectors
            .iter()
            .flat_map(|s| s.items.iter().map(move |i| (s, i)))
            .map(|(s, i)| {
                let basis = match (&i.basis.kind, &i.basis.listed_by) {
                    (BasisKind::ProvincialList, Some(by)) => {
                        format!("danh mục {} từ {}", by.decision_number, by.effective_on)
                    }
                    _ => describe_rule(&i.basis.placement_rule).to_owned(),
                };
                vec![
                    Cell::from(l.province.code.as_str()),
                    Cell::from(commune),
                    Cell::from(l.as_of),
                    Cell::from(s.sector_name.as_str()),
                    Cell::from(i.procedure_code.as_str()),
                    Cell::from(i.procedure_name.as_str()),
                    Cell::from(i.decision.clone()),
                    Cell::from(i.effective_on),
                    Cell::from(channels_text(&i.channels, time_text, Lang::Vi)),
                    Cell::from(channels_text(&i.channels, fee_text, Lang::Vi)),
                    Cell::Value(Vocab::Place, i.posting_place.as_str()),
                    Cell::from(basis),
                    Cell::from(i.source_url.clone()),
                ]
            })
            .collect(),
    }
}

/// What every commune of a province must post on a date (public, like the catalogue): by
/// sector, each procedure with its applicable version (decision, effective date, content hash,
/// processing time and fee), its posting place and why it is required.
#[utoipa::path(
    tag = "obligation",
    params(("code" = String, Path, description = "Province code", example = "52"), PostingListQuery),
    responses(
        (status = 200, description = "JSON, or CSV / XLSX with one row per procedure",
         content((PostingList = "application/json"), (String = "text/csv"), (String = "text/html"),
                 (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/provinces/{code}/posting-list")]
pub async fn get_province_posting_list(
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    path: web::Path<String>,
    query: web::Query<PostingListQuery>,
) -> Result<HttpResponse, ApiError> {
    let province = province_param(path.into_inner())?.as_str().to_owned();
    let as_of = super::as_of(query.as_of)?;
    let cache = cache.into_inner();
    let code = province.clone();
    let list = db
        .run(move |conn| service::posting_list(conn, &cache, (&code, None), as_of, &|_| Ok(())))
        .await?;
    respond(
        negotiate(&req, query.format),
        query.lang.unwrap_or_default(),
        &list,
        || list_table(&list),
        &format!("niemyet-danh-muc-{province}-{as_of}"),
    )
}

/// What one commune must post on a date, its exemptions applied (whoever may read its report).
#[utoipa::path(
    tag = "obligation",
    params(("code" = String, Path, description = "Commune code", example = "23764"), PostingListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "JSON, or CSV / XLSX with one row per procedure",
         content((PostingList = "application/json"), (String = "text/csv"), (String = "text/html"),
                 (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/communes/{code}/posting-list")]
pub async fn get_commune_posting_list(
    identity: Caller<CommuneReaders>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    path: web::Path<String>,
    query: web::Query<PostingListQuery>,
) -> Result<HttpResponse, ApiError> {
    let code = commune_code(&path.into_inner())?;
    let as_of = super::as_of(query.as_of)?;
    let cache = cache.into_inner();
    let unit = code.as_str().to_owned();
    let list = db
        .run(move |conn| {
            service::posting_list(conn, &cache, ("", Some(&unit)), as_of, &|province| {
                identity.require_commune_read(&unit, province)
            })
        })
        .await?;
    respond(
        negotiate(&req, query.format),
        query.lang.unwrap_or_default(),
        &list,
        || list_table(&list),
        &format!("niemyet-danh-muc-{code}-{as_of}"),
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PostingSheetQuery {
    /// The date (default today).
    #[param(example = "2026-07-01")]
    pub as_of: Option<NaiveDate>,
    /// The language of the page: `vi` (default) or `en`.
    #[param(inline)]
    pub lang: Option<Lang>,
}

/// The sheet's sectors and rows, from the posting list.
fn sheet_sectors(list: &PostingList, lang: Lang) -> Vec<SheetSector> {
    list.sectors
        .iter()
        .map(|s| SheetSector {
            name: s.sector_name.clone(),
            items: s
                .items
                .iter()
                .map(|i| SheetItem {
                    code: i.procedure_code.clone(),
                    name: i.procedure_name.clone(),
                    decision: i.decision.clone(),
                    processing_time: channels_text(&i.channels, time_text, lang),
                    fee: channels_text(&i.channels, fee_text, lang),
                    source_url: i.source_url.clone(),
                })
                .collect(),
        })
        .collect()
}

/// The posting sheet a commune office prints and hangs (whoever may read its report): its
/// posting list by sector, each procedure with its code, name, announcing decision, processing
/// time, fee and a QR code of its page on the national portal. One HTML page for A4, with
/// nothing to load.
#[utoipa::path(
    tag = "obligation",
    params(("code" = String, Path, description = "Commune code", example = "23764"), PostingSheetQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A printable HTML page (A4), styles and QR codes inline",
         content_type = "text/html", body = String),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/communes/{code}/posting-sheet")]
pub async fn get_commune_posting_sheet(
    identity: Caller<CommuneReaders>,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    path: web::Path<String>,
    query: web::Query<PostingSheetQuery>,
) -> Result<HttpResponse, ApiError> {
    let code = commune_code(&path.into_inner())?;
    let as_of = super::as_of(query.as_of)?;
    let lang = query.lang.unwrap_or_default();
    let cache = cache.into_inner();
    let unit = code.as_str().to_owned();
    let list = db
        .run(move |conn| {
            service::posting_list(conn, &cache, ("", Some(&unit)), as_of, &|province| {
                identity.require_commune_read(&unit, province)
            })
        })
        .await?;
    let commune = list.commune.as_ref().map_or("", |c| c.name.as_str());
    let heading = SheetHeading {
        commune,
        province: &list.province.name,
        as_of,
    };
    let printed = (chrono::Utc::now() + chrono::Duration::hours(7))
        .format("%d/%m/%Y %H:%M")
        .to_string();
    let page = sheet::posting_sheet(&heading, &sheet_sectors(&list, lang), lang, &printed)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_LANGUAGE, lang_tag(lang)))
        .insert_header((header::CONTENT_SECURITY_POLICY, sheet::CSP))
        .body(page))
}

/// Where a sector's procedures are posted when their agency text says nothing.
#[derive(Debug, Serialize, ToSchema)]
pub struct SectorPlace {
    #[schema(example = "ho-tich")]
    pub sector_code: String,
    #[schema(example = "Hộ tịch")]
    pub sector_name: String,
    /// `None` when the table has no row for the sector: its commune-level procedures that name
    /// no body are then the commune centre's.
    pub place: Option<PostingPlace>,
    /// Why, citing the law where it can.
    pub reason: Option<String>,
    pub updated_by: Option<String>,
    #[schema(example = "2026-07-01T08:30:00Z")]
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<SectorPlaceView> for SectorPlace {
    fn from(v: SectorPlaceView) -> Self {
        let row = v.row;
        SectorPlace {
            sector_code: v.sector_code,
            sector_name: v.sector_name,
            place: row.as_ref().and_then(|r| PostingPlace::parse(&r.place)),
            reason: row.as_ref().map(|r| r.reason.clone()),
            updated_by: row.as_ref().map(|r| r.updated_by.clone()),
            updated_at: row.as_ref().map(|r| r.updated_at.and_utc()),
        }
    }
}

/// The sector table's row of a sector (public).
#[utoipa::path(
    tag = "obligation",
    params(("code" = String, Path, description = "Sector code", example = "ho-tich")),
    responses(
        (status = 200, body = SectorPlace, headers(("ETag" = String))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/sectors/{code}/posting-place")]
pub async fn get_sector_place(
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = path.into_inner();
    let view = db
        .run(move |conn| placement::sector_place(conn, &code))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, view.etag()))
        .json(SectorPlace::from(view)))
}

/// A sector's row, as an admin sets it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSectorPlace {
    pub place: PostingPlace,
    /// Why, in a sentence (citing the law where it can).
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

/// What setting a sector's row did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SectorPlaceChange {
    #[serde(flatten)]
    pub sector: SectorPlace,
    /// Versions of the sector whose posting place changed (past ones included).
    pub versions_placed: u64,
}

/// Set where a sector's procedures of no known agency are posted (admin). Every version of the
/// sector is placed again, past ones included: reports for any date follow the corrected table.
#[utoipa::path(
    tag = "obligation",
    params(("code" = String, Path, description = "Sector code", example = "ho-tich"),
           ("If-Match" = Option<String>, Header, description = "ETag of the row read before")),
    request_body = NewSectorPlace,
    security(("bearer" = [])),
    responses(
        (status = 200, body = SectorPlaceChange, headers(("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/sectors/{code}/posting-place")]
pub async fn put_sector_place(
    identity: Caller<Admins>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    path: web::Path<String>,
    body: web::Json<NewSectorPlace>,
) -> Result<HttpResponse, ApiError> {
    let code = path.into_inner();
    let body = body.into_inner();
    let reason = text::nfc(&body.reason);
    if reason.is_empty() || reason.chars().count() > 1000 || text::has_control(&reason) {
        return Err(ApiError::validation_one(
            "reason",
            "must be 1 to 1000 characters without control characters",
        ));
    }
    let (actor, if_match) = (actor(identity, &req), if_match(&req));
    let committed = db
        .run(move |conn| -> Result<_, ServiceError> {
            placement::set_sector_place(
                conn,
                &code,
                (body.place, reason),
                (&actor, if_match.as_deref()),
            )
        })
        .await?;
    let (view, placed) = cache.publish(committed);
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, view.etag()))
        .json(SectorPlaceChange {
            sector: view.into(),
            versions_placed: placed as u64,
        }))
}
