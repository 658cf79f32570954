# Vault policy for operators who rotate ytcaption's secrets.

path "secret/data/ytcaption" {
  capabilities = ["create", "update", "read"]
}

path "secret/data/ytcaption-agent" {
  capabilities = ["create", "update", "read"]
}

path "secret/metadata/ytcaption*" {
  capabilities = ["read", "list"]
}

path "auth/approle/role/ytcaption-control-plane/secret-id" {
  capabilities = ["update"]
}
