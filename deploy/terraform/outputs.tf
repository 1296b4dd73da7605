# What the Kubernetes production overlay (deploy/k8s/production) and the workflows need.
# `terraform output -json | python deploy/k8s/terraform_outputs.py` (make deploy-config)
# turns the ones the overlay consumes into deploy/k8s/production/terraform-outputs.env.

output "cluster_name" {
  value = aws_eks_cluster.main.name
}

output "service_role_arns" {
  description = "eks.amazonaws.com/role-arn of each service account"
  value       = { for name, role in aws_iam_role.service : name => role.arn }
}

output "secret_names" {
  description = "Secrets Manager secret of each service (External Secrets remoteRef key)"
  value       = { for name, secret in aws_secretsmanager_secret.service : name => secret.name }
}

output "database_endpoint" {
  value = aws_db_instance.primary.address
}

output "database_replica_endpoint" {
  value = aws_db_instance.replica.address
}

output "database_master_secret_arn" {
  value = aws_db_instance.primary.master_user_secret[0].secret_arn
}

output "redis_endpoint" {
  value = aws_elasticache_replication_group.redis.primary_endpoint_address
}

output "photos_bucket" {
  description = "LISTINGS_PHOTOS_BUCKET"
  value       = aws_s3_bucket.data["photos"].bucket
}

output "photos_cdn_base_url" {
  description = "LISTINGS_CDN_BASE_URL"
  value       = "https://${aws_cloudfront_distribution.photos.domain_name}"
}

output "pages_distribution_id" {
  description = "LISTINGS_CDN_DISTRIBUTION_ID"
  value       = aws_cloudfront_distribution.pages.id
}

output "recordings_bucket" {
  value = aws_s3_bucket.data["recordings"].bucket
}

output "chime_events_queue_name" {
  description = "MEDIA_EVENTS_QUEUE_NAME"
  value       = aws_sqs_queue.chime_events.name
}

output "image_publisher_role_arn" {
  description = "AWS_IMAGE_PUBLISHER_ROLE_ARN of the images workflow"
  value       = aws_iam_role.image_publisher.arn
}

output "ecr_repositories" {
  value = { for name, repository in aws_ecr_repository.service : name => repository.repository_url }
}

output "recordings_sink_role_arn" {
  description = "MEDIA_RECORDINGS_SINK_ROLE_ARN"
  value       = aws_iam_role.capture_sink.arn
}

output "photos_kms_key_alias" {
  description = "LISTINGS_KMS_KEY_ALIAS"
  value       = aws_kms_alias.photos.name
}

output "recordings_kms_key_arn" {
  description = "MEDIA_RECORDINGS_KMS_KEY"
  value       = aws_kms_key.recordings.arn
}

output "public_certificate_arn" {
  description = "alb.ingress.kubernetes.io/certificate-arn (issued: validated in DNS)"
  value       = aws_acm_certificate_validation.public.certificate_arn
}

output "edge_web_acl_arn" {
  description = "alb.ingress.kubernetes.io/wafv2-acl-arn"
  value       = aws_wafv2_web_acl.edge.arn
}
