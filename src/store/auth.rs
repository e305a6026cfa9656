//! Console users and API tokens. The store never sees a password or a token: the API hashes
//! them (argon2 for passwords, SHA-256 for tokens) and the store keeps and finds the hashes.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::codec::Ts;
use super::{ListQuery, Page, Store, StoreError, on_pool, page_by_key};

/// A console user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    /// Registry id.
    pub id: String,
    /// Login name, unique.
    pub username: String,
    /// Password hash as produced by the API (PHC string); never the password.
    #[serde(skip_serializing)]
    pub password_hash: String,
    /// Role name (`admin`, `dispatcher`, `officer`, `company`, ...), interpreted by the API.
    pub role: String,
    /// The company a company user may see; `None` for bureau staff.
    pub company_id: Option<String>,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

/// An API token, stored and found by its hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiToken {
    /// Hash of the token (hex SHA-256, made by the API); the token itself is never stored.
    #[serde(skip_serializing)]
    pub token_hash: String,
    /// Human label, e.g. which integration uses it.
    pub name: String,
    /// Role the token acts with.
    pub role: String,
    /// Company the token is limited to; `None` for bureau-wide tokens.
    pub company_id: Option<String>,
    /// User who created it, if any (deleting the user deletes the token).
    pub user_id: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working; `None` for no expiry.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    username: String,
    password_hash: String,
    role: String,
    company_id: Option<String>,
    created_at: Ts,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> User {
        User {
            id: r.id,
            username: r.username,
            password_hash: r.password_hash,
            role: r.role,
            company_id: r.company_id,
            created_at: r.created_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    token_hash: String,
    name: String,
    role: String,
    company_id: Option<String>,
    user_id: Option<String>,
    created_at: Ts,
    expires_at: Option<Ts>,
}

impl From<TokenRow> for ApiToken {
    fn from(r: TokenRow) -> ApiToken {
        ApiToken {
            token_hash: r.token_hash,
            name: r.name,
            role: r.role,
            company_id: r.company_id,
            user_id: r.user_id,
            created_at: r.created_at.0,
            expires_at: r.expires_at.map(|t| t.0),
        }
    }
}

const USER_COLUMNS: &str = "id, username, password_hash, role, company_id, created_at";
const TOKEN_COLUMNS: &str = "token_hash, name, role, company_id, user_id, created_at, expires_at";

impl Store {
    /// Inserts or replaces a user by id. [`StoreError::Conflict`] if another user has the
    /// username or the company does not exist.
    pub async fn upsert_user(&self, user: &User) -> Result<(), StoreError> {
        on_pool!(self, |pool, pg| {
            sqlx::query(
                "INSERT INTO users (id, username, password_hash, role, company_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET \
                 username = excluded.username, password_hash = excluded.password_hash, \
                 role = excluded.role, company_id = excluded.company_id",
            )
            .bind(&user.id)
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(&user.role)
            .bind(&user.company_id)
            .bind(Ts(user.created_at))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// A user by id.
    pub async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.user_where("id", id).await
    }

    /// A user by login name (for password login).
    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.user_where("username", username).await
    }

    async fn user_where(&self, column: &str, value: &str) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = $1");
        let row: Option<UserRow> = on_pool!(self, |pool, pg| {
            sqlx::query_as(&sql)
                .bind(value)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(User::from))
    }

    /// Users by id, optionally of one company.
    pub async fn list_users(&self, q: &ListQuery) -> Result<Page<User>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE ($1 IS NULL OR company_id = $1) \
             AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
        );
        let rows: Vec<UserRow> = on_pool!(self, |pool, pg| {
            sqlx::query_as(&sql)
                .bind(&q.company_id)
                .bind(&q.cursor)
                .bind(i64::from(q.page_size()) + 1)
                .fetch_all(pool)
                .await?
        });
        let items = rows.into_iter().map(User::from).collect();
        Ok(page_by_key(items, q.page_size(), |u: &User| u.id.clone()))
    }

    /// Deletes a user and the tokens they created.
    pub async fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
        let affected = on_pool!(self, |pool, pg| {
            sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(affected > 0)
    }

    /// Stores a new API token (by hash). [`StoreError::Conflict`] if the hash exists.
    pub async fn insert_api_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        on_pool!(self, |pool, pg| {
            sqlx::query(
                "INSERT INTO api_tokens (token_hash, name, role, company_id, user_id, created_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&token.token_hash)
            .bind(&token.name)
            .bind(&token.role)
            .bind(&token.company_id)
            .bind(&token.user_id)
            .bind(Ts(token.created_at))
            .bind(token.expires_at.map(Ts))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The token with this hash, whether or not it has expired (the API decides).
    pub async fn api_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<ApiToken>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1");
        let row: Option<TokenRow> = on_pool!(self, |pool, pg| {
            sqlx::query_as(&sql)
                .bind(token_hash)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(ApiToken::from))
    }

    /// Tokens ordered by hash, optionally of one company.
    pub async fn list_api_tokens(&self, q: &ListQuery) -> Result<Page<ApiToken>, StoreError> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE ($1 IS NULL OR company_id = $1) \
             AND ($2 IS NULL OR token_hash > $2) ORDER BY token_hash LIMIT $3"
        );
        let rows: Vec<TokenRow> = on_pool!(self, |pool, pg| {
            sqlx::query_as(&sql)
                .bind(&q.company_id)
                .bind(&q.cursor)
                .bind(i64::from(q.page_size()) + 1)
                .fetch_all(pool)
                .await?
        });
        let items = rows.into_iter().map(ApiToken::from).collect();
        Ok(page_by_key(items, q.page_size(), |t: &ApiToken| {
            t.token_hash.clone()
        }))
    }

    /// Revokes (deletes) a token.
    pub async fn delete_api_token(&self, token_hash: &str) -> Result<bool, StoreError> {
        let affected = on_pool!(self, |pool, pg| {
            sqlx::query("DELETE FROM api_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(affected > 0)
    }
}
