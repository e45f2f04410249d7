//! The company enrichment provider's answers, cached per domain.

use leadrelay_domain::company::CachedCompany;

use super::{aws, items, keys, Store, StoreError};

impl Store {
    /// The cached provider answer for a company domain, fresh or not (the caller checks
    /// [`CachedCompany::is_fresh`]: DynamoDB's TTL deletes expired items only eventually).
    pub async fn get_company(&self, domain: &str) -> Result<Option<CachedCompany>, StoreError> {
        self.get_raw(items::company_key(domain), false)
            .await?
            .map(|i| items::decode(&keys::company_pk(domain), i))
            .transpose()
    }

    /// Caches a provider's answer for a domain until its `expires_at` (the table's TTL
    /// attribute). The last answer wins.
    pub async fn put_company(&self, entry: &CachedCompany) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(items::company(entry)?))
            .send()
            .await
            .map_err(aws("PutItem (company cache)"))?;
        Ok(())
    }
}
