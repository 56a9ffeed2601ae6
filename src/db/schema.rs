//! Table definitions shared by both backends (written by hand: the migrations use only portable
//! types, so one schema describes PostgreSQL and SQLite alike).

diesel::table! {
    units (code) {
        code -> Text,
        name -> Text,
        name_search -> Text,
        division_type -> Text,
        level -> Text,
        parent_code -> Nullable<Text>,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
    }
}

diesel::table! {
    sectors (code) {
        code -> Text,
        name -> Text,
        name_search -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    decisions (id) {
        id -> Text,
        number -> Text,
        number_norm -> Text,
        issuer -> Text,
        scope -> Text,
        kind -> Text,
        title -> Nullable<Text>,
        signed_on -> Date,
        source -> Nullable<Text>,
        source_sha256 -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    procedures (code) {
        code -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    procedure_versions (id) {
        id -> Text,
        procedure_code -> Text,
        scope -> Text,
        decision_id -> Text,
        item_seq -> Integer,
        abolished -> Bool,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        name -> Text,
        name_search -> Text,
        sector_code -> Text,
        levels -> Text,
        procedure_type -> Nullable<Text>,
        subjects -> Nullable<Text>,
        authority -> Nullable<Text>,
        executing_agency -> Nullable<Text>,
        steps -> Nullable<Text>,
        documents -> Nullable<Text>,
        requirements -> Nullable<Text>,
        legal_basis -> Nullable<Text>,
        results -> Nullable<Text>,
        channels -> Text,
        source_url -> Nullable<Text>,
        announced_by -> Nullable<Text>,
        announced_by_norm -> Nullable<Text>,
        content_hash -> Text,
        created_at -> Timestamp,
        posting_place -> Nullable<Text>,
        posting_rule -> Nullable<Text>,
    }
}

diesel::table! {
    decision_items (decision_id, seq) {
        decision_id -> Text,
        seq -> Integer,
        action -> Text,
        procedure_code -> Text,
        effective_on -> Date,
        version_id -> Text,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> Timestamp,
        actor_sub -> Text,
        actor_role -> Text,
        actor_unit -> Nullable<Text>,
        action -> Text,
        entity -> Text,
        entity_id -> Text,
        hash_before -> Nullable<Text>,
        hash_after -> Nullable<Text>,
        request_id -> Nullable<Text>,
        unit_code -> Nullable<Text>,
        province_code -> Nullable<Text>,
        client_request_id -> Nullable<Text>,
    }
}

diesel::table! {
    inspections (id) {
        id -> Text,
        unit_code -> Text,
        province_code -> Text,
        inspected_on -> Date,
        team -> Text,
        notes -> Nullable<Text>,
        finding_count -> Integer,
        completeness -> Double,
        report -> Text,
        content_hash -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sector_places (sector_name) {
        sector_name -> Text,
        place -> Text,
        reason -> Text,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    province_posting_places (province_code, valid_from) {
        province_code -> Text,
        valid_from -> Date,
        places -> Text,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    list_items (decision_id, seq) {
        decision_id -> Text,
        seq -> Integer,
        province_code -> Text,
        procedure_code -> Text,
        action -> Text,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        version_id -> Text,
    }
}

diesel::joinable!(list_items -> decisions (decision_id));
diesel::joinable!(procedure_versions -> procedures (procedure_code));
diesel::joinable!(procedure_versions -> decisions (decision_id));
diesel::joinable!(procedure_versions -> sectors (sector_code));
diesel::joinable!(decision_items -> decisions (decision_id));

diesel::table! {
    postings (id) {
        id -> Text,
        unit_code -> Text,
        procedure_code -> Text,
        channel -> Text,
        decision_number -> Text,
        decision_number_norm -> Text,
        posted_on -> Date,
        removed_on -> Nullable<Date>,
        evidence_url -> Nullable<Text>,
        photo_ref -> Nullable<Text>,
        note -> Nullable<Text>,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    holidays (day) {
        day -> Date,
        name -> Text,
    }
}

diesel::table! {
    province_settings (province_code) {
        province_code -> Text,
        deadline_working_days -> Integer,
        required_channels -> Text,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    exemptions (id) {
        id -> Text,
        unit_code -> Text,
        procedure_code -> Text,
        reason -> Text,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    revisions (key) {
        key -> Text,
        revision -> BigInt,
    }
}

diesel::table! {
    commune_summaries (unit_code) {
        unit_code -> Text,
        as_of -> Date,
        catalogue_rev -> BigInt,
        reference_rev -> BigInt,
        unit_rev -> BigInt,
        summary -> Text,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Text,
        url -> Text,
        events -> Text,
        province_code -> Nullable<Text>,
        description -> Nullable<Text>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_until -> Nullable<Timestamp>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Text,
        kind -> Text,
        occurred_at -> Timestamp,
        subject -> Text,
        scope -> Text,
        data -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        event_id -> Text,
        webhook_id -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        body -> Nullable<Text>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
        replay_of -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Text,
        delivery_id -> Text,
        attempted_at -> Timestamp,
        status_code -> Nullable<Integer>,
        latency_ms -> BigInt,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_days (day) {
        day -> Date,
        done_at -> Timestamp,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_events (event_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));

diesel::allow_tables_to_appear_in_same_query!(
    units,
    sectors,
    decisions,
    procedures,
    procedure_versions,
    decision_items,
    audit_log,
    postings,
    holidays,
    province_settings,
    exemptions,
    inspections,
    archive_inspections,
    revisions,
    commune_summaries,
    sector_places,
    province_posting_places,
    list_items,
    webhooks,
    webhook_events,
    webhook_deliveries,
    webhook_attempts,
    webhook_days,
    retired_units,
    unit_lineage,
);

diesel::table! {
    retired_units (level, code) {
        level -> Text,
        code -> Text,
        name -> Text,
        name_search -> Text,
        division_type -> Text,
        district_code -> Nullable<Text>,
        province_code -> Nullable<Text>,
        valid_to -> Date,
        source_sha256 -> Text,
    }
}

diesel::table! {
    unit_lineage (old_level, old_code, new_code) {
        old_level -> Text,
        old_code -> Text,
        new_code -> Text,
        relation -> Text,
        note -> Text,
        basis -> Text,
        source_line -> Integer,
        source_sha256 -> Text,
    }
}

diesel::table! {
    archive_inspections (id) {
        id -> Text,
        unit_code -> Text,
        unit_valid_to -> Date,
        unit_name -> Text,
        district_code -> Nullable<Text>,
        district_name -> Nullable<Text>,
        old_province_code -> Text,
        old_province_name -> Text,
        province_code -> Text,
        inspected_on -> Date,
        team -> Text,
        notes -> Nullable<Text>,
        findings -> Text,
        finding_count -> Integer,
        content_hash -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}
