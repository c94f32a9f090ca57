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
        legal_hold -> Bool,
        discharged_at -> Nullable<Timestamptz>,
        erasure_state -> Nullable<Text>,
        erasure_reason -> Nullable<Text>,
        erasure_requested_at -> Nullable<Timestamptz>,
        erasure_requested_by -> Nullable<Text>,
        erasure_requested_by_actor -> Nullable<Text>,
        erasure_scheduled_for -> Nullable<Timestamptz>,
        erasure_cancelled_at -> Nullable<Timestamptz>,
        erased_at -> Nullable<Timestamptz>,
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
        api_client -> Text,
        actor -> Nullable<Text>,
        operation -> Text,
        resource_type -> Text,
        resource_id -> Nullable<Uuid>,
        request_id -> Nullable<Text>,
        action -> Text,
        client_id -> Nullable<Uuid>,
        outcome -> Int4,
        source -> Nullable<Text>,
        query -> Nullable<Jsonb>,
        result_count -> Nullable<Int4>,
    }
}

diesel::table! {
    audit_chain (practice_id, seq) {
        practice_id -> Uuid,
        seq -> Int8,
        entry_id -> Uuid,
        hash -> Bytea,
    }
}

diesel::table! {
    audit_unsealed_batches (practice_id, batch_id) {
        practice_id -> Uuid,
        batch_id -> Uuid,
        entry_ids -> Array<Uuid>,
    }
}

diesel::table! {
    audit_chain_heads (practice_id) {
        practice_id -> Uuid,
        last_seq -> Int8,
        last_hash -> Bytea,
    }
}

diesel::table! {
    audit_purges (practice_id, purged_through_seq) {
        practice_id -> Uuid,
        purged_through_seq -> Int8,
        anchor_hash -> Bytea,
        removed -> Int8,
        older_than -> Timestamptz,
        purged_at -> Timestamptz,
    }
}

