//! S3 behind the `ObjectStore` port.

use crate::ports::{BoxReader, ObjectInfo, ObjectStore, ObjectStoreError};
use async_trait::async_trait;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use aws_sdk_s3::Client;
use bytes::Bytes;

#[derive(Clone)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
}

fn backend<E: std::error::Error + 'static>(e: SdkError<E>) -> ObjectStoreError {
    ObjectStoreError::Backend(DisplayErrorContext(&e).to_string())
}

impl S3ObjectStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3ObjectStore { client, bucket: bucket.into() }
    }

    /// Creates the bucket unless it exists (local runtime and tests; SAM creates it in AWS).
    pub async fn create_bucket_if_missing(&self) -> Result<(), ObjectStoreError> {
        if self.client.head_bucket().bucket(&self.bucket).send().await.is_ok() {
            return Ok(());
        }
        match self.client.create_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_bucket_already_owned_by_you() || se.is_bucket_already_exists()) =>
            {
                Ok(())
            }
            Err(e) => Err(backend(e)),
        }
    }
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn start_upload(&self, key: &str) -> Result<String, ObjectStoreError> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/zstd")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await
            .map_err(backend)?;
        out.upload_id.ok_or_else(|| ObjectStoreError::Backend("S3 returned no upload id".into()))
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        data: Bytes,
    ) -> Result<String, ObjectStoreError> {
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number as i32)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(backend)?;
        out.e_tag.ok_or_else(|| ObjectStoreError::Backend(format!("S3 returned no ETag for part {part_number}")))
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<(u32, String)>,
    ) -> Result<(), ObjectStoreError> {
        let parts = parts
            .into_iter()
            .map(|(n, etag)| CompletedPart::builder().part_number(n as i32).e_tag(etag).build())
            .collect::<Vec<_>>();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), ObjectStoreError> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn abort_stale_uploads(&self, key: &str) -> Result<usize, ObjectStoreError> {
        let out =
            self.client.list_multipart_uploads().bucket(&self.bucket).prefix(key).send().await.map_err(backend)?;
        let mut aborted = 0;
        for upload in out.uploads.unwrap_or_default() {
            if let (Some(k), Some(id)) = (upload.key, upload.upload_id) {
                if k == key || (key.ends_with('/') && k.starts_with(key)) {
                    self.abort_upload(&k, &id).await?;
                    aborted += 1;
                }
            }
        }
        Ok(aborted)
    }

    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> Result<(), ObjectStoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<BoxReader, ObjectStoreError> {
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => Ok(Box::pin(out.body.into_async_read())),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => {
                Err(ObjectStoreError::NotFound(key.to_string()))
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn presigned_get(&self, key: &str, expires_in: std::time::Duration) -> Result<String, ObjectStoreError> {
        let config = PresigningConfig::expires_in(expires_in).map_err(|e| ObjectStoreError::Backend(e.to_string()))?;
        let request =
            self.client.get_object().bucket(&self.bucket).key(key).presigned(config).await.map_err(backend)?;
        Ok(request.uri().to_string())
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectStoreError> {
        self.client.delete_object().bucket(&self.bucket).key(key).send().await.map_err(backend)?;
        Ok(())
    }

    async fn put_with_metadata(
        &self,
        key: &str,
        body: Bytes,
        content_type: &str,
        metadata: &[(&str, &str)],
    ) -> Result<(), ObjectStoreError> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(ByteStream::from(body));
        for (k, v) in metadata {
            req = req.metadata(*k, *v);
        }
        req.send().await.map_err(backend)?;
        Ok(())
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectStoreError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => Ok(Some(ObjectInfo {
                key: key.to_string(),
                size: out.content_length.unwrap_or(0).max(0) as u64,
                last_modified: out.last_modified.and_then(to_chrono),
                metadata: out.metadata.unwrap_or_default(),
            })),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    async fn list(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<ObjectInfo>, ObjectStoreError> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_start_after(start_after.map(str::to_string))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(backend)?;
            for o in out.contents.unwrap_or_default() {
                found.push(ObjectInfo {
                    key: o.key.unwrap_or_default(),
                    size: o.size.unwrap_or(0).max(0) as u64,
                    last_modified: o.last_modified.and_then(to_chrono),
                    metadata: Default::default(),
                });
            }
            match out.next_continuation_token {
                Some(t) if out.is_truncated == Some(true) => token = Some(t),
                _ => return Ok(found),
            }
        }
    }
}

fn to_chrono(t: aws_sdk_s3::primitives::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}
