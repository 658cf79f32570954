# Vault policy for agents: read the enrollment token, renew their own token.

path "secret/data/ytcaption-agent" {
  capabilities = ["read"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}