diesel::table! {
    instruments (id) {
        id -> Uuid,
        practice_id -> Nullable<Uuid>,
        key -> Text,
        version -> Int4,
        title -> Text,
        definition -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    assessments (practice_id, id) {
        practice_id -> Uuid,
        id -> Uuid,
        client_id -> Uuid,
        instrument_id -> Uuid,
        status -> Text,
        due_on -> Nullable<Date>,
        answers -> Nullable<Jsonb>,
        result -> Nullable<Jsonb>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
        cancelled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    assessment_scores (practice_id, assessment_id, subscale) {
        practice_id -> Uuid,
        assessment_id -> Uuid,
        client_id -> Uuid,
        instrument_id -> Uuid,
        instrument_key -> Text,
        subscale -> Text,
        score -> Float8,
        completed_at -> Timestamptz,
    }
}

diesel::table! {
    exercises (id) {
        id -> Uuid,
        practice_id -> Nullable<Uuid>,
        key -> Text,
        version -> Int4,
        title -> Text,
        target -> Text,
        definition -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    homework (practice_id, id) {
        practice_id -> Uuid,
        id -> Uuid,
        client_id -> Uuid,
        exercise_id -> Uuid,
        cadence_per_week -> Int4,
        starts_on -> Date,
        ends_on -> Nullable<Date>,
        note -> Nullable<Text>,
        status -> Text,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    homework_pauses (practice_id, homework_id, paused_at) {
        practice_id -> Uuid,
        homework_id -> Uuid,
        paused_at -> Timestamptz,
        resumed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    homework_logs (practice_id, id) {
        practice_id -> Uuid,
        id -> Uuid,
        homework_id -> Uuid,
        client_id -> Uuid,
        occurred_at -> Timestamptz,
        done -> Bool,
        fields -> Jsonb,
        reflection -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    relationships (practice_id, id) {
        practice_id -> Uuid,
        id -> Uuid,
        kind -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    relationship_members (practice_id, relationship_id, client_id) {
        practice_id -> Uuid,
        relationship_id -> Uuid,
        client_id -> Uuid,
    }
}

diesel::table! {
    local_norms (practice_id, instrument_id, subscale) {
        practice_id -> Uuid,
        instrument_id -> Uuid,
        subscale -> Text,
        n -> Int4,
        mean -> Float8,
        sd -> Float8,
        alpha -> Float8,
        computed_at -> Timestamptz,
    }
}

diesel::table! {
    client_links (practice_id, id) {
        practice_id -> Uuid,
        id -> Uuid,
        client_id -> Uuid,
        token_digest -> Bytea,
        all_open_assessments -> Bool,
        assessment_ids -> Array<Uuid>,
        all_active_homework -> Bool,
        homework_ids -> Array<Uuid>,
        language -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        first_opened_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
        version -> Int4,
    }
}

diesel::table! {
    client_link_submissions (practice_id, link_id, resource_id) {
        practice_id -> Uuid,
        link_id -> Uuid,
        resource_type -> Text,
        resource_id -> Uuid,
        item_id -> Uuid,
        submitted_at -> Timestamptz,
    }
}

diesel::table! {
    assessment_drafts (practice_id, assessment_id) {
        practice_id -> Uuid,
        assessment_id -> Uuid,
        link_id -> Uuid,
        answers -> Jsonb,
        updated_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    event_sequences (practice_id) {
        practice_id -> Uuid,
        last_sequence -> Int8,
    }
}

diesel::table! {
    events (practice_id, id) {
        practice_id -> Uuid,
        sequence -> Nullable<Int8>,
        id -> Uuid,
        #[sql_name = "type"]
        event_type -> Text,
        occurred_at -> Timestamptz,
        data -> Jsonb,
        dedupe_key -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_endpoints (practice_id, id) {
        practice_id -> Uuid,
        id -> Uuid,
        url -> Text,
        description -> Text,
        event_types -> Array<Text>,
        enabled -> Bool,
        secret_sealed -> Bytea,
        previous_secret_sealed -> Nullable<Bytea>,
        previous_secret_expires_at -> Nullable<Timestamptz>,
        event_cursor -> Int8,
        failing_since -> Nullable<Timestamptz>,
        disabled_reason -> Nullable<Text>,
        disabled_by_event_id -> Nullable<Uuid>,
        disabled_at -> Nullable<Timestamptz>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (practice_id, id) {
        practice_id -> Uuid,
        id -> Uuid,
        endpoint_id -> Uuid,
        webhook_id -> Uuid,
        event_type -> Text,
        body -> Text,
        state -> Text,
        attempts -> Int4,
        next_attempt_at -> Nullable<Timestamptz>,
        leased_until -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhook_attempts (practice_id, id) {
        practice_id -> Uuid,
        id -> Uuid,
        delivery_id -> Uuid,
        endpoint_id -> Uuid,
        attempt -> Int4,
        attempted_at -> Timestamptz,
        status_code -> Nullable<Int4>,
        latency_ms -> Int4,
        error -> Nullable<Text>,
        response -> Nullable<Text>,
    }
}

diesel::table! {
    retention_policies (practice_id) {
        practice_id -> Uuid,
        erase_after_days -> Nullable<Int4>,
        version -> Int4,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    exports (practice_id, id) {
        practice_id -> Uuid,
        id -> Uuid,
        state -> Text,
        types -> Array<Text>,
        since -> Nullable<Timestamptz>,
        request -> Text,
        requested_by -> Text,
        requested_actor -> Nullable<Text>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        transaction_time -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        expires_at -> Nullable<Timestamptz>,
        progress_done -> Int8,
        progress_total -> Nullable<Int8>,
        error -> Nullable<Text>,
        attempts -> Int4,
        lease_id -> Nullable<Uuid>,
        leased_until -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    export_files (practice_id, export_id, resource_type, part) {
        practice_id -> Uuid,
        export_id -> Uuid,
        resource_type -> Text,
        part -> Int4,
        resources -> Int8,
        bytes -> Int8,
    }
}

diesel::table! {
    export_chunks (practice_id, export_id, resource_type, part, seq) {
        practice_id -> Uuid,
        export_id -> Uuid,
        resource_type -> Text,
        part -> Int4,
        seq -> Int4,
        data -> Bytea,
    }
}

diesel::joinable!(api_clients -> practices (practice_id));
diesel::joinable!(homework -> exercises (exercise_id));
diesel::joinable!(assessments -> instruments (instrument_id));
diesel::joinable!(clients -> practices (practice_id));

diesel::allow_tables_to_appear_in_same_query!(
    practices,
    api_clients,
    clients,
    idempotency_keys,
    audit_events,
    audit_chain,
    audit_chain_heads,
    audit_purges,
    audit_unsealed_batches,
    instruments,
    assessments,
    assessment_scores,
    exercises,
    homework,
    homework_pauses,
    homework_logs,
    relationships,
    relationship_members,
    local_norms,
    client_links,
    client_link_submissions,
    assessment_drafts,
    event_sequences,
    events,
    webhook_endpoints,
    webhook_deliveries,
    webhook_attempts,
    retention_policies,
    exports,
    export_files,
    export_chunks,
);
