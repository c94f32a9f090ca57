// Mirrors migrations/ (see diesel.toml). Keep the two in step: the migration
// and integration tests touch every column.

diesel::table! {
    practices (id) {
        id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    api_clients (id) {
        id -> Uuid,
        practice_id -> Uuid,
        name -> Text,
        secret_hash -> Text,
        scopes -> Array<Text>,
        created_at -> Timestamptz,
        secret_rotated_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    clients (practice_id, id) {
        practice_id -> Uuid,
        id -> Uuid,
        external_id -> Nullable<Text>,
        display_name -> Text,
        status -> Text,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        archived_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    idempotency_keys (practice_id, key) {
        practice_id -> Uuid,
        key -> Text,
        request_hash -> Bytea,
        response_status -> Nullable<Int2>,
        response_body -> Nullable<Text>,
        response_headers -> Nullable<Jsonb>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    audit_events (practice_id, id) {
        practice_id -> Uuid,
        id -> Uuid,
        occurred_at -> Timestamptz,
        subject -> Text,
        actor -> Nullable<Text>,
        action -> Text,
        resource_type -> Text,
        resource_id -> Uuid,
        request_id -> Nullable<Text>,
    }
}

diesel::joinable!(api_clients -> practices (practice_id));
diesel::joinable!(clients -> practices (practice_id));

diesel::allow_tables_to_appear_in_same_query!(practices, api_clients, clients, idempotency_keys, audit_events);
