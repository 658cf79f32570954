# The dev environment: the ytcaption modules applied to single dev servers
# on one machine (nomad agent -dev, an OpenBao or Vault dev server, MinIO).
# Consul is left out: dev agents reach the control plane directly.
#
# Credentials come from the providers' environment variables: NOMAD_TOKEN,
# VAULT_TOKEN, MINIO_USER and MINIO_PASSWORD. See README.md.

terraform {
  required_version = ">= 1.11"

  required_providers {
    vault = {
      source  = "hashicorp/vault"
      version = "~> 5.0"
    }
    nomad = {
      source  = "hashicorp/nomad"
      version = "~> 2.5"
    }
    minio = {
      source  = "aminueza/minio"
      version = "~> 3.3"
    }
  }
}

provider "vault" {
  address = var.vault_addr
}

provider "nomad" {
  address = var.nomad_addr
}

provider "minio" {
  minio_server = var.minio_server
  minio_ssl    = var.minio_ssl
}

locals {
  repo = "${path.module}/../../.."
}

module "vault" {
  source       = "../../modules/vault"
  policies_dir = "${local.repo}/policies/vault"
  nomad_addr   = var.nomad_addr
  # Dev servers mount KV v2 at secret/ themselves.
  create_kv_mount = false
}

module "minio" {
  source = "../../modules/minio"
  bucket = var.bucket
  user   = var.minio_app_user
}

# The secrets the jobs' templates read. Write-only, so the values stay out
# of the state; raise secrets_version to write new ones.
resource "vault_kv_secret_v2" "control_plane" {
  mount = "secret"
  name  = "ytcaption"
  data_json_wo = jsonencode({
    database_url  = var.database_url
    redis_url     = var.redis_url
    s3_endpoint   = "${var.minio_ssl ? "https" : "http"}://${var.minio_server}"
    s3_bucket     = module.minio.bucket
    s3_access_key = module.minio.access_key
    s3_secret_key = module.minio.secret_key
    admin_key     = var.admin_key
  })
  data_json_wo_version = var.secrets_version
  delete_all_versions  = true

  # The policies name these paths.
  depends_on = [module.vault]
}

resource "vault_kv_secret_v2" "agent" {
  mount = "secret"
  name  = "ytcaption-agent"
  data_json_wo = jsonencode({
    enrollment_token = var.enrollment_token
  })
  data_json_wo_version = var.secrets_version
  delete_all_versions  = true

  depends_on = [module.vault]
}

module "nomad" {
  source           = "../../modules/nomad"
  policies_dir     = "${local.repo}/policies/nomad"
  jobs_dir         = "${local.repo}/jobs"
  release          = var.release
  artifact_url     = var.artifact_url
  replicas         = 1
  cpu_agents_min   = 1
  cpu_agents_max   = var.cpu_agents_max
  purge_on_destroy = true

  # Tasks log in to Vault and render these secrets when they start.
  depends_on = [module.vault, vault_kv_secret_v2.control_plane, vault_kv_secret_v2.agent]
}
