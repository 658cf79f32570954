# An example environment wiring the ytcaption modules together. Copy it,
# set the variables (terraform.tfvars) and the providers' credentials through
# their environment variables (VAULT_TOKEN, CONSUL_HTTP_TOKEN, NOMAD_TOKEN,
# MINIO_USER/MINIO_PASSWORD), then terraform init && terraform apply.

terraform {
  required_version = ">= 1.6"

  required_providers {
    vault = {
      source  = "hashicorp/vault"
      version = "~> 5.0"
    }
    consul = {
      source  = "hashicorp/consul"
      version = "~> 2.21"
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

provider "consul" {
  address    = var.consul_addr
  datacenter = var.datacenter
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
}

module "consul" {
  source       = "../../modules/consul"
  policies_dir = "${local.repo}/policies/consul"
  nomad_addr   = var.nomad_addr
}

module "minio" {
  source = "../../modules/minio"
  bucket = var.bucket
}

module "nomad" {
  source         = "../../modules/nomad"
  policies_dir   = "${local.repo}/policies/nomad"
  jobs_dir       = "${local.repo}/jobs"
  release        = var.release
  artifact_url   = var.artifact_url
  cpu_agents_min = var.cpu_agents_min
  cpu_agents_max = var.cpu_agents_max
  gpu_agents     = var.gpu_agents

  # Jobs log in to Vault and Consul: the auth methods must exist first.
  depends_on = [module.vault, module.consul, module.minio]
}
