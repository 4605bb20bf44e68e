//! Tenant changes, the admin token's alone: create, change (quotas,
//! private plugins, disable), soft delete and restore, and each tenant's
//! API keys (create, shown once; revoke). Each change is recorded in the
//! tenant's audit log.

use super::{Admin, AdminError};
use crate::domain::endpoint::FieldError;
use crate::domain::tenant::{
    ApiKey, CreateKey, CreateTenant, MAX_DISPLAY_NAME, Principal, Tenant, UpdateTenant, is_default,
};
use crate::domain::{Name, Secret};
use crate::ids::{KeyId, now_ms};

impl Admin {
    /// Creates a tenant.
    pub async fn create_tenant(&self, body: CreateTenant) -> Result<Tenant, AdminError> {
        check_display_name(body.display_name.as_deref())?;
        body.quotas
            .validate()
            .map_err(|detail| FieldError::new("quotas", detail))?;
        let mut tenant = Tenant::new(body.name, now_ms());
        tenant.display_name = body.display_name;
        tenant.quotas = body.quotas;
        tenant.allow_private_plugins = body.allow_private_plugins;
        self.store.create_tenant(&tenant).await?;
        self.audit(
            &Principal::admin(tenant.name.clone()),
            "tenant.create",
            &tenant.name,
        )
        .await?;
        self.store.durable().await?;
        tracing::info!(tenant = %tenant.name, "tenant created");
        Ok(tenant)
    }

    /// Changes the fields of tenant `name` that `update` gives.
    pub async fn update_tenant(
        &self,
        name: &Name,
        update: UpdateTenant,
    ) -> Result<Tenant, AdminError> {
        check_display_name(update.display_name.as_deref())?;
        if let Some(quotas) = &update.quotas {
            quotas
                .validate()
                .map_err(|detail| FieldError::new("quotas", detail))?;
        }
        if update.disabled == Some(true) && is_default(name) {
            return Err(
                FieldError::new("disabled", "the default tenant cannot be disabled").into(),
            );
        }
        let tenant = self
            .store
            .update_tenant(name, |tenant| {
                update.apply(tenant, now_ms());
                Ok::<(), AdminError>(())
            })
            .await?;
        self.audit(&Principal::admin(name.clone()), "tenant.update", name)
            .await?;
        self.store.durable().await?;
        self.engine.wake();
        Ok(tenant)
    }

    /// Soft-deletes tenant `name` (not `default`): its keys and sources are
    /// refused until it is restored; its records stay.
    pub async fn delete_tenant(&self, name: &Name) -> Result<Tenant, AdminError> {
        if is_default(name) {
            // A state conflict, not a bad field: the name is valid, the
            // tenant just cannot leave this state.
            return Err(AdminError::TenantState(
                "the default tenant cannot be deleted".into(),
            ));
        }
        let tenant = self
            .store
            .update_tenant(name, |tenant| {
                if tenant.deleted_at.is_some() {
                    return Err(AdminError::TenantState(format!(
                        "tenant `{name}` is already deleted"
                    )));
                }
                tenant.deleted_at = Some(now_ms());
                Ok(())
            })
            .await?;
        self.audit(&Principal::admin(name.clone()), "tenant.delete", name)
            .await?;
        self.store.durable().await?;
        Ok(tenant)
    }

    /// Brings the soft-deleted tenant `name` back.
    pub async fn restore_tenant(&self, name: &Name) -> Result<Tenant, AdminError> {
        let tenant = self
            .store
            .update_tenant(name, |tenant| {
                if tenant.deleted_at.is_none() {
                    return Err(AdminError::TenantState(format!(
                        "tenant `{name}` is not deleted"
                    )));
                }
                tenant.deleted_at = None;
                tenant.updated_at = now_ms();
                Ok(())
            })
            .await?;
        self.audit(&Principal::admin(name.clone()), "tenant.restore", name)
            .await?;
        self.store.durable().await?;
        Ok(tenant)
    }

    /// Creates a key for tenant `name`; the secret is returned here only.
    pub async fn create_key(
        &self,
        name: &Name,
        body: CreateKey,
    ) -> Result<(ApiKey, Secret), AdminError> {
        body.validate().map_err(|detail| {
            let (field, detail) = detail.split_once(": ").unwrap_or(("key", &detail));
            FieldError::new(field, detail)
        })?;
        let mut scopes = body.scopes;
        scopes.sort_by_key(|scope| scope.as_str());
        scopes.dedup();
        let (key, secret) =
            ApiKey::generate(name.clone(), body.name.trim().to_owned(), scopes, now_ms());
        self.store.create_key(&key).await?;
        self.audit(&Principal::admin(name.clone()), "key.create", key.id)
            .await?;
        self.store.durable().await?;
        tracing::info!(tenant = %name, key = %key.id, "tenant key created");
        Ok((key, secret))
    }

    /// Revokes tenant `name`'s key `id`: refused from now on.
    pub async fn revoke_key(&self, name: &Name, id: KeyId) -> Result<ApiKey, AdminError> {
        let key = self.store.revoke_key(name, id, now_ms()).await?;
        self.audit(&Principal::admin(name.clone()), "key.revoke", id)
            .await?;
        self.store.durable().await?;
        Ok(key)
    }
}

fn check_display_name(display_name: Option<&str>) -> Result<(), FieldError> {
    match display_name {
        Some(text) if text.chars().count() > MAX_DISPLAY_NAME => Err(FieldError::new(
            "display_name",
            format!("at most {MAX_DISPLAY_NAME} characters"),
        )),
        _ => Ok(()),
    }
}
