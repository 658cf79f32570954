terraform {
  required_version = ">= 1.6"

  required_providers {
    minio = {
      source  = "aminueza/minio"
      version = "~> 3.3"
    }
  }
}

resource "minio_s3_bucket" "ytcaption" {
  bucket         = var.bucket
  acl            = "private"
  object_locking = false
}

# Media (downloads, uploads, extracted audio) is only needed while a job
# runs; captions and transcripts are kept.
resource "minio_ilm_policy" "media" {
  bucket = minio_s3_bucket.ytcaption.bucket

  rule {
    id         = "expire-media"
    status     = "Enabled"
    filter     = "${var.media_prefix}/"
    expiration = "${var.media_retention_days}d"
  }
}

# A user that can only touch this bucket.
resource "minio_iam_user" "ytcaption" {
  name          = var.user
  force_destroy = true
}

resource "minio_iam_policy" "ytcaption" {
  name = "${var.user}-bucket"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
        Resource = ["arn:aws:s3:::${minio_s3_bucket.ytcaption.bucket}"]
      },
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
        Resource = ["arn:aws:s3:::${minio_s3_bucket.ytcaption.bucket}/*"]
      },
    ]
  })
}

resource "minio_iam_user_policy_attachment" "ytcaption" {
  user_name   = minio_iam_user.ytcaption.name
  policy_name = minio_iam_policy.ytcaption.name
}
