//! SDK configuration shared by every client. With `AWS_ENDPOINT_URL` set (moto, LocalStack) the
//! clients talk to that endpoint, S3 uses path-style addresses, and missing credentials fall
//! back to static test ones so local runs never touch a real account.

use crate::config::Config;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;

pub async fn sdk_config(config: &Config) -> aws_config::SdkConfig {
    sdk_config_for(&config.aws_region, config.endpoint_url.as_deref()).await
}

/// The same, from just a region and an optional endpoint (tools that have no full `Config`,
/// such as the WAL archive helper).
pub async fn sdk_config_for(region: &str, endpoint_url: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_string()));
    if let Some(endpoint) = endpoint_url {
        loader = loader.endpoint_url(endpoint);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(Credentials::new("test", "test", None, None, "capydb-local"));
        }
    }
    loader.load().await
}

pub fn dynamodb(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(sdk)
}

pub fn ecs(sdk: &aws_config::SdkConfig) -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(sdk)
}

pub fn dynamodb_streams(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodbstreams::Client {
    aws_sdk_dynamodbstreams::Client::new(sdk)
}

pub fn s3(sdk: &aws_config::SdkConfig, config: &Config) -> aws_sdk_s3::Client {
    s3_path_style(sdk, config.endpoint_url.is_some())
}

pub fn s3_path_style(sdk: &aws_config::SdkConfig, path_style: bool) -> aws_sdk_s3::Client {
    let s3_config = aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style).build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

pub fn scheduler(sdk: &aws_config::SdkConfig) -> aws_sdk_scheduler::Client {
    aws_sdk_scheduler::Client::new(sdk)
}
