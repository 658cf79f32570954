# Vault policy for control-plane replicas: read their own KV v2 secret
# (data and version metadata, for rotation pickup), renew and look up their
# own token. Nothing else.

path "secret/data/ytcaption" {
  capabilities = ["read"]
}

path "secret/metadata/ytcaption" {
  capabilities = ["read"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}
