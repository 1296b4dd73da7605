# One Secrets Manager secret per service, a JSON object of the environment variables it
# must not read from a ConfigMap; External Secrets copies each into the service's
# Kubernetes Secret. Values made here are random; third-party ones (analytics' Mixpanel
# and GA4 secrets) are written by an operator and kept as they are.

resource "random_password" "redis" {
  length  = 64
  special = false
}

resource "random_password" "signing_key_passphrase" {
  length  = 48
  special = false
}

resource "random_password" "feed_secret" {
  length  = 64
  special = false
}

locals {
  redis_url = "rediss://:${random_password.redis.result}@${aws_elasticache_replication_group.redis.primary_endpoint_address}:6379/0"

  generated_secrets = {
    identity   = { IDENTITY_SIGNING_KEY_PASSPHRASE = random_password.signing_key_passphrase.result }
    listings   = {}
    scheduling = { SCHEDULING_FEED_SECRET = random_password.feed_secret.result }
    media      = {}
    analytics  = {}
    gateway    = { REDIS_URL = local.redis_url }
  }
}

resource "aws_secretsmanager_secret" "service" {
  #checkov:skip=CKV2_AWS_57:Application keys with no rotation Lambda; RUNBOOK.md has the rotation procedure (new value, rolling restart).
  for_each = toset(local.services)

  name                    = "realty/${var.environment}/${each.value}"
  description             = "Environment secrets of the ${each.value} process"
  kms_key_id              = aws_kms_key.platform.arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "service" {
  for_each = toset(local.services)

  secret_id     = aws_secretsmanager_secret.service[each.value].id
  secret_string = jsonencode(local.generated_secrets[each.value])

  # An operator adds the database URL and third-party keys beside the generated values.
  lifecycle {
    ignore_changes = [secret_string]
  }
}
