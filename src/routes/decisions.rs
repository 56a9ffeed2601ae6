//! Announcing decisions: the only way the catalogue changes.

use std::collections::BTreeSet;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::{decode_cursor, encode_cursor, page_limit};
use crate::auth::{Caller, Editors};
use crate::cache::ReportCache;
use crate::db::Db;
use crate::domain::catalogue::{
    Channel, ContentPatch, ItemAction, ItemInput, Level, Method, Scope, TimeUnit,
};
use crate::domain::codes::{DecisionNumber, ProcedureCode};
use crate::domain::obligation::PostingPlace;
use crate::domain::text;
use crate::error::{ApiError, FieldError, Problem};
use crate::repo::catalogue::{self as repo, DecisionFilter, DecisionRow};
use crate::services::ServiceError;
use crate::services::catalogue::{DecisionInput, catalogue_etag, create_decision as create};
use crate::services::etag;

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Announcement,
    Import,
    /// A provincial list: which procedures a province's communes post.
    List,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DecisionQuery {
    /// `national` or a province code.
    #[param(example = "national")]
    pub scope: Option<String>,
    /// `announcement`, `import` or `list`.
    #[param(inline)]
    pub kind: Option<DecisionKind>,
    /// Only decisions with an item for this procedure code.
    #[param(example = "1.001193")]
    pub procedure: Option<String>,
    /// The decision with this number, written as anyone writes it: case, spaces, and `Đ` or
    /// `D` do not matter (`163/qd-btp` finds `163/QĐ-BTP`), as postings match numbers.
    #[param(example = "163/QĐ-BTP")]
    pub number: Option<String>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct Decision {
    #[schema(example = "0196d4a2-3f1b-7c2e-9a4d-5b6c7d8e9f01")]
    pub id: String,
    /// The number as written, e.g. `163/QĐ-BTP`.
    #[schema(example = "1234/QĐ-BTP")]
    pub number: String,
    #[schema(example = "Bộ Tư pháp")]
    pub issuer: String,
    /// `national` or the province code of a provincial decision.
    #[schema(example = "national")]
    pub scope: String,
    /// `announcement`, `import` for a catalogue import, or `list` for a provincial list.
    #[schema(example = "announcement")]
    pub kind: String,
    pub title: Option<String>,
    #[schema(example = "2026-06-15")]
    pub signed_on: NaiveDate,
    /// For an import: the file it came from.
    pub source: Option<String>,
    pub source_sha256: Option<String>,
    pub created_by: String,
    #[schema(example = "2026-07-01T08:30:00Z")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub item_count: i64,
}

fn decision_view(d: DecisionRow, item_count: i64) -> Decision {
    Decision {
        id: d.id,
        number: d.number,
        issuer: d.issuer,
        scope: d.scope,
        kind: d.kind,
        title: d.title,
        signed_on: d.signed_on,
        source: d.source,
        source_sha256: d.source_sha256,
        created_by: d.created_by,
        created_at: d.created_at.and_utc(),
        item_count,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionPage {
    pub items: Vec<Decision>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionItem {
    pub seq: i32,
    pub action: ItemAction,
    #[schema(example = "1.001193")]
    pub procedure_code: String,
    /// Name of the procedure in the version this item produced.
    #[schema(example = "Thủ tục đăng ký khai sinh")]
    pub procedure_name: String,
    #[schema(example = "Hộ tịch")]
    pub sector: String,
    #[schema(example = "2026-07-01")]
    pub effective_on: NaiveDate,
    /// The version (or abolition) this item produced; for a list item, the version it listed.
    #[schema(example = "0196d4a2-3f1c-7a10-8b2c-3d4e5f6a7b8c")]
    pub version_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionDetail {
    #[serde(flatten)]
    pub decision: Decision,
    pub items: Vec<DecisionItem>,
}

/// List decisions, newest signature first. The `ETag` is the catalogue's: send it as `If-Match`
/// when recording a decision or an import, to be refused (412) if another landed in between.
#[utoipa::path(
    tag = "catalogue",
    params(DecisionQuery),
    responses(
        (status = 200, body = DecisionPage, headers(("ETag" = String, description = "The catalogue's"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/decisions")]
pub async fn list_decisions(
    req: HttpRequest,
    db: web::Data<Db>,
    query: web::Query<DecisionQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = page_limit(query.limit)?;
    let scope = query
        .scope
        .as_deref()
        .map(Scope::parse)
        .transpose()
        .map_err(|e| ApiError::validation_one("scope", e))?;
    let procedure = query
        .procedure
        .as_deref()
        .map(ProcedureCode::parse)
        .transpose()
        .map_err(|e| ApiError::validation_one("procedure", e.0))?;
    let after = match query.cursor.as_deref().map(decode_cursor).transpose()? {
        None => None,
        Some(raw) => {
            let (date, id) = raw
                .split_once('|')
                .ok_or_else(|| ApiError::BadRequest("invalid cursor".into()))?;
            let date = date
                .parse::<NaiveDate>()
                .map_err(|_| ApiError::BadRequest("invalid cursor".into()))?;
            Some((date, id.to_owned()))
        }
    };
    let number = match query.number.as_deref().map(crate::domain::text::nfc) {
        Some(n) if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) => {
            return Err(ApiError::validation_one(
                "number",
                "must be a decision number of 1 to 100 characters",
            ));
        }
        other => other.map(|n| crate::domain::codes::normalize_decision_number(&n)),
    };
    let filter = DecisionFilter {
        number_norm: number,
        scope: scope.map(|s| s.as_str().to_owned()),
        kind: query.kind.map(|k| match k {
            DecisionKind::Announcement => "announcement".to_owned(),
            DecisionKind::Import => "import".to_owned(),
            DecisionKind::List => repo::LIST.to_owned(),
        }),
        procedure: procedure.map(|p| p.as_str().to_owned()),
        after,
        limit: limit + 1,
    };
    let (mut rows, counts, catalogue) = db
        .run(move |conn| -> Result<_, ServiceError> {
            let rows = repo::list_decisions(conn, &filter)?;
            let ids: Vec<String> = rows.iter().map(|d| d.id.clone()).collect();
            Ok((rows, repo::item_counts(conn, &ids)?, catalogue_etag(conn)?))
        })
        .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|d| encode_cursor(&format!("{}|{}", d.signed_on, d.id)))
    } else {
        None
    };
    let items = rows
        .into_iter()
        .map(|d| {
            let n = counts.get(&d.id).copied().unwrap_or(0);
            decision_view(d, n)
        })
        .collect();
    super::fresh::tagged_json(&req, catalogue, &DecisionPage { items, next_cursor })
}

async fn load_detail(db: &Db, id: String) -> Result<DecisionDetail, ApiError> {
    let detail = db
        .run(move |conn| -> Result<_, ServiceError> {
            let d = repo::get_decision(conn, &id)?
                .ok_or_else(|| ServiceError::NotFound(format!("no decision {id}")))?;
            let items: Vec<DecisionItem> = repo::decision_items(conn, &d)?
                .into_iter()
                .map(|i| DecisionItem {
                    seq: i.item.seq,
                    action: ItemAction::parse(&i.item.action).unwrap_or(ItemAction::Abolished),
                    procedure_code: i.item.procedure_code,
                    procedure_name: i.name,
                    sector: i.sector_code,
                    effective_on: i.item.effective_on,
                    version_id: i.item.version_id,
                })
                .collect();
            let n = items.len() as i64;
            Ok(DecisionDetail {
                decision: decision_view(d, n),
                items,
            })
        })
        .await?;
    Ok(detail)
}

/// One decision with its items.
#[utoipa::path(
    tag = "catalogue",
    params(("id" = String, Path, description = "Decision id", example = "0196d4a2-3f1b-7c2e-9a4d-5b6c7d8e9f01")),
    responses(
        (status = 200, body = DecisionDetail, headers(("ETag" = String))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/decisions/{id}")]
pub async fn get_decision(
    req: HttpRequest,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    super::check_id(&id, "decision")?;
    let detail = load_detail(&db, id).await?;
    super::fresh::tagged_json(&req, decision_etag(&detail), &detail)
}

/// A decision never changes once recorded: its ETag names its id and the versions it produced.
fn decision_etag(d: &DecisionDetail) -> String {
    etag::of(
        std::iter::once(d.decision.id.as_str())
            .chain(d.items.iter().map(|i| i.version_id.as_str())),
    )
}

/// Submission channel of a procedure.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    pub method: Method,
    #[validate(range(min = 0.0, max = 100000.0))]
    #[schema(minimum = 0, maximum = 100000)]
    pub time_value: Option<f64>,
    pub time_unit: Option<TimeUnit>,
    /// Fee in VND.
    #[validate(range(min = 0, max = 1_000_000_000_000i64))]
    #[schema(minimum = 0, maximum = 1_000_000_000_000i64)]
    pub fee_vnd: Option<i64>,
    #[validate(length(max = 20000))]
    #[schema(max_length = 20000)]
    pub fee_and_notes: Option<String>,
}

/// The procedure as a `new` item announces it, or the fields an `amended` item changes.
#[derive(Debug, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcedureFields {
    #[validate(length(min = 1, max = 1000))]
    #[schema(min_length = 1, max_length = 1000)]
    pub name: Option<String>,
    /// Sector code (see `/sectors`).
    #[validate(length(min = 1, max = 100))]
    #[schema(example = "Hộ tịch", min_length = 1, max_length = 100)]
    pub sector: Option<String>,
    #[validate(length(min = 1, max = 5))]
    #[schema(min_items = 1, max_items = 5)]
    pub levels: Option<Vec<Level>>,
    #[validate(length(max = 3), nested)]
    #[schema(max_items = 3)]
    pub channels: Option<Vec<ChannelInput>>,
    #[validate(length(max = 200000))]
    #[schema(max_length = 200000)]
    pub documents: Option<String>,
    #[validate(length(max = 200000))]
    #[schema(max_length = 200000)]
    pub steps: Option<String>,
    #[validate(length(max = 200000))]
    #[schema(max_length = 200000)]
    pub requirements: Option<String>,
    #[validate(length(max = 200000))]
    #[schema(max_length = 200000)]
    pub legal_basis: Option<String>,
    #[validate(length(max = 200000))]
    #[schema(max_length = 200000)]
    pub results: Option<String>,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub executing_agency: Option<String>,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub procedure_type: Option<String>,
    #[validate(length(max = 20000))]
    #[schema(max_length = 20000)]
    pub subjects: Option<String>,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub authority: Option<String>,
    #[validate(url, length(max = 2000))]
    #[schema(
        example = "https://dichvucong.gov.vn/thu-tuc-hanh-chinh/019d2bf7-4fc1-768b-9ba3-94be4bca58ee",
        max_length = 2000
    )]
    pub source_url: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDecisionItem {
    /// `new`, `amended` or `abolished` in an announcement; `listed` or `delisted` in a
    /// provincial list (a province's decision saying which procedures its communes post).
    pub action: ItemAction,
    #[schema(example = "1.001193")]
    pub procedure_code: String,
    #[schema(example = "2026-07-01")]
    pub effective_on: NaiveDate,
    /// Required for `new` (name, sector and levels at least); for `amended`, the fields that
    /// change; absent for `abolished`, `listed` and `delisted`.
    #[validate(nested)]
    pub procedure: Option<ProcedureFields>,
    /// For `new` and `amended`: where the commune-level version is posted, when the decision
    /// says so (otherwise derived from its executing agency, authority and sector).
    pub posting_place: Option<PostingPlace>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDecision {
    /// E.g. `163/QĐ-BTP` or `19/2025/QĐ-TTg`.
    #[validate(length(min = 1, max = 60))]
    #[schema(example = "1234/QĐ-BTP", min_length = 1, max_length = 60)]
    pub number: String,
    #[validate(length(min = 1, max = 300))]
    #[schema(example = "Bộ Tư pháp", min_length = 1, max_length = 300)]
    pub issuer: String,
    /// `national`, or a province code for a provincial decision.
    #[schema(example = "national")]
    pub scope: String,
    #[schema(example = "2026-06-15")]
    pub signed_on: NaiveDate,
    #[validate(length(max = 1000))]
    #[schema(max_length = 1000)]
    pub title: Option<String>,
    #[validate(length(min = 1, max = 5000), nested)]
    #[schema(min_items = 1, max_items = 5000)]
    pub items: Vec<NewDecisionItem>,
}

fn clean_text(
    field: String,
    value: Option<String>,
    errors: &mut Vec<FieldError>,
    single_line: bool,
) -> Option<String> {
    let value = value.map(|v| text::nfc(&v))?;
    let bad = if single_line {
        value.chars().any(char::is_control)
    } else {
        text::has_control(&value)
    };
    if bad {
        errors.push(FieldError::new(
            field,
            "must not contain control characters",
        ));
    } else if value.is_empty() {
        errors.push(FieldError::new(field, "must not be blank"));
    }
    Some(value)
}

fn patch_from(index: usize, p: ProcedureFields, errors: &mut Vec<FieldError>) -> ContentPatch {
    let f = |name: &str| format!("items[{index}].procedure.{name}");
    let channels = p.channels.map(|list| {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (i, c) in list.into_iter().enumerate() {
            if !seen.insert(c.method) {
                errors.push(FieldError::new(
                    f(&format!("channels[{i}].method")),
                    "each method appears once",
                ));
            }
            if c.time_value.is_some_and(|v| !v.is_finite()) {
                errors.push(FieldError::new(
                    f(&format!("channels[{i}].time_value")),
                    "must be a number",
                ));
            }
            out.push(Channel {
                method: c.method,
                time_value: c.time_value,
                time_unit: c.time_unit,
                fee_vnd: c.fee_vnd,
                fee_and_notes: clean_text(
                    f(&format!("channels[{i}].fee_and_notes")),
                    c.fee_and_notes,
                    errors,
                    false,
                ),
            });
        }
        out.sort_by_key(|c| c.method);
        out
    });
    ContentPatch {
        name: clean_text(f("name"), p.name, errors, true),
        sector_code: p.sector.map(|s| s.trim().to_owned()),
        levels: p.levels.map(|l| l.into_iter().collect()),
        channels,
        documents: clean_text(f("documents"), p.documents, errors, false),
        steps: clean_text(f("steps"), p.steps, errors, false),
        requirements: clean_text(f("requirements"), p.requirements, errors, false),
        legal_basis: clean_text(f("legal_basis"), p.legal_basis, errors, false),
        results: clean_text(f("results"), p.results, errors, false),
        executing_agency: clean_text(f("executing_agency"), p.executing_agency, errors, true),
        procedure_type: clean_text(f("procedure_type"), p.procedure_type, errors, true),
        subjects: clean_text(f("subjects"), p.subjects, errors, false),
        authority: clean_text(f("authority"), p.authority, errors, true),
        source_url: p.source_url,
    }
}

impl TryFrom<NewDecision> for DecisionInput {
    type Error = ApiError;

    fn try_from(body: NewDecision) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        if let Err(e) = body.validate()
            && let ApiError::Validation(list) = ApiError::from(e)
        {
            errors.extend(list);
        }
        if !crate::domain::calendar::date_in_range(body.signed_on) {
            errors.push(FieldError::new(
                "signed_on",
                "must be between 1900-01-01 and 2199-12-31",
            ));
        }
        for (index, item) in body.items.iter().enumerate() {
            if !crate::domain::calendar::date_in_range(item.effective_on) {
                errors.push(FieldError::new(
                    format!("items[{index}].effective_on"),
                    "must be between 1900-01-01 and 2199-12-31",
                ));
            }
        }
        let number =
            DecisionNumber::parse(&body.number).map_err(|e| FieldError::new("number", e.0));
        let scope = Scope::parse(body.scope.trim()).map_err(|e| FieldError::new("scope", e));
        let issuer =
            clean_text("issuer".into(), Some(body.issuer), &mut errors, true).unwrap_or_default();
        let title = clean_text("title".into(), body.title, &mut errors, true);
        let mut items = Vec::new();
        for (index, item) in body.items.into_iter().enumerate() {
            match ProcedureCode::parse(&item.procedure_code) {
                Ok(code) => {
                    let patch = item.procedure.map(|p| patch_from(index, p, &mut errors));
                    items.push(ItemInput {
                        action: item.action,
                        code,
                        effective_on: item.effective_on,
                        patch,
                        posting_place: item.posting_place,
                    });
                }
                Err(e) => errors.push(FieldError::new(
                    format!("items[{index}].procedure_code"),
                    e.0,
                )),
            }
        }
        match (number, scope) {
            (Ok(number), Ok(scope)) if errors.is_empty() => Ok(DecisionInput {
                number,
                issuer,
                scope,
                signed_on: body.signed_on,
                title,
                items,
            }),
            (number, scope) => {
                errors.extend(number.err());
                errors.extend(scope.err());
                errors.dedup();
                Err(ApiError::Validation(errors))
            }
        }
    }
}

/// Record a decision and apply its items (editor, admin). The decision is validated as a whole
/// against the catalogue and applied in one transaction; a 422 lists every problem.
#[utoipa::path(
    tag = "catalogue",
    params(("If-Match" = Option<String>, Header, description = "The catalogue's ETag (from the decision list) read before")),
    request_body = NewDecision,
    security(("bearer" = [])),
    responses(
        (status = 201, body = DecisionDetail, headers(("Location" = String), ("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A decision with that number exists in that scope", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The catalogue changed since the `If-Match` ETag was read", body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/decisions")]
pub async fn create_decision(
    identity: Caller<Editors>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    body: web::Json<NewDecision>,
) -> Result<HttpResponse, ApiError> {
    let input = DecisionInput::try_from(body.into_inner())?;
    let (actor, if_match) = (super::actor(identity, &req), super::if_match(&req));
    let committed = db
        .run(move |conn| create(conn, input, (&actor, if_match.as_deref())))
        .await?;
    let id = cache.publish(committed);
    let detail = load_detail(&db, id.clone()).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/decisions/{id}")))
        .insert_header((header::ETAG, decision_etag(&detail)))
        .json(detail))
}
