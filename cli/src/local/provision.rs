//! Creates the table, queues and SES identity in the emulator from the very definitions the SAM
//! template deploys, read from `infra/template.yaml` itself, so local and AWS cannot drift.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use leadrelay_aws::deps::Resources;
use leadrelay_aws::queue::QueueName;
use serde_yaml::Value;

/// The SAM template, as deployed.
pub const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("infra/template.yaml: {0}")]
    Template(String),
    #[error("{op}: {message}")]
    Aws { op: &'static str, message: String },
}

fn template_err(m: impl Into<String>) -> ProvisionError {
    ProvisionError::Template(m.into())
}

fn aws<E: std::error::Error + 'static, R: std::fmt::Debug>(
    op: &'static str,
) -> impl FnOnce(aws_sdk_dynamodb::error::SdkError<E, R>) -> ProvisionError {
    move |e| ProvisionError::Aws {
        op,
        message: aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string(),
    }
}

/// The table as the template defines it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDefinition {
    pub attributes: Vec<(String, String)>,
    pub key: Vec<(String, String)>,
    pub indexes: Vec<IndexDefinition>,
    pub ttl_attribute: Option<String>,
}

/// A global secondary index: name, key schema (attribute, HASH/RANGE), projection type.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDefinition {
    pub name: String,
    pub key: Vec<(String, String)>,
    pub projection: String,
}

/// A queue as the template defines it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueDefinition {
    pub logical_id: String,
    pub visibility_timeout: i64,
    pub dead_letter_logical_id: Option<String>,
    pub max_receive_count: i64,
}

pub struct Template {
    resources: serde_yaml::Mapping,
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, ProvisionError> {
        let doc: Value = serde_yaml::from_str(text).map_err(|e| template_err(e.to_string()))?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .cloned()
            .ok_or_else(|| template_err("no Resources"))?;
        Ok(Self { resources })
    }

    fn resource(&self, logical_id: &str) -> Result<&Value, ProvisionError> {
        self.resources
            .get(logical_id)
            .ok_or_else(|| template_err(format!("no resource {logical_id}")))
    }

    fn properties(&self, logical_id: &str) -> Result<&Value, ProvisionError> {
        self.resource(logical_id)?
            .get("Properties")
            .ok_or_else(|| template_err(format!("{logical_id} has no Properties")))
    }

    pub fn table(&self) -> Result<TableDefinition, ProvisionError> {
        let p = self.properties("LeadsTable")?;
        let pairs = |v: Option<&Value>,
                     a: &str,
                     b: &str|
         -> Result<Vec<(String, String)>, ProvisionError> {
            v.and_then(Value::as_sequence)
                .ok_or_else(|| template_err(format!("LeadsTable: missing list with {a}/{b}")))?
                .iter()
                .map(|e| {
                    let get = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
                    get(a).zip(get(b)).ok_or_else(|| {
                        template_err(format!("LeadsTable: entry without literal {a}/{b}"))
                    })
                })
                .collect()
        };
        let attributes = pairs(
            p.get("AttributeDefinitions"),
            "AttributeName",
            "AttributeType",
        )?;
        let key = pairs(p.get("KeySchema"), "AttributeName", "KeyType")?;
        let mut indexes = Vec::new();
        for gsi in p
            .get("GlobalSecondaryIndexes")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            let name = gsi
                .get("IndexName")
                .and_then(Value::as_str)
                .ok_or_else(|| template_err("index without IndexName"))?;
            let projection = gsi
                .get("Projection")
                .and_then(|p| p.get("ProjectionType"))
                .and_then(Value::as_str)
                .unwrap_or("ALL");
            indexes.push(IndexDefinition {
                name: name.to_owned(),
                key: pairs(gsi.get("KeySchema"), "AttributeName", "KeyType")?,
                projection: projection.to_owned(),
            });
        }
        let ttl_attribute = p
            .get("TimeToLiveSpecification")
            .and_then(|t| t.get("AttributeName"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(TableDefinition {
            attributes,
            key,
            indexes,
            ttl_attribute,
        })
    }

    pub fn queue(&self, logical_id: &str) -> Result<QueueDefinition, ProvisionError> {
        let p = self.properties(logical_id)?;
        let visibility_timeout = p
            .get("VisibilityTimeout")
            .and_then(Value::as_i64)
            .unwrap_or(30);
        let redrive = p.get("RedrivePolicy");
        let dead_letter_logical_id =
            redrive
                .and_then(|r| r.get("deadLetterTargetArn"))
                .and_then(|v| match v {
                    Value::Tagged(t) if t.tag == "!GetAtt" => t
                        .value
                        .as_str()
                        .map(|s| s.trim_end_matches(".Arn").to_owned()),
                    _ => None,
                });
        let max_receive_count = redrive
            .and_then(|r| r.get("maxReceiveCount"))
            .and_then(Value::as_i64)
            .unwrap_or(5);
        Ok(QueueDefinition {
            logical_id: logical_id.to_owned(),
            visibility_timeout,
            dead_letter_logical_id,
            max_receive_count,
        })
    }
}

/// The template's logical id of a pipeline queue.
pub fn logical_id(q: QueueName) -> &'static str {
    match q {
        QueueName::Captured => "CapturedQueue",
        QueueName::Scored => "ScoredQueue",
        QueueName::Notify => "NotifyQueue",
    }
}

