//! The schema, shared by both backends (portable types only: TEXT, BIGINT
//! unix seconds, binary, boolean). Mirrors `migrations/{postgres,sqlite}`.

diesel::table! {
    clients (id) {
        id -> Text,
        name -> Text,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        secret_hash -> Nullable<Text>,
        public -> Bool,
        scopes -> Text,
        settings -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    servers (host) {
        host -> Text,
        software -> Nullable<Text>,
        version -> Nullable<Text>,
        capabilities -> Nullable<Text>,
        capabilities_expires_at -> Nullable<BigInt>,
        app_client_id -> Nullable<Text>,
        app_secret -> Nullable<Binary>,
        app_scopes -> Nullable<Text>,
        app_registered_at -> Nullable<BigInt>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        blocked_until -> Nullable<BigInt>,
        last_success_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    auth_requests (id) {
        id -> Text,
        client_id -> Text,
        request -> Text,
        server_host -> Nullable<Text>,
        upstream_data -> Nullable<Binary>,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    grants (id) {
        id -> Text,
        client_id -> Text,
        sub -> Text,
        scope -> Text,
        auth_time -> BigInt,
        session_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        claims -> Nullable<Text>,
    }
}

diesel::table! {
    codes (hash) {
        hash -> Text,
        grant_id -> Text,
        client_id -> Text,
        redirect_uri -> Text,
        code_challenge -> Nullable<Text>,
        nonce -> Nullable<Text>,
        scope -> Text,
        claims -> Nullable<Text>,
        auth_time -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        redeemed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    tokens (hash) {
        hash -> Text,
        kind -> Text,
        grant_id -> Text,
        client_id -> Text,
        sub -> Text,
        scope -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    accounts (sub) {
        sub -> Text,
        server_host -> Text,
        account_id -> Text,
        handle -> Text,
        profile -> Text,
        upstream_token -> Nullable<Binary>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        sub -> Text,
        auth_time -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        private_key -> Binary,
        public_jwk -> Text,
        created_at -> BigInt,
        active_at -> BigInt,
        retired_at -> Nullable<BigInt>,
        expires_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    signups (id) {
        id -> Text,
        client_id -> Text,
        request -> Text,
        server_host -> Text,
        upstream_data -> Binary,
        username -> Text,
        email -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    clients,
    servers,
    auth_requests,
    grants,
    codes,
    tokens,
    accounts,
    sessions,
    signing_keys,
    signups,
);
