//! Diesel table definitions, written to match both migration trees.

diesel::table! {
    aggregators (id) {
        id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    enterprises (id) {
        id -> BigInt,
        name -> Text,
        aggregator_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        enterprise_id -> Nullable<BigInt>,
        aggregator_id -> Nullable<BigInt>,
        disabled -> Bool,
        session_epoch -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    wabas (id) {
        id -> BigInt,
        meta_waba_id -> Text,
        business_id -> Nullable<Text>,
        name -> Text,
        status -> Text,
        last_synced_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        status_changed_at -> Nullable<Timestamp>,
        status_reason -> Nullable<Text>,
        out_of_rotation_until -> Nullable<Timestamp>,
        status_as_of -> Nullable<Timestamp>,
    }
}

diesel::table! {
    waba_links (id) {
        id -> BigInt,
        waba_id -> BigInt,
        enterprise_id -> BigInt,
        access_token_ciphertext -> Nullable<Binary>,
        access_token_key_id -> Nullable<Text>,
        linked_at -> Timestamp,
    }
}

diesel::table! {
    numbers (id) {
        id -> BigInt,
        waba_id -> BigInt,
        enterprise_id -> Nullable<BigInt>,
        phone_number_id -> Text,
        display_phone_number -> Text,
        e164 -> Text,
        verified_name -> Text,
        status -> Text,
        meta_status -> Nullable<Text>,
        code_verification_status -> Nullable<Text>,
        quality_rating -> Text,
        messaging_limit_tier -> Nullable<Text>,
        throughput_level -> Nullable<Text>,
        last_synced_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        out_of_rotation_since -> Nullable<Timestamp>,
        health_as_of -> Nullable<Timestamp>,
    }
}

diesel::table! {
    listing_stamp (id) {
        id -> BigInt,
        stamp -> BigInt,
    }
}

diesel::table! {
    session_stamp (id) {
        id -> BigInt,
        stamp -> BigInt,
    }
}

diesel::table! {
    readiness (id) {
        id -> BigInt,
        probes -> BigInt,
    }
}

diesel::table! {
    pools (id) {
        id -> BigInt,
        enterprise_id -> BigInt,
        waba_id -> BigInt,
        name -> Text,
        name_key -> Text,
        active -> Bool,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        strategy -> Text,
        strict_routing -> Bool,
        rr_pointer -> Integer,
        health -> Text,
        degraded_below -> Nullable<Integer>,
    }
}

diesel::table! {
    pool_members (id) {
        id -> BigInt,
        pool_id -> BigInt,
        number_id -> BigInt,
        waba_id -> BigInt,
        enterprise_id -> BigInt,
        slot -> Integer,
        added_at -> Timestamp,
        priority -> Integer,
        weight -> Integer,
        region_tags -> Text,
        department_tags -> Text,
        current_weight -> BigInt,
        cooldown_until -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        sent_second -> BigInt,
        sent_in_second -> Integer,
    }
}

diesel::table! {
    audit_entries (id) {
        id -> BigInt,
        occurred_at -> Timestamp,
        actor_user_id -> Nullable<BigInt>,
        actor_email -> Nullable<Text>,
        enterprise_id -> Nullable<BigInt>,
        action -> Text,
        subject_type -> Text,
        subject_id -> Nullable<Text>,
        before_state -> Nullable<Text>,
        after_state -> Nullable<Text>,
        client_ip -> Nullable<Text>,
    }
}

diesel::joinable!(enterprises -> aggregators (aggregator_id));
diesel::joinable!(numbers -> wabas (waba_id));
diesel::joinable!(numbers -> enterprises (enterprise_id));
diesel::joinable!(pools -> enterprises (enterprise_id));
diesel::joinable!(pools -> wabas (waba_id));
diesel::joinable!(pool_members -> pools (pool_id));
diesel::joinable!(pool_members -> numbers (number_id));
diesel::joinable!(waba_links -> wabas (waba_id));
diesel::joinable!(waba_links -> enterprises (enterprise_id));

diesel::allow_tables_to_appear_in_same_query!(aggregators, enterprises, users, wabas, waba_links, numbers, pools, pool_members, audit_entries,);

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        occurred_at -> Timestamp,
        email_key -> Text,
        client_ip -> Nullable<Text>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        enterprise_id -> BigInt,
        label -> Text,
        key_hash -> Text,
        key_prefix -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        pool_id -> BigInt,
        enterprise_id -> BigInt,
        api_key_id -> Nullable<BigInt>,
        number_id -> Nullable<BigInt>,
        recipient -> Text,
        message_type -> Text,
        status -> Text,
        wamid -> Nullable<Text>,
        error_code -> Nullable<BigInt>,
        attempts -> Text,
        idempotency_key -> Nullable<Text>,
        response -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sticky_senders (pool_id, recipient) {
        pool_id -> BigInt,
        recipient -> Text,
        number_id -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    service_windows (number_id, recipient) {
        number_id -> BigInt,
        recipient -> Text,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(messages -> numbers (number_id));
diesel::allow_tables_to_appear_in_same_query!(messages, numbers);
diesel::allow_tables_to_appear_in_same_query!(messages, enterprises);
diesel::allow_tables_to_appear_in_same_query!(listing_stamp, session_stamp);

diesel::table! {
    webhook_deliveries (body_sha256) {
        body_sha256 -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    pending_upgrades (name) {
        name -> Text,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    idempotency_keys (enterprise_id, idempotency_key) {
        enterprise_id -> BigInt,
        idempotency_key -> Text,
        request_hash -> Text,
        message_id -> Nullable<BigInt>,
        reserved_at -> Timestamp,
    }
}

diesel::joinable!(idempotency_keys -> messages (message_id));
diesel::allow_tables_to_appear_in_same_query!(idempotency_keys, messages);

diesel::table! {
    event_endpoints (id) {
        id -> BigInt,
        enterprise_id -> BigInt,
        url -> Text,
        description -> Text,
        event_types -> Text,
        pool_ids -> Text,
        secret_ciphertext -> Binary,
        secret_key_id -> Text,
        previous_ciphertext -> Nullable<Binary>,
        previous_key_id -> Nullable<Text>,
        previous_until -> Nullable<Timestamp>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        enterprise_id -> BigInt,
        event_type -> Text,
        pool_id -> Nullable<BigInt>,
        message_id -> Nullable<BigInt>,
        customer -> Nullable<Text>,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    event_deliveries (id) {
        id -> BigInt,
        endpoint_id -> BigInt,
        event_id -> BigInt,
        customer -> Nullable<Text>,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        last_attempt_at -> Nullable<Timestamp>,
        last_status -> Nullable<Integer>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    event_attempts (id) {
        id -> BigInt,
        delivery_id -> BigInt,
        attempted_at -> Timestamp,
        status_code -> Nullable<Integer>,
        latency_ms -> BigInt,
        answer -> Text,
    }
}

diesel::joinable!(event_deliveries -> events (event_id));
diesel::joinable!(event_deliveries -> event_endpoints (endpoint_id));
diesel::joinable!(event_attempts -> event_deliveries (delivery_id));
diesel::allow_tables_to_appear_in_same_query!(event_deliveries, events, event_endpoints, event_attempts, enterprises);