/// Creates (or finds) everything under names starting with `prefix`, and verifies the sender.
/// `now` is the stack's time, which a new table's SLA shards record is made at.
pub async fn provision(
    sdk: &SdkConfig,
    prefix: &str,
    sender: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Resources, ProvisionError> {
    let template = Template::parse(TEMPLATE)?;
    let table = format!("{prefix}-leads");
    if create_table(sdk, &table, &template.table()?).await? {
        // A new table's leads are all written with the stack's count: escalate's passes need
        // not read every shard through the first hour for leads an older count may have left
        // (as on a table that has no record, `sla_shards::first_record`), nor look beyond it
        // before a quarter of an hour has passed.
        let store = leadrelay_aws::store::Store::new(
            aws_sdk_dynamodb::Client::new(sdk),
            &table,
            leadrelay_aws::deps::DEFAULT_SLA_SHARDS,
            std::time::Duration::ZERO,
            None,
        );
        let record = leadrelay_domain::sla_shards::ShardRecord::new_table(
            leadrelay_aws::deps::DEFAULT_SLA_SHARDS,
            now,
        );
        store
            .put_sla_shard_record(&record, None)
            .await
            .map_err(|e| ProvisionError::Aws {
                op: "the SLA shards record",
                message: e.to_string(),
            })?;
    }
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut urls = Vec::new();
    for q in QueueName::ALL {
        let def = template.queue(logical_id(q))?;
        let mut attributes = vec![(
            QueueAttributeName::VisibilityTimeout,
            def.visibility_timeout.to_string(),
        )];
        if let Some(dlq) = &def.dead_letter_logical_id {
            let dlq_url =
                create_queue(&sqs, &format!("{prefix}-{}-dlq", q.as_str()), vec![]).await?;
            let arn = sqs
                .get_queue_attributes()
                .queue_url(&dlq_url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await
                .map_err(|e| ProvisionError::Aws {
                    op: "GetQueueAttributes",
                    message: aws_sdk_sqs::error::DisplayErrorContext(&e).to_string(),
                })?
                .attributes
                .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
                .ok_or_else(|| template_err(format!("{dlq}: no ARN")))?;
            let policy = serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": def.max_receive_count });
            attributes.push((QueueAttributeName::RedrivePolicy, policy.to_string()));
        }
        urls.push(create_queue(&sqs, &format!("{prefix}-{}", q.as_str()), attributes).await?);
    }
    aws_sdk_ses::Client::new(sdk)
        .verify_email_identity()
        .email_address(sender)
        .send()
        .await
        .map_err(|e| ProvisionError::Aws {
            op: "VerifyEmailIdentity",
            message: aws_sdk_ses::error::DisplayErrorContext(&e).to_string(),
        })?;
    let mut urls = urls.into_iter();
    Ok(Resources {
        table,
        captured_queue_url: urls.next().unwrap_or_default(),
        scored_queue_url: urls.next().unwrap_or_default(),
        notify_queue_url: urls.next().unwrap_or_default(),
        sla_shards: leadrelay_aws::deps::DEFAULT_SLA_SHARDS,
    })
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: Vec<(QueueAttributeName, String)>,
) -> Result<String, ProvisionError> {
    let out = sqs
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes.into_iter().collect()))
        .send()
        .await
        .map_err(|e| ProvisionError::Aws {
            op: "CreateQueue",
            message: aws_sdk_sqs::error::DisplayErrorContext(&e).to_string(),
        })?;
    out.queue_url
        .ok_or_else(|| template_err(format!("queue {name}: no URL")))
}

