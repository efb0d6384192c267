//! S3 behind the `ObjectStore` port.

use crate::ports::{BoxReader, ObjectStore, ObjectStoreError};
use async_trait::async_trait;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
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
                if k == key {
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

    async fn delete(&self, key: &str) -> Result<(), ObjectStoreError> {
        self.client.delete_object().bucket(&self.bucket).key(key).send().await.map_err(backend)?;
        Ok(())
    }
}
