//! Multipart forms with one file: text fields kept, the file streamed to the uploads
//! folder under its digest, with a size limit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::extract::Multipart;
use axum::http::StatusCode;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;

/// Largest text field.
const TEXT_LIMIT: usize = 64 << 10;

/// A submitted form.
#[derive(Debug, Default)]
pub struct Submitted {
    /// Text fields.
    pub fields: BTreeMap<String, String>,
    /// The uploaded file, when one was chosen: its `file://` reference.
    pub file: Option<String>,
}

/// Why a form could not be read.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The file is over the limit.
    #[error(
        "the file is larger than this host's upload limit of {0} MiB (KILN_CP_UPLOAD_LIMIT_MIB)"
    )]
    TooLarge(u64),
    /// Not a readable multipart body.
    #[error("the form could not be read: {0}")]
    Malformed(String),
    /// The file could not be stored.
    #[error("the upload could not be stored: {0}")]
    Store(String),
}

impl UploadError {
    fn from_multipart(error: &axum::extract::multipart::MultipartError, limit: u64) -> UploadError {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            UploadError::TooLarge(limit >> 20)
        } else {
            UploadError::Malformed(error.body_text())
        }
    }
}

/// Reads `multipart`; the file field `file` goes to `uploads` as `{digest}.{extension}`.
///
/// # Errors
/// See [`UploadError`].
pub async fn read(
    mut multipart: Multipart,
    uploads: &Path,
    extension: &str,
    limit: u64,
) -> Result<Submitted, UploadError> {
    let mut submitted = Submitted::default();
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| UploadError::from_multipart(&e, limit))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            submitted.file = store(&mut field, uploads, extension, limit).await?;
            continue;
        }
        let mut text = Vec::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| UploadError::from_multipart(&e, limit))?
        {
            if text.len() + chunk.len() > TEXT_LIMIT {
                return Err(UploadError::Malformed(format!("field {name} is too long")));
            }
            text.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(text)
            .map_err(|_| UploadError::Malformed(format!("field {name} is not UTF-8")))?;
        submitted.fields.insert(name, text);
    }
    Ok(submitted)
}

/// Streams the file to a temporary name, then renames it to its digest. `None` when no
/// file was chosen.
async fn store(
    field: &mut axum::extract::multipart::Field<'_>,
    uploads: &Path,
    extension: &str,
    limit: u64,
) -> Result<Option<String>, UploadError> {
    let store_error = |e: std::io::Error| UploadError::Store(e.to_string());
    tokio::fs::create_dir_all(uploads)
        .await
        .map_err(store_error)?;
    let partial = uploads.join(format!(".partial-{}", uuid::Uuid::new_v4()));
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(store_error)?;
    let mut digest = Sha256::new();
    let mut size = 0u64;
    let outcome = async {
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| UploadError::from_multipart(&e, limit))?
        {
            size += chunk.len() as u64;
            if size > limit {
                return Err(UploadError::TooLarge(limit >> 20));
            }
            digest.update(&chunk);
            file.write_all(&chunk).await.map_err(store_error)?;
        }
        file.flush().await.map_err(store_error)
    }
    .await;
    if let Err(error) = outcome {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(error);
    }
    if size == 0 {
        let _ = tokio::fs::remove_file(&partial).await;
        return Ok(None);
    }
    let name = format!(
        "{}.{extension}",
        data_encoding::HEXLOWER.encode(&digest.finalize())
    );
    let path: PathBuf = uploads.join(name);
    tokio::fs::rename(&partial, &path)
        .await
        .map_err(store_error)?;
    Ok(Some(format!("file://{}", path.display())))
}
