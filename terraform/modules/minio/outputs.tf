output "bucket" {
  value = minio_s3_bucket.ytcaption.bucket
}

output "access_key" {
  value = minio_iam_user.ytcaption.name
}

output "secret_key" {
  description = "Store it in Vault (secret/ytcaption s3_secret_key); it is also in the Terraform state, so protect the state."
  value       = minio_iam_user.ytcaption.secret
  sensitive   = true
}