fn key_schema(pairs: &[(String, String)]) -> Vec<KeySchemaElement> {
    pairs
        .iter()
        .map(|(name, kind)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::from(kind.as_str()))
                .build()
                .expect("name and type set")
        })
        .collect()
}

fn attribute(name: &str, ty: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::from(ty))
        .build()
        .expect("name and type set")
}

fn projection(index: &IndexDefinition) -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::from(index.projection.as_str()))
        .build()
}

/// `true` when it made the table, `false` when it was there.
async fn create_table(
    sdk: &SdkConfig,
    name: &str,
    def: &TableDefinition,
) -> Result<bool, ProvisionError> {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    if let Ok(found) = ddb.describe_table().table_name(name).send().await {
        // A table made by an earlier version (an emulator kept running): add the indexes the
        // template has gained since, as one would on AWS.
        let existing: Vec<String> = found
            .table
            .and_then(|t| t.global_secondary_indexes)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|i| i.index_name)
            .collect();
        for index in def.indexes.iter().filter(|i| !existing.contains(&i.name)) {
            let mut req = ddb.update_table().table_name(name);
            for (attr, ty) in def
                .attributes
                .iter()
                .filter(|(a, _)| index.key.iter().any(|(k, _)| k == a))
            {
                req = req.attribute_definitions(attribute(attr, ty));
            }
            req.global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder()
                    .create(
                        CreateGlobalSecondaryIndexAction::builder()
                            .index_name(&index.name)
                            .set_key_schema(Some(key_schema(&index.key)))
                            .projection(projection(index))
                            .build()
                            .expect("name, keys, projection set"),
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(aws("UpdateTable"))?;
        }
        return Ok(false);
    }
    let mut req = ddb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&def.key)));
    for (attr, ty) in &def.attributes {
        req = req.attribute_definitions(attribute(attr, ty));
    }
    for index in &def.indexes {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_schema(&index.key)))
                .projection(projection(index))
                .build()
                .expect("name, keys, projection set"),
        );
    }
    req.send().await.map_err(aws("CreateTable"))?;
    if let Some(attr) = &def.ttl_attribute {
        ddb.update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attr)
                    .enabled(true)
                    .build()
                    .expect("name and flag set"),
            )
            .send()
            .await
            .map_err(aws("UpdateTimeToLive"))?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_defines_the_table_and_index_the_store_uses() {
        let t = Template::parse(TEMPLATE).unwrap().table().unwrap();
        assert_eq!(
            t.key,
            vec![("pk".into(), "HASH".into()), ("sk".into(), "RANGE".into())]
        );
        let index = &t.indexes[0];
        assert_eq!(index.name, leadrelay_aws::store::SLA_INDEX);
        assert_eq!(
            index.key,
            vec![
                ("sla_shard".into(), "HASH".into()),
                ("sla_next_at".into(), "RANGE".into())
            ]
        );
        assert_eq!(t.ttl_attribute.as_deref(), Some("expires_at"));
        let by_day = t
            .indexes
            .iter()
            .find(|i| i.name == leadrelay_aws::store::LEADS_BY_DAY_INDEX)
            .expect("the leads-by-day index");
        assert_eq!(
            by_day.key,
            vec![
                ("received_day".into(), "HASH".into()),
                ("received_key".into(), "RANGE".into())
            ]
        );
        assert_eq!(by_day.projection, "KEYS_ONLY");
    }

    #[test]
    fn every_pipeline_queue_has_a_dead_letter_queue() {
        let t = Template::parse(TEMPLATE).unwrap();
        for q in QueueName::ALL {
            let def = t.queue(logical_id(q)).unwrap();
            assert!(def.dead_letter_logical_id.is_some(), "{q:?}");
            assert!(def.max_receive_count >= 1);
        }
    }
}
