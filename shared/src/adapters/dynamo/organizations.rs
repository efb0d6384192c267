use super::{to_item, Keys, Repository, StoreError};
use crate::domain::organizations::Organization;
use crate::ids::OrgId;
use crate::store::OrganizationStore;
use async_trait::async_trait;

pub(crate) fn org_pk(id: &OrgId) -> String {
    format!("ORG#{id}")
}

#[async_trait]
impl OrganizationStore for Repository {
    /// Creates or replaces an organisation (operator bootstrap is idempotent).
    async fn put_organization(&self, org: &Organization) -> Result<(), StoreError> {
        let item = to_item(
            org,
            Keys { pk: org_pk(&org.id), sk: "ORG".into(), item_type: "organization", gsi1: None, due: None },
        )?;
        self.put_item(item, None).await
    }

    async fn get_organization(&self, id: &OrgId) -> Result<Option<Organization>, StoreError> {
        self.get_item(&org_pk(id), "ORG").await
    }
}
